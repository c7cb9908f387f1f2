"""`Database`: one asyncpg pool per process, shared by every tool of every session.

Query functions return typed dataclasses. Reads and idempotency-keyed writes retry transient
faults (server restart, dropped connection) with bounded jittered back-off; everything else
surfaces as `NotFound` or `DatabaseUnavailable`."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import fields
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
from .retry import PoolBusy, is_transient, with_retry

logger = logging.getLogger("bank.db")
T = TypeVar("T")
R = TypeVar("R", Account, Card, Case, Customer, Transaction)

MAX_PIN_FAILURES = 3
LOCKOUT = timedelta(minutes=15)
APP_ROLE = "bank_app"
# The longest a query waits for a free pooled connection. Under a burst (hundreds of calls in
# one process) every turn already takes seconds and connections are held for as long as the
# event loop takes to come back to each query; a 2 s limit turned that slowness into
# "can't reach our verification system" for a third of the callers at 400 sessions. Waiting
# longer is the trade-off: if the server hangs (queries never return), a caller hears the
# apology after this long instead of after 2 s.
ACQUIRE_TIMEOUT_S = 10.0

_ACCOUNT_COLUMNS = """
    a.id, a.customer_id, a.kind, a.nickname, a.number_last_four, a.ledger_balance_cents,
    a.available_balance_cents, a.credit_limit_cents,
    COALESCE((SELECT sum(t.amount_cents) FROM transactions t
              WHERE t.account_id = a.id AND t.status = 'pending'), 0)::bigint AS pending_cents
"""
_CARD_COLUMNS = "c.id, c.account_id, c.last_four, c.network, c.kind, c.status"

# PIN outcome, one statement each (see verify_pin). $2 is "now" (the DB's, or the caller's in
# tests). The WHERE re-checks the lock on the latest row version (READ COMMITTED re-evaluates
# it after waiting for a concurrent attempt's row lock); SET expressions read the old row.
_PIN_SUCCESS_SQL = """
    UPDATE customers SET failed_pin_attempts = 0, verification_locked_until = NULL
    WHERE id = $1 AND (verification_locked_until IS NULL OR verification_locked_until <= $2)
    RETURNING id
"""
# A failure: an expired lock starts a fresh count; reaching $3 failures locks for $4.
_PIN_FAILURE_SQL = """
    UPDATE customers SET
        failed_pin_attempts = CASE WHEN verification_locked_until IS NULL
                                   THEN failed_pin_attempts + 1 ELSE 1 END,
        verification_locked_until = CASE
            WHEN (CASE WHEN verification_locked_until IS NULL
                       THEN failed_pin_attempts + 1 ELSE 1 END) >= $3
            THEN $2::timestamptz + $4::interval
            ELSE NULL END
    WHERE id = $1 AND (verification_locked_until IS NULL OR verification_locked_until <= $2)
    RETURNING failed_pin_attempts, verification_locked_until
"""

# The first read of a PIN check: the customer (all NULL when the number is unknown) and the
# unknown number's own lockout, always exactly one row.
_VERIFY_READ_SQL = """
    SELECT c.*, u.verification_locked_until AS unknown_locked_until, now() AS db_now
    FROM (SELECT $1::text AS customer_number) q
    LEFT JOIN customers c ON c.customer_number = q.customer_number
    LEFT JOIN unknown_number_lockouts u ON u.customer_number = q.customer_number
"""
# A failure for a number that is no customer's, counted like _PIN_FAILURE_SQL (an expired
# lock starts a fresh count; reaching $3 failures locks for $4), as one upsert.
_UNKNOWN_FAILURE_SQL = """
    INSERT INTO unknown_number_lockouts AS u
        (customer_number, failed_pin_attempts, verification_locked_until)
    VALUES ($1, 1, CASE WHEN 1 >= $3 THEN $2::timestamptz + $4::interval END)
    ON CONFLICT (customer_number) DO UPDATE SET
        failed_pin_attempts = CASE WHEN u.verification_locked_until IS NULL
                                   THEN u.failed_pin_attempts + 1 ELSE 1 END,
        verification_locked_until = CASE
            WHEN (CASE WHEN u.verification_locked_until IS NULL
                       THEN u.failed_pin_attempts + 1 ELSE 1 END) >= $3
            THEN $2::timestamptz + $4::interval
            ELSE NULL END,
        updated_at = now()
    RETURNING failed_pin_attempts, verification_locked_until
