"""Least privilege at the database: the application logs in as `bank_app`, a role that is
no superuser and owns nothing, so its own connection cannot become the owner, switch the
append-only triggers off, or touch audit rows. Migrations run separately, as the owner."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from tools.db import APP_LOGIN, Database, EmbeddedPostgres, database_url, login_as

ESCAPES = [
    "SET ROLE postgres",
    "SET SESSION AUTHORIZATION postgres",
    "SET session_replication_role = replica",
    "ALTER TABLE handoff_audit DISABLE TRIGGER handoff_audit_append_only",
    "ALTER TABLE security_events DISABLE TRIGGER ALL",
    "DROP TRIGGER card_events_append_only ON card_events",
    "DELETE FROM handoff_audit",
    "DELETE FROM security_events",
    "UPDATE card_events SET reason = 'x'",
    "TRUNCATE handoff_audit",
    "DELETE FROM customers",
    "CREATE TABLE public.owned_by_app (id int)",
    "ALTER ROLE bank_app SUPERUSER",
    "GRANT postgres TO bank_app",
    "CREATE ROLE sneaky LOGIN SUPERUSER",
]


async def test_app_login_is_no_superuser_and_owns_nothing(db: Database, dsn: str) -> None:
    async with db.pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT session_user, current_user, r.rolsuper, r.rolcreaterole, r.rolcreatedb, "
            "r.rolbypassrls FROM pg_roles r WHERE r.rolname = session_user"
        )
    assert row["session_user"] == row["current_user"] == APP_LOGIN
    assert not any((row["rolsuper"], row["rolcreaterole"], row["rolcreatedb"], row["rolbypassrls"]))
    owner = await asyncpg.connect(dsn)
    try:
        owned = await owner.fetchval(
            "SELECT count(*) FROM pg_class c WHERE c.relowner = $1::regrole", APP_LOGIN
        )
        member_of = await owner.fetch(
            "SELECT roleid::regrole::text FROM pg_auth_members WHERE member = $1::regrole",
            APP_LOGIN,
        )
    finally:
        await owner.close()
    assert owned == 0 and member_of == []


@pytest.mark.parametrize("sql", ESCAPES)
async def test_app_connection_cannot_escape(db: Database, sql: str) -> None:
    async with db.pool.acquire() as conn:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute(sql)
        assert await conn.fetchval("SELECT current_user") == APP_LOGIN


async def test_app_can_still_do_its_job(db: Database) -> None:
    """What the desk needs still works under the narrow grants: read, verify (lockout
    counters, unknown-number lockout), card writes with events, cases, audit, checkpoints."""
    assert (await db.verify_pin("1001", "9999")).attempts_left == 2
    assert (await db.verify_pin("555555", "9999")).attempts_left == 2
    alice = await db.customer_by_number("1001")
    card = (await db.cards(alice.id))[0]
    result = await db.set_card_status(
        alice.id, card.id, "locked", reason="t", actor="test", idempotency_key="k1"
    )
    assert result.card.status == "locked"
    await db.save_checkpoint("room-x", "s1", {"a": 1})
    assert await db.load_checkpoint("room-x") == {"a": 1}


def test_login_as_keeps_server_and_database() -> None:
    assert (
        login_as("postgresql://postgres:@/t_1?host=/tmp/pg", APP_LOGIN)
        == "postgresql://bank_app@/t_1?host=/tmp/pg"
    )
    assert (
        login_as("postgresql://bank:bank@db.internal:5432/bank", APP_LOGIN, "p@ss word")
        == "postgresql://bank_app:p%40ss%20word@db.internal:5432/bank"
    )


async def test_embedded_database_url_logs_in_as_the_app_role(
    pg_server: EmbeddedPostgres, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`database_url()` without DATABASE_URL: the embedded server (here the test run's own
    cluster, reused), logged in as bank_app, never as its superuser."""
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("BANK_PGDATA", str(Path(pg_server.data_dir)))
    url = database_url()
    conn = await asyncpg.connect(url)
    try:
        assert await conn.fetchval("SELECT session_user") == APP_LOGIN
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("SET ROLE postgres")
    finally:
        await conn.close()
