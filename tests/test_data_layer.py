"""The data layer against a real (embedded) Postgres."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import pytest

from tools.db import (
    BIGINT_MAX,
    CardChange,
    Database,
    DatabaseUnavailable,
    EmbeddedPostgres,
    InvalidArgument,
    NotFound,
    VerificationStatus,
    migrate,
    seed_demo,
)
from tools.db.retry import is_transient, with_retry
from tools.money import format_cents, speak_amounts, speak_cents, spoken_amounts


async def test_migrations_apply_from_zero_and_are_idempotent(pg_server: EmbeddedPostgres) -> None:
    admin = await asyncpg.connect(pg_server.dsn)
    await admin.execute("DROP DATABASE IF EXISTS fresh_migrations")
    await admin.execute("CREATE DATABASE fresh_migrations")
    await admin.close()
    dsn = pg_server.dsn_for("fresh_migrations")
    first = await migrate(dsn)
    assert first == [
        "001_bank_core",
        "002_audit",
        "003_app_role",
        "004_session_checkpoints",
        "005_unknown_number_lockout",
        "006_app_login",
    ]
    assert await migrate(dsn) == []
    assert await seed_demo(dsn) == ["1001", "1002", "1003", "1004"]
    assert await seed_demo(dsn) == []  # idempotent: nothing written twice
    conn = await asyncpg.connect(dsn)
    assert await conn.fetchval("SELECT count(*) FROM customers") == 4
    await conn.close()


async def test_customer_lookup(db: Database) -> None:
    alice = await db.customer_by_number("1001")
    assert alice.full_name == "Alice Carter"
    assert (await db.customer_by_phone("+14155550101")) == alice
    assert await db.customer_by_phone("+19999999999") is None
    with pytest.raises(NotFound):
        await db.customer_by_number("9999")


async def test_accounts_have_integer_cent_balances(db: Database) -> None:
    alice = await db.customer_by_number("1001")
    accounts = await db.accounts(alice.id)
    assert [a.kind for a in accounts] == ["checking", "savings", "credit_card"]
    checking, _, credit = accounts
    assert checking.ledger_balance_cents == 452012
    assert checking.available_balance_cents == 445812
    assert checking.pending_cents == -6200
    assert credit.available_credit_cents == 415450
    assert all(isinstance(a.ledger_balance_cents, int) for a in accounts)


async def test_transactions_latest_and_filters(db: Database) -> None:
    alice = await db.customer_by_number("1001")
    latest = await db.transactions(alice.id)
    assert len(latest) == 3
    assert [t.occurred_at for t in latest] == sorted((t.occurred_at for t in latest), reverse=True)
    uber = await db.transactions(alice.id, merchant="uber", limit=10)
    assert [t.merchant for t in uber] == ["Uber"]
    chloe = await db.customer_by_number("1003")
    for said in ("trader joes", "Trader Joe's", "trader joe\u2019s"):  # as said or typed
        found = await db.transactions(chloe.id, merchant=said, limit=10)
        assert [t.merchant for t in found] == ["Trader Joe's"], said
    # A minimum is on charges (money out): the $3,250 payroll deposit is not "over $1,000".
    big = await db.transactions(alice.id, min_charge_cents=100000, limit=10)
    assert [(t.merchant, t.amount_cents) for t in big] == [("Parkside Apartments", -185000)]
    assert [t.merchant for t in await db.transactions(alice.id, min_charge_cents=0, limit=20)] == [
        t.merchant for t in await db.transactions(alice.id, limit=20) if t.amount_cents < 0
    ]
    credit = await db.transactions(alice.id, account_kind="credit_card", limit=10)
    assert {t.account_kind for t in credit} == {"credit_card"}
    recent = await db.transactions(alice.id, days_back=4, limit=20)
    assert "Netflix" not in {t.merchant for t in recent}
    # LIKE wildcards in user text are literals, not patterns.
    assert await db.transactions(alice.id, merchant="%", limit=10) == []


async def test_transactions_never_cross_customers(db: Database) -> None:
    alice = await db.customer_by_number("1001")
    ben = await db.customer_by_number("1002")
    ben_txn = (await db.transactions(ben.id, limit=1))[0]
    with pytest.raises(NotFound):
        await db.transaction_for_customer(alice.id, ben_txn.id)
    ben_card = (await db.cards(ben.id))[0]
    with pytest.raises(NotFound):
        await db.set_card_status(
            alice.id, ben_card.id, "locked", reason="x", actor="test", idempotency_key="k-x"
        )


async def test_lock_card_twice_with_same_key_writes_one_event(db: Database) -> None:
    alice = await db.customer_by_number("1001")
    card = (await db.cards(alice.id))[0]
    first = await db.set_card_status(
        alice.id, card.id, "locked", reason="caller request", actor="test", idempotency_key="k1"
    )
    again = await db.set_card_status(
        alice.id, card.id, "locked", reason="caller request", actor="test", idempotency_key="k1"
    )
    other_key = await db.set_card_status(
        alice.id, card.id, "locked", reason="caller request", actor="test", idempotency_key="k2"
    )
    assert first.change is CardChange.CHANGED and first.card.status == "locked"
    assert again.change is CardChange.REPLAYED
    assert other_key.change is CardChange.ALREADY
    assert len(await db.card_events(card.id)) == 1


async def test_card_status_write_is_one_statement_and_all_or_nothing(db: Database) -> None:
    """Status, event and outcome come from one statement: concurrent writers of one card
    serialise on the row lock, so exactly one changes it and writes one event; the others
    see the committed status and write nothing, with the same key or another."""
    import asyncio

    alice = await db.customer_by_number("1001")
    card = (await db.cards(alice.id))[0]
    results = await asyncio.gather(
        *(
            db.set_card_status(
                alice.id, card.id, "locked", reason="r", actor="t", idempotency_key=key
            )
            for key in ("race-1", "race-1", "race-2", "race-3")
        )
    )
    changes = sorted(r.change.value for r in results)
    assert changes.count(CardChange.CHANGED.value) == 1, changes
    assert all(r.card.status == "locked" for r in results)
    events = await db.card_events(card.id)
    assert [(e["from_status"], e["to_status"]) for e in events] == [("active", "locked")]
    # A later replay of the key that wrote reports the original transition.
    winner = events[0]["idempotency_key"]
    replay = await db.set_card_status(
        alice.id, card.id, "locked", reason="r", actor="t", idempotency_key=winner
    )
    assert replay.change is CardChange.REPLAYED and replay.previous_status == "active"


async def test_lost_card_cannot_be_unlocked(db: Database) -> None:
    alice = await db.customer_by_number("1001")
    card = (await db.cards(alice.id))[0]
    await db.set_card_status(alice.id, card.id, "lost", reason="r", actor="t", idempotency_key="a")
    result = await db.set_card_status(
        alice.id, card.id, "active", reason="r", actor="t", idempotency_key="b"
    )
    assert result.change is CardChange.NOT_ALLOWED and result.card.status == "lost"


async def test_pin_check_locks_after_three_failures_and_persists(db: Database, dsn: str) -> None:
    assert (await db.verify_pin("1002", "0000")).status is VerificationStatus.WRONG_PIN
    second = await db.verify_pin("1002", "1111")
    assert second.status is VerificationStatus.WRONG_PIN and second.attempts_left == 1
    third = await db.verify_pin("1002", "2222")
    assert third.status is VerificationStatus.LOCKED
    # Even the right PIN is refused while locked, from a brand-new pool (persisted, not memory).
    other = await Database.connect(dsn)
    try:
        locked = await other.verify_pin("1002", "5678")
        assert locked.status is VerificationStatus.LOCKED
        assert locked.locked_until is not None
        # After 15 minutes the right PIN works again.
        later = locked.locked_until + timedelta(seconds=1)
        ok = await other.verify_pin("1002", "5678", now=later)
        assert ok.status is VerificationStatus.VERIFIED and ok.customer is not None
    finally:
        await other.close()


async def test_pin_check_right_pin_resets_counter(db: Database) -> None:
    await db.verify_pin("1001", "9999")
    assert (await db.verify_pin("1001", "1234")).status is VerificationStatus.VERIFIED
    assert (await db.verify_pin("1001", "9999")).attempts_left == 2


async def test_unknown_or_malformed_customer_number(db: Database) -> None:
    assert (await db.verify_pin("424242", "1234")).status is VerificationStatus.UNKNOWN_CUSTOMER
    assert (await db.verify_pin("1001'; DROP TABLE x", "1")).status is (
        VerificationStatus.UNKNOWN_CUSTOMER
    )


async def test_cases_are_idempotent(db: Database) -> None:
    ben = await db.customer_by_number("1002")
    txn = (await db.transactions(ben.id, limit=1))[0]
    first = await db.open_case(
        ben.id, "dispute", summary="not mine", idempotency_key="d1", transaction_id=txn.id
    )
    dup = await db.open_case(
        ben.id, "dispute", summary="not mine", idempotency_key="d2", transaction_id=txn.id
    )
    assert first.created and not dup.created and dup.id == first.id
    assert len(await db.cases(ben.id)) == 1


async def test_audit_tables_are_append_only(db: Database, dsn: str) -> None:
    await db.append_handoff_audit(
        [
            {
                "session_id": "s1",
                "seq": 1,
                "from_agent": "greeter",
                "to_agent": "balance",
                "reason": "r",
                "intent": "balance",
                "assurance": "pin",
                "context_policy": "brief",
                "outcome": "accepted",
                "rejection_reason": None,
                "duration_ms": 1.0,
            }
        ]
    )
    # As the application role (what Database runs as) and even as the owning superuser.
    async with db.pool.acquire() as conn:
        assert await conn.fetchval("SELECT current_user") == "bank_app"
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("UPDATE handoff_audit SET outcome = 'rejected'")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("DELETE FROM card_events")
    owner = await asyncpg.connect(dsn)
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await owner.execute("DELETE FROM handoff_audit")
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await owner.execute("TRUNCATE handoff_audit")
    finally:
        await owner.close()
    assert len(await db.handoff_audit("s1")) == 1


async def test_transient_error_is_retried(pg_server: EmbeddedPostgres, dsn: str) -> None:
    """The server really restarts between two calls; the second call still succeeds."""
    db = await Database.connect(dsn, retry_budget_s=10.0)
    try:
        alice = await db.customer_by_number("1001")
        pg_server.stop()
        pg_server.start()
        assert len(await db.accounts(alice.id)) == 3
    finally:
        await db.close()


async def test_permanent_outage_is_a_clear_exception(pg_server: EmbeddedPostgres, dsn: str) -> None:
    db = await Database.connect(dsn, retry_budget_s=0.5)
    try:
        pg_server.stop()
        with pytest.raises(DatabaseUnavailable):
            await db.customer_by_number("1001")
    finally:
        pg_server.start()
        await db.close()


async def test_retries_use_the_whole_budget_not_a_few_quick_attempts() -> None:
    """A server that is back well within the budget is reached: the attempt count must not
    run out first (it did: six full-jitter waits could all be a few milliseconds)."""
    started = time.monotonic()
    attempts = 0

    async def down_for_a_while() -> str:
        nonlocal attempts
        attempts += 1
        if time.monotonic() - started < 2.0:
            raise FileNotFoundError(2, "No such file or directory")  # the socket is gone
        return "back"

    assert await with_retry(down_for_a_while, budget_s=5.0) == "back"
    assert attempts > 2


async def test_retries_stop_within_the_budget() -> None:
    async def down() -> None:
        raise ConnectionRefusedError(111, "Connection refused")

    started = time.monotonic()
    with pytest.raises(DatabaseUnavailable):
        await with_retry(down, budget_s=0.5)
    assert time.monotonic() - started < 1.0


async def test_out_of_range_ids_are_not_found_and_bad_arguments_are_not_retried(
    db: Database,
) -> None:
    alice = await db.customer_by_number("1001")
    for bad in (0, -1, BIGINT_MAX + 1, 10**20):
        with pytest.raises(NotFound):
            await db.transaction_for_customer(alice.id, bad)
        with pytest.raises(NotFound):
            await db.customer_by_id(bad)
        assert await db.card_for_account(alice.id, bad) is None
    # asyncpg's client-side "invalid input for query argument" is an InterfaceError (the
    # class of "connection closed"), but a bad argument: never retried, never "unavailable".
    client_error = asyncpg.exceptions._base.DataError("invalid input for query argument $1")
    assert not is_transient(client_error)
    started = time.monotonic()
    with pytest.raises(InvalidArgument):
        await db._run(lambda c: c.fetchval("SELECT $1::bigint", BIGINT_MAX + 1))
    with pytest.raises(InvalidArgument):  # server side: SQLSTATE 22003
        await db._run(lambda c: c.fetchval("SELECT $1::int * 2147483647", 2147483647))
    assert time.monotonic() - started < 0.5  # not retried for the 1 s budget


async def test_connect_to_nothing_is_a_clear_exception() -> None:
    with pytest.raises(DatabaseUnavailable):
        await Database.connect("postgresql://nobody@127.0.0.1:1/none")


def test_money_formatting() -> None:
    assert format_cents(450012) == "$4,500.12"
    assert format_cents(-1200) == "-$12.00"
    assert speak_cents(450012) == "four thousand five hundred dollars and twelve cents"
    assert speak_cents(100) == "one dollar"
    assert speak_cents(5) == "five cents"
    assert speak_cents(-2310) == "minus twenty-three dollars and ten cents"
    assert speak_cents(123456789) == (
        "one million two hundred thirty-four thousand five hundred sixty-seven dollars "
        "and eighty-nine cents"
    )


async def test_demo_dates_follow_today_and_reset_restores_transactions(
    pg_server: EmbeddedPostgres,
) -> None:
    """An old demo database: its transactions move to today on the next seed; a reset puts
    back deleted or edited transactions and the balances."""
    admin = await asyncpg.connect(pg_server.dsn)
    await admin.execute("DROP DATABASE IF EXISTS demo_dates")
    await admin.execute("CREATE DATABASE demo_dates")
    await admin.close()
    dsn = pg_server.dsn_for("demo_dates")
    await migrate(dsn)
    await seed_demo(dsn)
    conn = await asyncpg.connect(dsn)
    try:
        newest_sql = "SELECT max(occurred_at)::date FROM transactions"
        fresh = await conn.fetchval(newest_sql)
        total = await conn.fetchval("SELECT count(*) FROM transactions")
        await conn.execute("UPDATE transactions SET occurred_at = occurred_at - interval '40 days'")
        assert await seed_demo(dsn) == []  # nobody rewritten, only dates moved
        assert await conn.fetchval(newest_sql) == fresh
        await conn.execute("DELETE FROM transactions WHERE merchant LIKE 'Uber%'")
        await conn.execute("UPDATE accounts SET available_balance_cents = 1")
        assert await seed_demo(dsn, reset=True) == ["1001", "1002", "1003", "1004"]
        assert await conn.fetchval("SELECT count(*) FROM transactions") == total
        assert (
            await conn.fetchval("SELECT count(*) FROM accounts WHERE available_balance_cents = 1")
            == 0
        )
        assert await conn.fetchval(newest_sql) == fresh
    finally:
        await conn.close()


async def test_demo_reset_restarts_case_numbers_and_forgets_saved_calls(
    pg_server: EmbeddedPostgres,
) -> None:
    """`seed --demo --reset` is a complete reset: the first case after it gets the number
    the first case of a fresh demo database got, and no saved call of a demo customer
    resumes with the state from before the reset. Other customers' checkpoints stay."""
    admin = await asyncpg.connect(pg_server.dsn)
    await admin.execute("DROP DATABASE IF EXISTS demo_reset_cases")
    await admin.execute("CREATE DATABASE demo_reset_cases")
    await admin.close()
    dsn = pg_server.dsn_for("demo_reset_cases")
    await migrate(dsn)
    await seed_demo(dsn)
    db = await Database.connect(dsn)
    try:
        alice = await db.customer_by_number("1001")
        first = await db.open_case(alice.id, "callback", summary="s", idempotency_key="k1")
        second = await db.open_case(alice.id, "callback", summary="s", idempotency_key="k2")
        assert second.id == first.id + 1
        await db.save_checkpoint("call-alice", "s1", {"principal": {"customer_id": alice.id}})
        await db.save_checkpoint("call-anon", "s2", {"principal": None})

        await seed_demo(dsn, reset=True)

        again = await db.open_case(alice.id, "callback", summary="s", idempotency_key="k3")
        assert again.id == first.id
        rooms = await db._run(lambda c: c.fetch("SELECT room_name FROM session_checkpoints"))
        assert [r["room_name"] for r in rooms] == ["call-anon"]
    finally:
        await db.close()


async def test_spoken_amounts_turns_display_amounts_into_words_across_chunks() -> None:
    """The TTS text transform: an amount split over stream chunks still becomes words;
    other numbers and text pass unchanged."""
    text = "You owe $845.50; limit $5,000.00. Card ending 4242, case 7, and -$12.00 today."

    async def chunks(size: int) -> AsyncIterator[str]:
        for i in range(0, len(text), size):
            yield text[i : i + size]

    expected = (
        "You owe eight hundred forty-five dollars and fifty cents; limit five thousand "
        "dollars. Card ending 4242, case 7, and minus twelve dollars today."
    )
    assert speak_amounts(text) == expected
    for size in (1, 2, 3, 5, 8, len(text)):
        assert "".join([c async for c in spoken_amounts(chunks(size))]) == expected, size