"""

# set_card_status as ONE statement (it was BEGIN, SELECT .. FOR UPDATE, SELECT event, UPDATE,
# INSERT, COMMIT: six round trips). The card row is locked first (FOR UPDATE; a concurrent
# writer is waited for and its committed status re-read), then exactly one outcome is
# decided in SQL, and the status UPDATE and the append-only card event are written together
# or not at all: 'replayed' (this idempotency key already wrote an event for this card),
# 'already' (in the target state), 'not_allowed' (lost/stolen stay blocked), or 'changed'.
# The event insert still hits the UNIQUE idempotency_key. One difference from the old
# transaction, only under a race: a second request with the same key that was waiting on the
# lock reads the events as of its statement start, so it sees the first one's committed status
# ('already', nothing written) rather than its event ('replayed'); both write nothing.
_SET_CARD_STATUS_SQL = """
    WITH card AS (
        SELECT c.id, c.account_id, c.last_four, c.network, c.kind, c.status
        FROM cards c WHERE c.id = $1 AND c.customer_id = $2
        FOR UPDATE
    ), decision AS (
        SELECT card.*,
               seen.from_status AS seen_from,
               CASE
                   WHEN seen.from_status IS NOT NULL THEN 'replayed'
                   WHEN card.status = $3::text THEN 'already'
                   WHEN card.status IN ('lost', 'stolen') AND $3::text IN ('active', 'locked')
                       THEN 'not_allowed'
                   ELSE 'changed'
               END AS change
        FROM card
        LEFT JOIN LATERAL (
            SELECT e.from_status FROM card_events e
            WHERE e.idempotency_key = $6 AND e.card_id = card.id
        ) seen ON true
    ), updated AS (
        UPDATE cards SET status = $3::text, updated_at = now()
        FROM decision d WHERE cards.id = d.id AND d.change = 'changed'
    ), event AS (
        INSERT INTO card_events (card_id, customer_id, from_status, to_status, reason, actor,
                                 idempotency_key)
        SELECT d.id, $2, d.status, $3::text, $4, $5, $6 FROM decision d
        WHERE d.change = 'changed'
    )
    SELECT id, account_id, last_four, network, kind, status, seen_from, change FROM decision
"""

BIGINT_MAX = 2**63 - 1

_AUDIT_COLUMNS = (
    "session_id",
    "seq",
    "from_agent",
    "to_agent",
    "reason",
    "intent",
    "assurance",
    "context_policy",
    "outcome",
    "rejection_reason",
    "duration_ms",
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


# Latest transactions of one customer ($1), newest first, at most $2; {inner} and {outer}
# are the optional filters actually given (see Database.transactions).
_TRANSACTIONS_SQL = """
    SELECT t.id, t.account_id, a.kind, t.amount_cents, t.merchant, t.category,
           t.status, t.occurred_at
    FROM accounts a
    CROSS JOIN LATERAL (
        SELECT * FROM transactions t
        WHERE t.account_id = a.id{inner}
        ORDER BY t.occurred_at DESC, t.id DESC
        LIMIT $2
    ) t
    WHERE a.customer_id = $1{outer}
    ORDER BY t.occurred_at DESC, t.id DESC
    LIMIT $2
"""


def is_valid_id(value: object) -> bool:
    """Could `value` be a row id? Ids are positive bigints (identity columns); anything else
    (0, negatives, values past int64 that asyncpg cannot even encode) names no row."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= BIGINT_MAX


def _from_row(cls: type[R], row: asyncpg.Record, **given: Any) -> R:
    """`cls` from the row's columns of the same names as its fields; `given` are the fields
    that are no column (or a column of another name)."""
    named = {f.name: row[f.name] for f in fields(cls) if f.name not in given}
    return cls(**named, **given)


