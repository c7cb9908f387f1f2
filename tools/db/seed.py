"""Demo and synthetic data.

Demo customers come from `tools/demo_customers.json` (also read by external harnesses).
Seeding is idempotent: a customer whose number already exists is left as it is, unless
`reset=True`, which restores that customer's demo state (cards, cases, lockout, balances,
transactions, saved calls), and the case numbering: the next case is numbered as on a fresh
database. Demo transaction dates are relative to the day the demo runs: an existing
customer's transactions move forward to today on every seed (no "today" drifting into
last month on an old `.data/pg`)."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from tools.pin import hash_pin

DEMO_FILE = Path(__file__).resolve().parents[1] / "demo_customers.json"


def load_demo_customers(path: Path = DEMO_FILE) -> list[dict[str, Any]]:
    data: dict[str, Any] = json.loads(path.read_text())
    customers: list[dict[str, Any]] = data["customers"]
    return customers


async def seed_demo(dsn: str, *, reset: bool = False, path: Path = DEMO_FILE) -> list[str]:
    """Insert the demo customers; returns the customer numbers written."""
    conn = await asyncpg.connect(dsn)
    written: list[str] = []
    now = datetime.now(UTC)
    try:
        for spec in load_demo_customers(path):
            async with conn.transaction():
                existing = await conn.fetchval(
                    "SELECT id FROM customers WHERE customer_number = $1", spec["customer_number"]
                )
                if existing is not None and not reset:
                    await _bring_dates_to_today(conn, existing, spec, now)
                    continue
                if existing is not None:
                    await _restore_demo_state(conn, existing, spec, now)
                else:
                    await _insert_customer(conn, spec, now)
                written.append(spec["customer_number"])
        if reset:
            await _restart_case_numbers(conn)
    finally:
        await conn.close()
    return written


async def _bring_dates_to_today(
    conn: asyncpg.Connection, customer_id: int, spec: dict[str, Any], now: datetime
) -> None:
    """Shift the customer's transactions by whole days so the newest one is as many days
    old as in the demo file. Nothing moves when the data is already current."""
    newest = await conn.fetchval(
        "SELECT max(t.occurred_at) FROM transactions t JOIN accounts a ON a.id = t.account_id "
        "WHERE a.customer_id = $1",
        customer_id,
    )
    if newest is None or not spec["transactions"]:
        return
    expected = now.date() - timedelta(days=min(t["days_ago"] for t in spec["transactions"]))
    shift = (expected - newest.astimezone(UTC).date()).days
    if shift <= 0:
        return
    await conn.execute(
        "UPDATE transactions t SET occurred_at = LEAST(occurred_at + make_interval(days => $2),"
        " $3), posted_at = posted_at + make_interval(days => $2) FROM accounts a "
        "WHERE a.id = t.account_id AND a.customer_id = $1",
        customer_id,
        shift,
        now,
    )


async def _restore_demo_state(
    conn: asyncpg.Connection, customer_id: int, spec: dict[str, Any], now: datetime
) -> None:
    """Demo reset: clear the lockout and cases, put cards back to their demo status, and
    restore balances and transactions (dated from today). Card events are append-only and
    stay as history."""
    await conn.execute(
        "UPDATE customers SET failed_pin_attempts = 0, verification_locked_until = NULL "
        "WHERE id = $1",
        customer_id,
    )
    await conn.execute("DELETE FROM cases WHERE customer_id = $1", customer_id)
    # A saved call of this customer would resume with the state from before the reset.
    await conn.execute(
        "DELETE FROM session_checkpoints WHERE (state -> 'principal' ->> 'customer_id')::bigint"
        " = $1",
        customer_id,
    )
    for card in spec["cards"]:
        await conn.execute(
            "UPDATE cards SET status = $3, updated_at = now() "
            "WHERE customer_id = $1 AND last_four = $2",
            customer_id,
            card["last_four"],
            card["status"],
        )
    account_ids: dict[str, int] = {}
    for acc in spec["accounts"]:
        account_ids[acc["key"]] = await conn.fetchval(
            "UPDATE accounts SET ledger_balance_cents = $3, available_balance_cents = $4,"
            " credit_limit_cents = $5 WHERE customer_id = $1 AND number_last_four = $2"
            " RETURNING id",
            customer_id,
            acc["last_four"],
            acc["ledger_cents"],
            acc["available_cents"],
            acc.get("credit_limit_cents"),
        )
    await conn.execute(
        "DELETE FROM transactions WHERE account_id = ANY($1::bigint[])", list(account_ids.values())
    )
    await _insert_transactions(conn, spec, account_ids, now)


async def _restart_case_numbers(conn: asyncpg.Connection) -> None:
    """Case numbers are spoken to callers ("your case number is 1"): after a reset the next
    one continues from the highest case left (none, on a demo-only database), not from
    where the deleted cases had taken the sequence."""
    await conn.execute(
        "SELECT setval(pg_get_serial_sequence('cases', 'id'), "
        "COALESCE((SELECT max(id) FROM cases), 0) + 1, false)"
    )


async def _insert_customer(conn: asyncpg.Connection, spec: dict[str, Any], now: datetime) -> None:
    customer_id = await conn.fetchval(
        "INSERT INTO customers (customer_number, full_name, phone_e164, pin_hash) "
        "VALUES ($1, $2, $3, $4) RETURNING id",
        spec["customer_number"],
        spec["name"],
        spec["phone"],
        hash_pin(spec["pin"]),
    )
    account_ids: dict[str, int] = {}
    for acc in spec["accounts"]:
        account_ids[acc["key"]] = await conn.fetchval(
            "INSERT INTO accounts (customer_id, kind, nickname, number_last_four,"
            " ledger_balance_cents, available_balance_cents, credit_limit_cents)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            customer_id,
            acc["kind"],
            acc["nickname"],
            acc["last_four"],
            acc["ledger_cents"],
            acc["available_cents"],
            acc.get("credit_limit_cents"),
        )
    for card in spec["cards"]:
        await conn.execute(
            "INSERT INTO cards (customer_id, account_id, last_four, network, kind, status)"
            " VALUES ($1, $2, $3, $4, $5, $6)",
            customer_id,
            account_ids[card["account"]],
            card["last_four"],
            card["network"],
            card["kind"],
            card["status"],
        )
    await _insert_transactions(conn, spec, account_ids, now)


async def _insert_transactions(
    conn: asyncpg.Connection, spec: dict[str, Any], account_ids: dict[str, int], now: datetime
) -> None:
    today = now.date()
    for txn in spec["transactions"]:
        hh, mm = (int(x) for x in txn["time"].split(":"))
        occurred = datetime.combine(today - timedelta(days=txn["days_ago"]), time(hh, mm), UTC)
        if occurred > now:  # "today at 14:00" seeded at 09:00 would be in the future
            occurred = now - timedelta(minutes=5)
        await conn.execute(
            "INSERT INTO transactions (account_id, amount_cents, merchant, category, status,"
            " occurred_at, posted_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            account_ids[txn["account"]],
            txn["amount_cents"],
            txn["merchant"],
            txn["category"],
            txn["status"],
            occurred,
            occurred if txn["status"] == "posted" else None,
        )


_MERCHANTS = [
    ("Uber", "transport"),
    ("Lyft", "transport"),
    ("Amazon", "shopping"),
    ("Target", "shopping"),
    ("Whole Foods Market", "groceries"),
    ("Trader Joe's", "groceries"),
    ("Shell", "fuel"),
    ("Chevron", "fuel"),
    ("Netflix", "subscriptions"),
    ("Spotify", "subscriptions"),
    ("Starbucks", "dining"),
    ("Chipotle", "dining"),
    ("Delta Air Lines", "travel"),
    ("Hilton Hotels", "travel"),
    ("PG&E", "utilities"),
    ("Comcast", "utilities"),
]


async def seed_synthetic(
    dsn: str, customers: int, *, transactions_per_customer: int = 50, seed: int = 7
) -> int:
    """Generate a large bank with COPY. Customer numbers start at 500000 so they never
    collide with demo customers. All synthetic customers share PIN 0000 (one hash: hashing
    100k PINs would dominate the load time and buys nothing for benchmarks)."""
    rng = random.Random(seed)
    pin_hash = hash_pin("0000")
    now = datetime.now(UTC)
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            base = (
                int(
                    await conn.fetchval(
                        "SELECT COALESCE(max(customer_number::bigint), 499999) FROM customers "
                        "WHERE customer_number ~ '^[0-9]+$' AND customer_number::bigint >= 500000"
                    )
                )
                + 1
            )
            first_id = await conn.fetchval("SELECT COALESCE(max(id), 0) + 1 FROM customers")
            await conn.copy_records_to_table(
                "customers",
                columns=["customer_number", "full_name", "phone_e164", "pin_hash"],
                records=(
                    (str(base + i), f"Synthetic Customer {base + i}", None, pin_hash)
                    for i in range(customers)
                ),
            )
            ids = [
                r["id"]
                for r in await conn.fetch(
                    "SELECT id FROM customers WHERE id >= $1 ORDER BY id", first_id
                )
            ]
            await conn.copy_records_to_table(
                "accounts",
                columns=[
                    "customer_id",
                    "kind",
                    "nickname",
                    "number_last_four",
                    "ledger_balance_cents",
                    "available_balance_cents",
                ],
                records=(
                    (
                        cid,
                        "checking",
                        "Checking",
                        f"{cid % 10000:04d}",
                        b := rng.randint(0, 10**7),
                        b,
                    )
                    for cid in ids
                ),
            )
            accounts = await conn.fetch(
                "SELECT id, customer_id FROM accounts WHERE customer_id >= $1", first_id
            )
            await conn.copy_records_to_table(
                "cards",
                columns=["customer_id", "account_id", "last_four", "network", "kind", "status"],
                records=(
                    (
                        a["customer_id"],
                        a["id"],
                        f"{rng.randint(0, 9999):04d}",
                        "visa",
                        "debit",
                        "active",
                    )
                    for a in accounts
                ),
            )

            def txns() -> Any:
                for a in accounts:
                    for _ in range(transactions_per_customer):
                        merchant, category = rng.choice(_MERCHANTS)
                        at = now - timedelta(minutes=rng.randint(0, 60 * 24 * 365))
                        yield (
                            a["id"],
                            -rng.randint(100, 50000),
                            merchant,
                            category,
                            "posted",
                            at,
                            at,
                        )

            await conn.copy_records_to_table(
                "transactions",
                columns=[
                    "account_id",
                    "amount_cents",
                    "merchant",
                    "category",
                    "status",
                    "occurred_at",
                    "posted_at",
                ],
                records=txns(),
            )
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    return customers
