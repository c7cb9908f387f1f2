"""`Database`: one asyncpg pool per process, shared by every tool of every session.

Query functions return typed dataclasses. Reads and idempotency-keyed writes retry transient
faults (server restart, dropped connection) with bounded jittered back-off; everything else
surfaces as `NotFound` or `DatabaseUnavailable`."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import asyncpg

from tools.pin import DUMMY_HASH, check_pin, is_well_formed_pin

from .errors import DatabaseUnavailable, InvalidArgument, NotFound
from .models import (
    Account,
    Card,
    CardActionResult,
    CardChange,
    CardStatus,
    Case,
    CaseKind,
    Customer,
    Transaction,
    VerificationResult,
    VerificationStatus,
)
from .retry import is_transient, with_retry

logger = logging.getLogger("bank.db")
T = TypeVar("T")

MAX_PIN_FAILURES = 3
LOCKOUT = timedelta(minutes=15)
APP_ROLE = "bank_app"

_ACCOUNT_COLUMNS = """
    a.id, a.customer_id, a.kind, a.nickname, a.number_last_four, a.ledger_balance_cents,
    a.available_balance_cents, a.credit_limit_cents,
    COALESCE((SELECT sum(t.amount_cents) FROM transactions t
              WHERE t.account_id = a.id AND t.status = 'pending'), 0)::bigint AS pending_cents
"""
_CARD_COLUMNS = "c.id, c.account_id, c.last_four, c.network, c.kind, c.status"

BIGINT_MAX = 2**63 - 1

_AUDIT_COLUMNS = (
    "session_id", "seq", "from_agent", "to_agent", "reason", "intent", "assurance",
    "context_policy", "outcome", "rejection_reason", "duration_ms",
)
# Audit rows (column arrays, any number, possibly none) plus an optional checkpoint upsert
# ($12 NULL: none) as one statement: a single implicit transaction, a single round trip.
# (Data-modifying CTEs always run to completion, whether or not the outer query reads them.)
_AUDIT_AND_CHECKPOINT_SQL = """
    WITH audit AS (
        INSERT INTO handoff_audit (session_id, seq, from_agent, to_agent, reason, intent,
                                   assurance, context_policy, outcome, rejection_reason,
                                   duration_ms)
        SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::text[],
                             $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
                             $11::float8[])
        ON CONFLICT (session_id, seq) DO NOTHING
    ), checkpoint AS (
        INSERT INTO session_checkpoints (room_name, session_id, state)
        SELECT $12::text, $13::text, $14::jsonb WHERE $12::text IS NOT NULL
        ON CONFLICT (room_name) DO UPDATE
        SET session_id = EXCLUDED.session_id, state = EXCLUDED.state, updated_at = now()
    )
    SELECT 1
"""


def is_valid_id(value: object) -> bool:
    """Could `value` be a row id? Ids are positive bigints (identity columns); anything else
    (0, negatives, values past int64 that asyncpg cannot even encode) names no row."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= BIGINT_MAX


def _customer(row: asyncpg.Record) -> Customer:
    return Customer(row["id"], row["customer_number"], row["full_name"], row["phone_e164"])


def _card(row: asyncpg.Record) -> Card:
    return Card(
        row["id"], row["account_id"], row["last_four"], row["network"], row["kind"], row["status"]
    )


def _transaction(row: asyncpg.Record) -> Transaction:
    return Transaction(
        id=row["id"],
        account_id=row["account_id"],
        account_kind=row["kind"],
        amount_cents=row["amount_cents"],
        merchant=row["merchant"],
        category=row["category"],
        status=row["status"],
        occurred_at=row["occurred_at"],
    )