def _transaction(row: asyncpg.Record) -> Transaction:
    return _from_row(Transaction, row, account_kind=row["kind"])


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
        acquire_timeout_s: float = ACQUIRE_TIMEOUT_S,
        retry_budget_s: float = 4.0,
        use_app_role: bool = True,
    ) -> Database:
        """Open the shared pool. Runs as the restricted `bank_app` role when the login role
        may assume it, so audit tables are append-only for the application itself.

        Pooled connections keep their session state across uses (see `_on_release`): never
        `SET` a session setting on one (use `SET LOCAL` inside a transaction)."""
        settings = {"statement_timeout": str(statement_timeout_ms), "application_name": "bank"}
        may_assume, superuser = await _login_facts(dsn)
        if superuser:
            # Tests and tools may; the application must log in as bank_app (database_url).
            logger.warning("database login is a superuser: the application should use bank_app")
        if use_app_role and may_assume:
            settings["role"] = APP_ROLE
        try:
            pool = await asyncpg.create_pool(
                dsn,
                min_size=min_size,
                max_size=max_size,
                server_settings=settings,
                reset=_on_release,
            )
        except (OSError, asyncpg.PostgresError) as exc:
            raise DatabaseUnavailable("could not connect to the bank database") from exc
        db = cls(pool, retry_budget_s=retry_budget_s)
        db._acquire_timeout_s = acquire_timeout_s
        return db

    _acquire_timeout_s: float = ACQUIRE_TIMEOUT_S

    async def close(self) -> None:
        await self._pool.close()

    @property
    def pool(self) -> asyncpg.Pool:
        return self._pool

    # -- plumbing ---------------------------------------------------------------------------

    async def _run(self, fn: Callable[[Any], Awaitable[T]], *, retry: bool = True) -> T:
        """Run `fn` on a pooled connection. With `retry`, transient faults are retried
        within the budget. Without, only a busy pool is waited for (nothing was sent, so
        even a non-idempotent write may wait): a burst of callers makes such writes slower,
        not failed; any fault once the statement may have been sent is DatabaseUnavailable.

        A busy pool is not an outage: the wait for a connection is bounded by
        `acquire_timeout_s`, not by the (shorter) retry budget for faults."""

        started = time.monotonic()

        async def attempt() -> T:
            # Waiting for a free connection is one wait per operation, not per attempt, and
            # in one go: the caller keeps its place in the pool's FIFO line (timing out and
            # asking again sent it to the back, behind every newer caller).
            wait = max(0.05, self._acquire_timeout_s - (time.monotonic() - started))
            try:
                conn = await self._pool.acquire(timeout=wait)
            except TimeoutError as exc:
                raise PoolBusy("no database connection became free") from exc
            try:
                return await fn(conn)
            except asyncpg.exceptions.QueryCanceledError as exc:
                raise DatabaseUnavailable("the bank database timed out") from exc
            except asyncpg.exceptions.DataError as exc:  # SQLSTATE 22: a value out of range
                raise InvalidArgument("invalid query argument") from exc
            except asyncpg.exceptions.InterfaceError as exc:
                if isinstance(exc, ValueError):  # asyncpg's client-side argument encoding error
                    raise InvalidArgument("invalid query argument") from exc
                raise
            finally:
                await self._pool.release(conn)

        if retry:
            return await with_retry(attempt, budget_s=self._retry_budget_s)
        try:
            return await with_retry(
                attempt,
                budget_s=self._retry_budget_s,
                retry_on=lambda exc: isinstance(exc, PoolBusy),
            )
        except Exception as exc:
            if is_transient(exc):
                raise DatabaseUnavailable("the bank database is unreachable") from exc
            raise

    async def _fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        """All rows of one read, retried like every read."""
        rows: list[asyncpg.Record] = await self._run(lambda c: c.fetch(sql, *args))
        return rows

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
        return _from_row(Customer, row)

    async def customer_by_number(self, customer_number: str) -> Customer:
        row = await self._run(
            lambda c: c.fetchrow(
                "SELECT * FROM customers WHERE customer_number = $1", customer_number
            )
        )
        if row is None:
            raise NotFound("no such customer")
        return _from_row(Customer, row)

    async def customer_by_phone(self, phone_e164: str) -> Customer | None:
        """Caller-id lookup. Returns None when zero or several customers share the number."""
        rows = await self._fetch(
            "SELECT * FROM customers WHERE phone_e164 = $1 LIMIT 2", phone_e164
        )
        return _from_row(Customer, rows[0]) if len(rows) == 1 else None

    async def verify_pin(
        self, customer_number: str, pin: str, *, now: datetime | None = None
    ) -> VerificationResult:
        """Check a PIN in code (constant-time) and apply the persisted lockout:
        3 failures lock verification for 15 minutes.

        No connection (and no row lock) is held while the PIN is hashed: that check is
        CPU-bound and runs in a worker thread, and under load (hundreds of callers verifying
        at once) it waits for a free thread; holding a pooled connection meanwhile starved
        the whole pool (acquire timeouts, "can't reach our verification system"). Instead:
        one read, the hash, then the outcome as ONE conditional UPDATE that re-checks the
        lock on the row's latest version and counts the failure atomically, so concurrent
        attempts still serialise on the row: no more than three wrong PINs are ever counted
        before the lock, and a lock set meanwhile by another attempt is always honoured.
        The read is retried like any read; the UPDATE is not (a failure counter is not
        idempotent): a fault after it was sent surfaces as DatabaseUnavailable."""
        if not (customer_number.isascii() and customer_number.isdigit()):
            await _check_pin_off_loop("0000", DUMMY_HASH)
            return VerificationResult(VerificationStatus.UNKNOWN_CUSTOMER)
        # One read whether or not the number exists (the unknown number's own lockout
        # included), one hash, one write: an unknown number costs what a customer does,
        # and is locked after three attempts like one (no enumeration by status or time).
        row = await self._run(lambda c: c.fetchrow(_VERIFY_READ_SQL, customer_number))
        current = now or row["db_now"]
        if row["id"] is None:
            await _check_pin_off_loop("0000", DUMMY_HASH)
            return await self._unknown_number_failure(customer_number, row, current)
        locked_until = row["verification_locked_until"]
        if locked_until is not None and locked_until > current:
            await _check_pin_off_loop("0000", DUMMY_HASH)
            return VerificationResult(
                VerificationStatus.LOCKED, locked_until=locked_until, attempts_left=0
            )
        ok = is_well_formed_pin(pin) and await _check_pin_off_loop(pin, row["pin_hash"])
        if ok:
            done = await self._run(
                lambda c: c.fetchval(_PIN_SUCCESS_SQL, row["id"], current), retry=False
            )
            if done is None:
                return await self._locked_meanwhile(row["id"])
            return VerificationResult(VerificationStatus.VERIFIED, _from_row(Customer, row))
        counted = await self._run(
            lambda c: c.fetchrow(_PIN_FAILURE_SQL, row["id"], current, MAX_PIN_FAILURES, LOCKOUT),
            retry=False,
        )
        if counted is None:
            return await self._locked_meanwhile(row["id"])
        return _after_failure(counted, VerificationStatus.WRONG_PIN)

    async def _unknown_number_failure(
        self, customer_number: str, row: asyncpg.Record, current: datetime
    ) -> VerificationResult:
        locked_until = row["unknown_locked_until"]
        if locked_until is not None and locked_until > current:
            return VerificationResult(
                VerificationStatus.LOCKED, locked_until=locked_until, attempts_left=0
            )
        counted = await self._run(
            lambda c: c.fetchrow(
                _UNKNOWN_FAILURE_SQL, customer_number, current, MAX_PIN_FAILURES, LOCKOUT
            ),
            retry=False,
        )
        return _after_failure(counted, VerificationStatus.UNKNOWN_CUSTOMER)

    async def _locked_meanwhile(self, customer_id: int) -> VerificationResult:
        """Another attempt locked verification between our read and our update."""
        until = await self._run(
            lambda c: c.fetchval(
                "SELECT verification_locked_until FROM customers WHERE id = $1", customer_id
            )
        )
        return VerificationResult(VerificationStatus.LOCKED, locked_until=until, attempts_left=0)

    # -- accounts & transactions ----------------------------------------------------------------

    async def accounts(self, customer_id: int) -> list[Account]:
        rows = await self._fetch(
            f"SELECT {_ACCOUNT_COLUMNS} FROM accounts a WHERE a.customer_id = $1 "
            "ORDER BY CASE a.kind WHEN 'checking' THEN 0 WHEN 'savings' THEN 1 ELSE 2 END,"
            " a.id",
            customer_id,
        )
        return [_from_row(Account, r) for r in rows]

    async def transactions(
        self,
        customer_id: int,
        *,
        account_kind: str | None = None,
        limit: int = 3,
        days_back: int | None = None,
        merchant: str | None = None,
        min_charge_cents: int | None = None,
        now: datetime | None = None,
    ) -> list[Transaction]:
        """Latest transactions of one customer, newest first, with optional filters.
        `min_charge_cents` keeps only charges (money out, negative amounts) of at least that many
        cents: "anything over $100" means spending over $100, never the payroll deposit."""
        since = (now or datetime.now(UTC)) - timedelta(days=days_back) if days_back else None
        # "trader joes" finds "Trader Joe's": apostrophes are dropped on both sides.
        said = merchant.lower().replace("'", "").replace("\u2019", "") if merchant else None
        pattern = f"%{_escape_like(said)}%" if said else None
        # Only the filters given become predicates, so each combination is its own prepared
        # statement with a plain plan. One statement with "$n IS NULL OR ..." for every
        # filter made Postgres re-plan it on every execution (its generic plan cannot drop
        # the unused filters, so the custom plan always looked cheaper): ~0.15 ms of planning
        # on every get_transactions call, more than the query itself.
        args: list[Any] = [customer_id, limit]
        inner: list[str] = []
        outer: list[str] = []
        for value, predicate, where in (
            (since, "t.occurred_at >= ${}", inner),
            (pattern, "replace(lower(t.merchant), chr(39), '') LIKE ${}", inner),
            (min_charge_cents, "t.amount_cents <= -${}::bigint", inner),
            (account_kind, "a.kind = ${}", outer),
        ):
            if value is not None:
                args.append(value)
                where.append(" AND " + predicate.format(len(args)))
        sql = _TRANSACTIONS_SQL.format(inner="".join(inner), outer="".join(outer))
        rows = await self._fetch(sql, *args)
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
        rows = await self._fetch(
            f"SELECT {_CARD_COLUMNS} FROM cards c WHERE c.customer_id = $1 ORDER BY c.id",
            customer_id,
        )
        return [_from_row(Card, r) for r in rows]

    async def card_for_account(self, customer_id: int, account_id: int) -> Card | None:
        if not (is_valid_id(customer_id) and is_valid_id(account_id)):
            return None
        rows = await self._fetch(
            f"SELECT {_CARD_COLUMNS} FROM cards c WHERE c.customer_id = $1 "
            "AND c.account_id = $2 ORDER BY (c.status = 'active') DESC, c.id LIMIT 1",
            customer_id,
            account_id,
        )
        return _from_row(Card, rows[0]) if rows else None

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
        A card already in the target state writes nothing. Lost/stolen cards stay blocked.
        One statement (`_SET_CARD_STATUS_SQL`), so one round trip and one transaction."""
        if not (is_valid_id(customer_id) and is_valid_id(card_id)):
            raise NotFound("no such card for this customer")

        row = await self._run(
            lambda c: c.fetchrow(
                _SET_CARD_STATUS_SQL,
                card_id,
                customer_id,
                to_status,
                reason,
                actor,
                idempotency_key,
            )
        )
        if row is None:
            raise NotFound("no such card for this customer")
        card = _from_row(Card, row)
        change = row["change"]
        if change == "replayed":
            return CardActionResult(card, CardChange.REPLAYED, row["seen_from"])
        if change == "already":
            return CardActionResult(card, CardChange.ALREADY, card.status)
        if change == "not_allowed":
            return CardActionResult(card, CardChange.NOT_ALLOWED, card.status)
        updated = Card(card.id, card.account_id, card.last_four, card.network, card.kind, to_status)
        return CardActionResult(updated, CardChange.CHANGED, card.status)

    async def card_events(self, card_id: int) -> list[dict[str, Any]]:
        rows = await self._fetch(
            "SELECT from_status, to_status, reason, actor, idempotency_key, created_at "
            "FROM card_events WHERE card_id = $1 ORDER BY id",
            card_id,
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
                    return _from_row(Case, existing, created=False)
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
                return _from_row(Case, row, created=True)

        return await self._run(txn)

    async def cases(self, customer_id: int) -> list[Case]:
        rows = await self._fetch(
            "SELECT * FROM cases WHERE customer_id = $1 ORDER BY id", customer_id
        )
        return [_from_row(Case, r, created=False) for r in rows]

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
        rows = await self._fetch(
            "SELECT * FROM handoff_audit WHERE session_id = $1 ORDER BY seq", session_id
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
        rows = await self._fetch(
            "SELECT * FROM security_events WHERE session_id = $1 ORDER BY id", session_id
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

    async def load_checkpoint(
        self, room_name: str, *, max_age: timedelta | None = None
    ) -> dict[str, Any] | None:
        """The room's checkpoint, if any (and, with `max_age`, only if written since)."""
        raw = await self._run(
            lambda c: c.fetchval(
                "SELECT state FROM session_checkpoints WHERE room_name = $1"
                " AND ($2::interval IS NULL OR updated_at > now() - $2::interval)",
                room_name,
                max_age,
            )
        )
        return json.loads(raw) if raw is not None else None

    async def delete_checkpoint(self, room_name: str) -> None:
        await self._run(
            lambda c: c.execute("DELETE FROM session_checkpoints WHERE room_name = $1", room_name)
        )