class Database:
    def __init__(self, pool: asyncpg.Pool, *, retry_budget_s: float) -> None:
        self._pool = pool
        self._retry_budget_s = retry_budget_s

    @classmethod
    async def connect(
        cls,
        dsn: str,
        *,
        min_size: int = 1,
        max_size: int = 10,
        statement_timeout_ms: int = 3000,
        acquire_timeout_s: float = 2.0,
        retry_budget_s: float = 4.0,
        use_app_role: bool = True,
    ) -> Database:
        """Open the shared pool. Runs as the restricted `bank_app` role when the login role
        may assume it, so audit tables are append-only for the application itself."""
        settings = {"statement_timeout": str(statement_timeout_ms), "application_name": "bank"}
        if use_app_role and await _may_assume_app_role(dsn):
            settings["role"] = APP_ROLE
        try:
            pool = await asyncpg.create_pool(
                dsn, min_size=min_size, max_size=max_size, server_settings=settings
            )
        except (OSError, asyncpg.PostgresError) as exc:
            raise DatabaseUnavailable("could not connect to the bank database") from exc
        db = cls(pool, retry_budget_s=retry_budget_s)
        db._acquire_timeout_s = acquire_timeout_s
        return db

    _acquire_timeout_s: float = 2.0

    async def close(self) -> None:
        await self._pool.close()

    @property
    def pool(self) -> asyncpg.Pool:
        return self._pool

    # -- plumbing ---------------------------------------------------------------------------

    async def _run(
        self, fn: Callable[[Any], Awaitable[T]], *, retry: bool = True
    ) -> T:
        async def attempt() -> T:
            try:
                async with self._pool.acquire(timeout=self._acquire_timeout_s) as conn:
                    return await fn(conn)
            except asyncpg.exceptions.QueryCanceledError as exc:
                raise DatabaseUnavailable("the bank database timed out") from exc
            except asyncpg.exceptions.DataError as exc:  # SQLSTATE 22: a value out of range
                raise InvalidArgument("invalid query argument") from exc
            except asyncpg.exceptions.InterfaceError as exc:
                if isinstance(exc, ValueError):  # asyncpg's client-side argument encoding error
                    raise InvalidArgument("invalid query argument") from exc
                raise

        if retry:
            return await with_retry(attempt, budget_s=self._retry_budget_s)
        try:
            return await attempt()
        except Exception as exc:
            if is_transient(exc):
                raise DatabaseUnavailable("the bank database is unreachable") from exc
            raise

    async def ping(self) -> int:
        return await self._run(lambda conn: conn.fetchval("SELECT 1"))  # type: ignore[no-any-return]

    # -- customers & verification -------------------------------------------------------------

    async def customer_by_id(self, customer_id: int) -> Customer:
        if not is_valid_id(customer_id):
            raise NotFound("no such customer")
        row = await self._run(
            lambda c: c.fetchrow("SELECT * FROM customers WHERE id = $1", customer_id)
        )
        if row is None:
            raise NotFound("no such customer")
        return _customer(row)

    async def customer_by_number(self, customer_number: str) -> Customer:
        row = await self._run(
            lambda c: c.fetchrow(
                "SELECT * FROM customers WHERE customer_number = $1", customer_number
            )
        )
        if row is None:
            raise NotFound("no such customer")
        return _customer(row)

    async def customer_by_phone(self, phone_e164: str) -> Customer | None:
        """Caller-id lookup. Returns None when zero or several customers share the number."""
        rows = await self._run(
            lambda c: c.fetch("SELECT * FROM customers WHERE phone_e164 = $1 LIMIT 2", phone_e164)
        )
        return _customer(rows[0]) if len(rows) == 1 else None

    async def verify_pin(
        self, customer_number: str, pin: str, *, now: datetime | None = None
    ) -> VerificationResult:
        """Check a PIN in code (constant-time) and apply the persisted lockout:
        3 failures lock verification for 15 minutes. Not retried: a failure counter
        is not idempotent, so a connection fault surfaces as DatabaseUnavailable."""
        if not (customer_number.isascii() and customer_number.isdigit()):
            await asyncio.to_thread(check_pin, "0000", DUMMY_HASH)
            return VerificationResult(VerificationStatus.UNKNOWN_CUSTOMER)

        async def txn(conn: asyncpg.Connection) -> VerificationResult:
            async with conn.transaction():
                row = await conn.fetchrow(
                    "SELECT *, now() AS db_now FROM customers WHERE customer_number = $1 "
                    "FOR UPDATE",
                    customer_number,
                )
                if row is None:
                    await asyncio.to_thread(check_pin, "0000", DUMMY_HASH)
                    return VerificationResult(VerificationStatus.UNKNOWN_CUSTOMER)
                current = now or row["db_now"]
                locked_until = row["verification_locked_until"]
                if locked_until is not None and locked_until > current:
                    return VerificationResult(
                        VerificationStatus.LOCKED, locked_until=locked_until, attempts_left=0
                    )
                ok = is_well_formed_pin(pin) and await asyncio.to_thread(
                    check_pin, pin, row["pin_hash"]
                )
                if ok:
                    await conn.execute(
                        "UPDATE customers SET failed_pin_attempts = 0, "
                        "verification_locked_until = NULL WHERE id = $1",
                        row["id"],
                    )
                    return VerificationResult(VerificationStatus.VERIFIED, _customer(row))
                # An expired lock starts a fresh count.
                failures = 0 if locked_until is not None else row["failed_pin_attempts"]
                failures += 1
                if failures >= MAX_PIN_FAILURES:
                    until = current + LOCKOUT
                    await conn.execute(
                        "UPDATE customers SET failed_pin_attempts = $2, "
                        "verification_locked_until = $3 WHERE id = $1",
                        row["id"],
                        failures,
                        until,
                    )
                    return VerificationResult(
                        VerificationStatus.LOCKED, locked_until=until, attempts_left=0
                    )
                await conn.execute(
                    "UPDATE customers SET failed_pin_attempts = $2, "
                    "verification_locked_until = NULL WHERE id = $1",
                    row["id"],
                    failures,
                )
                return VerificationResult(
                    VerificationStatus.WRONG_PIN, attempts_left=MAX_PIN_FAILURES - failures
                )

        return await self._run(txn, retry=False)

    # -- accounts & transactions ----------------------------------------------------------------

    async def accounts(self, customer_id: int) -> list[Account]:
        rows = await self._run(
            lambda c: c.fetch(
                f"SELECT {_ACCOUNT_COLUMNS} FROM accounts a WHERE a.customer_id = $1 "
                "ORDER BY CASE a.kind WHEN 'checking' THEN 0 WHEN 'savings' THEN 1 ELSE 2 END,"
                " a.id",
                customer_id,
            )
        )
        return [
            Account(
                id=r["id"],
                customer_id=r["customer_id"],
                kind=r["kind"],
                nickname=r["nickname"],
                number_last_four=r["number_last_four"],
                ledger_balance_cents=r["ledger_balance_cents"],
                available_balance_cents=r["available_balance_cents"],
                credit_limit_cents=r["credit_limit_cents"],
                pending_cents=r["pending_cents"],
            )
            for r in rows
        ]

    async def transactions(
        self,
        customer_id: int,
        *,
        account_kind: str | None = None,
        limit: int = 3,
        days_back: int | None = None,
        merchant: str | None = None,
        min_amount_cents: int | None = None,
        now: datetime | None = None,
    ) -> list[Transaction]:
        """Latest transactions of one customer, newest first, with optional filters.
        `min_amount_cents` compares the absolute amount (a charge of $60 is "over $50")."""
        since = (now or datetime.now(UTC)) - timedelta(days=days_back) if days_back else None
        pattern = f"%{_escape_like(merchant.lower())}%" if merchant else None
        sql = """
            SELECT t.id, t.account_id, a.kind, t.amount_cents, t.merchant, t.category,
                   t.status, t.occurred_at
            FROM accounts a
            CROSS JOIN LATERAL (
                SELECT * FROM transactions t
                WHERE t.account_id = a.id
                  AND ($3::timestamptz IS NULL OR t.occurred_at >= $3)
                  AND ($4::text IS NULL OR lower(t.merchant) LIKE $4)
                  AND ($5::bigint IS NULL OR abs(t.amount_cents) >= $5)
                ORDER BY t.occurred_at DESC, t.id DESC
                LIMIT $6
            ) t
            WHERE a.customer_id = $1 AND ($2::text IS NULL OR a.kind = $2)
            ORDER BY t.occurred_at DESC, t.id DESC
            LIMIT $6
        """
        rows = await self._run(
            lambda c: c.fetch(
                sql, customer_id, account_kind, since, pattern, min_amount_cents, limit
            )
        )
        return [_transaction(r) for r in rows]

    async def transaction_for_customer(self, customer_id: int, transaction_id: int) -> Transaction:
        if not (is_valid_id(customer_id) and is_valid_id(transaction_id)):
            raise NotFound("no such transaction for this customer")
        row = await self._run(
            lambda c: c.fetchrow(
                "SELECT t.id, t.account_id, a.kind, t.amount_cents, t.merchant, t.category, "
                "t.status, t.occurred_at FROM transactions t "
                "JOIN accounts a ON a.id = t.account_id "
                "WHERE t.id = $2 AND a.customer_id = $1",
                customer_id,
                transaction_id,
            )
        )
        if row is None:
            raise NotFound("no such transaction for this customer")
        return _transaction(row)

    # -- cards ------------------------------------------------------------------------------------

    async def cards(self, customer_id: int) -> list[Card]:
        rows = await self._run(
            lambda c: c.fetch(
                f"SELECT {_CARD_COLUMNS} FROM cards c WHERE c.customer_id = $1 ORDER BY c.id",
                customer_id,
            )
        )
        return [_card(r) for r in rows]

    async def card_for_account(self, customer_id: int, account_id: int) -> Card | None:
        if not (is_valid_id(customer_id) and is_valid_id(account_id)):
            return None
        rows = await self._run(
            lambda c: c.fetch(
                f"SELECT {_CARD_COLUMNS} FROM cards c WHERE c.customer_id = $1 "
                "AND c.account_id = $2 ORDER BY (c.status = 'active') DESC, c.id LIMIT 1",
                customer_id,
                account_id,
            )
        )
        return _card(rows[0]) if rows else None

    async def set_card_status(
        self,
        customer_id: int,
        card_id: int,
        to_status: CardStatus,
        *,
        reason: str,
        actor: str,
        idempotency_key: str,
    ) -> CardActionResult:
        """Move a card to `to_status` and append a card event, exactly once per key.

        Re-running with the same key (e.g. after a dropped connection) writes nothing new.
        A card already in the target state writes nothing. Lost/stolen cards stay blocked."""
        if not (is_valid_id(customer_id) and is_valid_id(card_id)):
            raise NotFound("no such card for this customer")

        async def txn(conn: asyncpg.Connection) -> CardActionResult:
            async with conn.transaction():
                row = await conn.fetchrow(
                    f"SELECT {_CARD_COLUMNS} FROM cards c WHERE c.id = $1 AND c.customer_id = $2 "
                    "FOR UPDATE",
                    card_id,
                    customer_id,
                )
                if row is None:
                    raise NotFound("no such card for this customer")
                card = _card(row)
                seen = await conn.fetchrow(
                    "SELECT from_status FROM card_events WHERE idempotency_key = $1 "
                    "AND card_id = $2",
                    idempotency_key,
                    card_id,
                )
                if seen is not None:
                    return CardActionResult(card, CardChange.REPLAYED, seen["from_status"])
                if card.status == to_status:
                    return CardActionResult(card, CardChange.ALREADY, card.status)
                if card.status in ("lost", "stolen") and to_status in ("active", "locked"):
                    return CardActionResult(card, CardChange.NOT_ALLOWED, card.status)
                await conn.execute(
                    "UPDATE cards SET status = $2, updated_at = now() WHERE id = $1",
                    card_id,
                    to_status,
                )
                await conn.execute(
                    "INSERT INTO card_events (card_id, customer_id, from_status, to_status, reason,"
                    " actor, idempotency_key) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    card_id,
                    customer_id,
                    card.status,
                    to_status,
                    reason,
                    actor,
                    idempotency_key,
                )
                updated = Card(
                    card.id, card.account_id, card.last_four, card.network, card.kind, to_status
                )
                return CardActionResult(updated, CardChange.CHANGED, card.status)

        return await self._run(txn)

    async def card_events(self, card_id: int) -> list[dict[str, Any]]:
        rows = await self._run(
            lambda c: c.fetch(
                "SELECT from_status, to_status, reason, actor, idempotency_key, created_at "
                "FROM card_events WHERE card_id = $1 ORDER BY id",
                card_id,
            )
        )
        return [dict(r) for r in rows]

    # -- cases ------------------------------------------------------------------------------------

    async def open_case(
        self,
        customer_id: int,
        kind: CaseKind,
        *,
        summary: str,
        idempotency_key: str,
        card_id: int | None = None,
        transaction_id: int | None = None,
    ) -> Case:
        """Open a case once. A replayed key, or a second open dispute for the same
        transaction, returns the existing case with `created=False`."""

        async def txn(conn: asyncpg.Connection) -> Case:
            async with conn.transaction():
                existing = await conn.fetchrow(
                    "SELECT * FROM cases WHERE customer_id = $1 AND (idempotency_key = $2 OR "
                    "(kind = 'dispute' AND $3 = 'dispute' AND status = 'open' "
                    "AND transaction_id = $4))",
                    customer_id,
                    idempotency_key,
                    kind,
                    transaction_id,
                )
                if existing is not None:
                    return _case(existing, created=False)
                row = await conn.fetchrow(
                    "INSERT INTO cases (customer_id, kind, card_id, transaction_id, summary, "
                    "idempotency_key) VALUES ($1, $2, $3, $4, $5, $6) RETURNING *",
                    customer_id,
                    kind,
                    card_id,
                    transaction_id,
                    summary,
                    idempotency_key,
                )
                assert row is not None  # INSERT ... RETURNING always yields the row
                return _case(row, created=True)

        return await self._run(txn)

    async def cases(self, customer_id: int) -> list[Case]:
        rows = await self._run(
            lambda c: c.fetch("SELECT * FROM cases WHERE customer_id = $1 ORDER BY id", customer_id)
        )
        return [_case(r, created=False) for r in rows]

    # -- audit & checkpoints --------------------------------------------------------------------

    async def append_handoff_audit(
        self, rows: Sequence[dict[str, Any]], *, checkpoint: Any = None
    ) -> None:
        """Append audit rows and, optionally, upsert the session checkpoint (anything with
        `room_name`, `session_id` and `state_json`), in ONE statement: one round trip, one
        transaction. (session_id, seq) is unique so a retried batch is a no-op."""
        columns: list[list[Any]] = [[r[name] for r in rows] for name in _AUDIT_COLUMNS]
        if checkpoint is None:
            args: tuple[Any, ...] = (*columns, None, None, None)
        else:
            args = (*columns, checkpoint.room_name, checkpoint.session_id, checkpoint.state_json)
        await self._run(lambda c: c.execute(_AUDIT_AND_CHECKPOINT_SQL, *args))

    async def handoff_audit(self, session_id: str) -> list[dict[str, Any]]:
        rows = await self._run(
            lambda c: c.fetch(
                "SELECT * FROM handoff_audit WHERE session_id = $1 ORDER BY seq", session_id
            )
        )
        return [dict(r) for r in rows]

    async def record_security_event(
        self, *, session_id: str, customer_id: int | None, kind: str, detail: str, channel: str
    ) -> None:
        await self._run(
            lambda c: c.execute(
                "INSERT INTO security_events (session_id, customer_id, kind, detail, channel) "
                "VALUES ($1, $2, $3, $4, $5)",
                session_id,
                customer_id,
                kind,
                detail,
                channel,
            ),
            retry=False,
        )

    async def security_events(self, session_id: str) -> list[dict[str, Any]]:
        rows = await self._run(
            lambda c: c.fetch(
                "SELECT * FROM security_events WHERE session_id = $1 ORDER BY id", session_id
            )
        )
        return [dict(r) for r in rows]

    async def save_checkpoint(self, room_name: str, session_id: str, state: dict[str, Any]) -> None:
        await self._run(
            lambda c: c.execute(
                "INSERT INTO session_checkpoints (room_name, session_id, state) "
                "VALUES ($1, $2, $3::jsonb) ON CONFLICT (room_name) DO UPDATE "
                "SET session_id = EXCLUDED.session_id, state = EXCLUDED.state, updated_at = now()",
                room_name,
                session_id,
                json.dumps(state),
            )
        )

    async def load_checkpoint(self, room_name: str) -> dict[str, Any] | None:
        raw = await self._run(
            lambda c: c.fetchval(
                "SELECT state FROM session_checkpoints WHERE room_name = $1", room_name
            )
        )
        return json.loads(raw) if raw is not None else None


def _case(row: asyncpg.Record, *, created: bool) -> Case:
    return Case(
        id=row["id"],
        kind=row["kind"],
        status=row["status"],
        card_id=row["card_id"],
        transaction_id=row["transaction_id"],
        summary=row["summary"],
        created=created,
    )


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def _may_assume_app_role(dsn: str) -> bool:
    try:
        conn = await asyncpg.connect(dsn)
    except (OSError, asyncpg.PostgresError) as exc:
        raise DatabaseUnavailable("could not connect to the bank database") from exc
    try:
        return bool(
            await conn.fetchval(
                "SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1) "
                "THEN pg_has_role(current_user, $1, 'MEMBER') ELSE false END",
                APP_ROLE,
            )
        )
    finally:
        await conn.close()