async def _on_release(conn: asyncpg.Connection) -> None:
    """The pool's reset hook, run when a connection goes back to the pool. asyncpg has
    already rolled back any transaction left open (that part is not ours to skip).

    asyncpg's default hook then sends `SELECT pg_advisory_unlock_all(); CLOSE ALL;
    UNLISTEN *; RESET ALL` on every release: a second round trip, awaited by the caller,
    for every query (measured: a pooled SELECT 1 went from 0.24 to 0.14 ms p50 without it,
    and each query holds its connection half as long under load). None of it applies here:
    the data layer takes no session advisory locks (migrations use their own connection),
    opens cursors only inside transactions, never LISTENs, and sets no session settings
    (statement_timeout, role and application_name are startup parameters; RESET ALL would
    keep them anyway, and it never resets a role). So there is nothing to reset."""
    return None


# PIN hashing (PBKDF2, ~8 ms of CPU each) runs on its own small pool of threads, not the
# default executor (min(32, cores + 4) threads). When hundreds of callers verify at once, six
# hashing threads on a 2-core box starved the event loop that serves every call (and holds
# every pooled connection until it gets to run again): measured at 400 sessions, 6 threads
# still left callers unverified after the 10 s pool wait, 1 or 2 threads none; 1 thread made
# the verification queue the p99 at 200 sessions (9.5 s vs 6 s), so: half the cores, >= 2.
_PIN_THREADS = max(2, (os.cpu_count() or 2) // 2)
_pin_executor: ThreadPoolExecutor | None = None


async def _check_pin_off_loop(pin: str, stored: str) -> bool:
    global _pin_executor
    if _pin_executor is None:
        _pin_executor = ThreadPoolExecutor(_PIN_THREADS, thread_name_prefix="pin-check")
    return await asyncio.get_running_loop().run_in_executor(_pin_executor, check_pin, pin, stored)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def _login_facts(dsn: str) -> tuple[bool, bool]:
    """(may this login assume the app role, is it a superuser)."""
    try:
        conn = await asyncpg.connect(dsn)
    except (OSError, asyncpg.PostgresError) as exc:
        raise DatabaseUnavailable("could not connect to the bank database") from exc
    try:
        row = await conn.fetchrow(
            "SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1) "
            "THEN pg_has_role(current_user, $1, 'MEMBER') ELSE false END AS may_assume, "
            "(SELECT rolsuper FROM pg_roles WHERE rolname = session_user) AS superuser",
            APP_ROLE,
        )
        assert row is not None  # a SELECT without FROM returns exactly one row
        return bool(row["may_assume"]), bool(row["superuser"])
    finally:
        await conn.close()


def _after_failure(counted: asyncpg.Record, status: VerificationStatus) -> VerificationResult:
    """A counted failed attempt: locked if it was the last one allowed, else `status` with
    the attempts left (a wrong PIN and an unknown number count, and read, the same)."""
    if counted["verification_locked_until"] is not None:
        return VerificationResult(
            VerificationStatus.LOCKED,
            locked_until=counted["verification_locked_until"],
            attempts_left=0,
        )
    return VerificationResult(
        status, attempts_left=MAX_PIN_FAILURES - counted["failed_pin_attempts"]
    )
