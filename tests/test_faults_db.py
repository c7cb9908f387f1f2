"""Database faults in the middle of a call, with the embedded Postgres really stopped and
started (`pg_server.stop()/start()`), the pool exhausted, and queries outliving the
statement timeout. The caller always hears something clear, the session keeps running,
nothing is written twice, and the next request works once the database is back."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import pytest
from core_helpers import said
from scripted_llm import ScriptedLLM, ToolCall
from security_helpers import settle

from agents import BalanceAgent, CardSecurityAgent, new_session
from agents.verification import bind_principal
from models import OfflineBankLLM
from shared_state import Assurance, HandoffBrief, SessionState
from tools.db import Database, DatabaseUnavailable, EmbeddedPostgres
from tools.money import format_cents
from tools.outcomes import Unavailable, decode


@pytest.fixture
def server(pg_server: EmbeddedPostgres) -> Iterator[EmbeddedPostgres]:
    """The shared server, guaranteed to be running again after the test, whatever happens."""
    yield pg_server
    pg_server.start()


def _restart_later(server: EmbeddedPostgres, delay: float) -> threading.Thread:
    def run() -> None:
        time.sleep(delay)
        server.start()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@asynccontextmanager
async def verified_call(
    db: Database, agent: Any, model: Any, number: str = "1001"
) -> AsyncIterator[tuple[Any, SessionState]]:
    state = SessionState(db=db, channel="console")
    bind_principal(state, await db.customer_by_number(number), Assurance.PIN)
    state.greeted = True
    state.brief = HandoffBrief(from_agent="greeter", verified_facts=["caller verified"])
    async with new_session(state, llm=model) as session:
        await session.start(agent)
        yield session, state
    await settle(state)


def _said(result: Any) -> list[str]:
    return [
        ev.item.text_content or ""
        for ev in result.events
        if ev.type == "message" and ev.item.role == "assistant"
    ]


def _outputs(result: Any) -> list[Any]:
    return [ev.item for ev in result.events if ev.type == "function_call_output"]


class StoppingOfflineLLM(OfflineBankLLM):
    """The offline model, with a hook run at the start of its next model call (to stop the
    database in the middle of a caller's turn, before the tool it chooses runs)."""

    def __init__(self) -> None:
        super().__init__()
        self.on_next_call: Any = None

    def chat(self, **kwargs: Any) -> Any:
        hook, self.on_next_call = self.on_next_call, None
        if hook is not None:
            hook()
        return super().chat(**kwargs)


# -- Postgres restarted / down in the middle of a call ---------------------------------------


async def test_restart_between_turns_next_tool_call_succeeds(
    server: EmbeddedPostgres, dsn: str
) -> None:
    db = await Database.connect(dsn, retry_budget_s=10.0)
    try:
        alice = await db.customer_by_number("1001")
        checking = (await db.accounts(alice.id))[0]
        async with verified_call(db, BalanceAgent(), OfflineBankLLM()) as (session, _):
            first = await session.run(user_input="what's my balance?")
            server.stop()
            server.start()  # every pooled connection is now dead
            second = await session.run(user_input="what's my checking balance?")
        heard = " ".join(_said(second))
        assert format_cents(checking.available_balance_cents) in heard, heard
        assert "can't reach" not in heard
        assert all(not o.is_error for o in _outputs(first) + _outputs(second))
    finally:
        await db.close()


async def test_db_down_mid_turn_caller_hears_clear_message_then_recovers(
    server: EmbeddedPostgres, dsn: str
) -> None:
    db = await Database.connect(dsn, retry_budget_s=0.5)
    model = StoppingOfflineLLM()
    try:
        alice = await db.customer_by_number("1001")
        checking = (await db.accounts(alice.id))[0]
        async with verified_call(db, BalanceAgent(), model) as (session, state):
            model.on_next_call = server.stop  # the DB dies as the model picks get_balance
            started = time.monotonic()
            down = await asyncio.wait_for(session.run(user_input="what's my balance?"), 10)
            elapsed = time.monotonic() - started
            [out] = _outputs(down)
            assert out.is_error and _unavailable(out.output)
            heard = " ".join(_said(down))
            assert "can't reach your accounts right now" in heard, heard
            assert "Nothing has been changed" in heard
            assert elapsed < 5, f"the caller waited {elapsed:.1f}s in silence"

            # the session is still running while the DB is down ...
            still = await asyncio.wait_for(session.run(user_input="hello?"), 10)
            assert _said(still), "no answer while the DB is down"

            server.start()
            # ... and the very next request after it is back works, in the same session
            back = await asyncio.wait_for(session.run(user_input="what's my checking balance?"), 10)
            heard = " ".join(_said(back))
            assert format_cents(checking.available_balance_cents) in heard, heard
            assert state.principal is not None and state.principal.customer_number == "1001"
    finally:
        server.start()
        await db.close()


async def test_lock_card_confirmed_while_db_flaps_writes_exactly_once(
    server: EmbeddedPostgres, dsn: str
) -> None:
    db = await Database.connect(dsn, retry_budget_s=8.0)
    restarts: list[threading.Thread] = []

    def flap(_ctx: Any) -> ToolCall:
        server.stop()
        restarts.append(_restart_later(server, 0.4))
        return ToolCall("lock_card", {"card_last_four": "4242", "confirm": True})

    model = ScriptedLLM(
        [
            "Card security here.",
            ToolCall("lock_card", {"card_last_four": "4242"}),
            "Lock the card ending 4242?",
            flap,  # the caller says yes; the DB goes down and comes back during the write
            "Done.",
            # a confused model re-sends the same confirmed call on the next turn
            ToolCall("lock_card", {"card_last_four": "4242", "confirm": True}),
            "It's locked.",
        ]
    )
    try:
        alice = await db.customer_by_number("1001")
        card = next(c for c in await db.cards(alice.id) if c.last_four == "4242")
        async with verified_call(db, CardSecurityAgent(), model) as (session, _):
            await session.run(user_input="lock my card ending 4242")
            confirmed = await asyncio.wait_for(session.run(user_input="yes"), 15)
            [out] = _outputs(confirmed)
            assert not out.is_error and said(out).startswith("Done"), said(out)
            again = await session.run(user_input="did it work? lock it")
            assert not any(o.is_error for o in _outputs(again))
        for thread in restarts:
            thread.join(5)
        events = await db.card_events(card.id)
        assert len(events) == 1, events
        assert (events[0]["from_status"], events[0]["to_status"]) == ("active", "locked")
        assert [c.status for c in await db.cards(alice.id) if c.id == card.id] == ["locked"]

        # The write is keyed: replaying it after another restart writes nothing new.
        server.stop()
        server.start()
        replay = await db.set_card_status(
            alice.id,
            card.id,
            "locked",
            reason="replay",
            actor="test",
            idempotency_key=events[0]["idempotency_key"],
        )
        assert replay.change.value in ("replayed", "already")
        assert len(await db.card_events(card.id)) == 1
    finally:
        for thread in restarts:
            thread.join(5)
        server.start()
        await db.close()


# -- pool exhaustion and slow queries ------------------------------------------------------


async def test_pool_exhaustion_is_a_clear_error_not_a_hang(dsn: str) -> None:
    db = await Database.connect(
        dsn, max_size=1, min_size=1, acquire_timeout_s=0.2, retry_budget_s=0.5
    )
    try:
        alice = await db.customer_by_number("1001")
        async with db.pool.acquire():  # the only connection, held by someone else
            started = time.monotonic()
            with pytest.raises(DatabaseUnavailable):
                await asyncio.wait_for(db.accounts(alice.id), 5)
            assert time.monotonic() - started < 3
        # released: everything works again
        assert len(await db.accounts(alice.id)) == 3
    finally:
        await db.close()


async def test_pool_exhausted_during_a_turn_then_recovers(dsn: str) -> None:
    db = await Database.connect(
        dsn, max_size=1, min_size=1, acquire_timeout_s=0.2, retry_budget_s=0.5
    )
    try:
        alice = await db.customer_by_number("1001")
        checking = (await db.accounts(alice.id))[0]
        model = ScriptedLLM(["Balance desk."])
        async with verified_call(db, BalanceAgent(), model) as (session, _):
            holder = await db.pool.acquire()
            try:
                model.push(ToolCall("get_balance"), lambda ctx: _last_output(ctx))
                busy = await asyncio.wait_for(session.run(user_input="balance?"), 5)
            finally:
                await db.pool.release(holder)
            [out] = _outputs(busy)
            assert out.is_error and _unavailable(out.output)
            assert "can't reach your accounts" in " ".join(_said(busy))
            model.push(
                ToolCall("get_balance", {"account": "checking"}), lambda ctx: _last_output(ctx)
            )
            ok = await asyncio.wait_for(session.run(user_input="and now?"), 5)
            assert format_cents(checking.available_balance_cents) in " ".join(_said(ok))
    finally:
        await db.close()


def _last_output(ctx: Any) -> str:
    """A model that reads the last tool output to the caller, word for word."""
    outputs = [i for i in ctx.items if i.type == "function_call_output"]
    return said(outputs[-1]) if outputs else "?"


async def test_statement_timeout_through_the_pool(dsn: str) -> None:
    db = await Database.connect(dsn, statement_timeout_ms=50)
    try:
        started = time.monotonic()
        async with db.pool.acquire() as conn:
            with pytest.raises(asyncpg.exceptions.QueryCanceledError):
                await asyncio.wait_for(conn.execute("SELECT pg_sleep(2)"), 5)
        assert time.monotonic() - started < 1.5
    finally:
        await db.close()


async def test_slow_query_on_a_locked_row_is_database_unavailable(dsn: str) -> None:
    """A query blocked behind another transaction's row lock outlives the statement timeout:
    the data layer says DatabaseUnavailable (not retried, not hung), the tool says so, and
    nothing is written."""
    db = await Database.connect(dsn, statement_timeout_ms=50, retry_budget_s=0.5)
    owner = await asyncpg.connect(dsn)
    try:
        alice = await db.customer_by_number("1001")
        card = next(c for c in await db.cards(alice.id) if c.last_four == "4242")
        tx = owner.transaction()
        await tx.start()
        await owner.execute("SELECT 1 FROM cards WHERE id = $1 FOR UPDATE", card.id)
        await owner.execute("SELECT 1 FROM customers WHERE id = $1 FOR UPDATE", alice.id)
        try:
            started = time.monotonic()
            with pytest.raises(DatabaseUnavailable):
                await asyncio.wait_for(
                    db.set_card_status(
                        alice.id, card.id, "locked", reason="t", actor="t", idempotency_key="slow-1"
                    ),
                    5,
                )
            with pytest.raises(DatabaseUnavailable):
                await asyncio.wait_for(db.verify_pin("1001", "1234"), 5)
            assert time.monotonic() - started < 3

            model = ScriptedLLM(
                [
                    "Card security.",
                    ToolCall("lock_card", {"card_last_four": "4242"}),
                    "Lock the card ending 4242?",
                    ToolCall("lock_card", {"card_last_four": "4242", "confirm": True}),
                    lambda ctx: _last_output(ctx),
                ]
            )
            async with verified_call(db, CardSecurityAgent(), model) as (session, _):
                await session.run(user_input="lock 4242")
                stuck = await asyncio.wait_for(session.run(user_input="yes"), 5)
                [out] = _outputs(stuck)
                assert out.is_error and _unavailable(out.output)
        finally:
            await tx.rollback()
        assert await db.card_events(card.id) == []
        assert [c.status for c in await db.cards(alice.id) if c.id == card.id] == ["active"]
    finally:
        await owner.close()
        await db.close()


async def test_handoff_audit_row_survives_a_db_outage(server: EmbeddedPostgres, dsn: str) -> None:
    """A handoff made while the DB is down still happens; its audit row is kept in memory and
    written with the next one once the DB is back: no audit row is lost."""
    from agents import Greeter
    from agents.base import AUDIT_NOT_DURABLE
    from handoffs.context import HANDOFF_ACKNOWLEDGEMENTS

    db = await Database.connect(dsn, retry_budget_s=0.3)
    try:
        state = SessionState(db=db, channel="console")
        bind_principal(state, await db.customer_by_number("1001"), Assurance.PIN)
        model = ScriptedLLM()
        async with new_session(state, llm=model) as session:
            await session.start(Greeter())
            server.stop()
            try:
                model.push(ToolCall("transfer_to_balance", {"reason": "balance"}))
                calls = len(model.calls)
                outage = await asyncio.wait_for(session.run(user_input="my balance"), 20)
            finally:
                server.start()
            assert type(session.current_agent) is BalanceAgent
            assert state.audit is not None and state.audit.pending == 1
            # The new desk never spoke for itself before its handoff was on record: its
            # model was not called, the caller heard the one fixed line (issue 12).
            assert len(model.calls) == calls + 1
            said = [e.item.text_content for e in outage.events if e.type == "message"]
            # The greeter's acknowledgement comes from its own (first) model call, before
            # the switch; after it, only the fixed line.
            assert said == [HANDOFF_ACKNOWLEDGEMENTS[0], AUDIT_NOT_DURABLE]
            model.push(ToolCall("transfer_to_greeter", {"reason": "done"}), "Front desk.")
            await session.run(user_input="something else")
        await settle(state)
        rows = await db.handoff_audit(state.session_id)
        assert [(r["seq"], r["from_agent"], r["to_agent"], r["outcome"]) for r in rows] == [
            (1, "greeter", "balance", "accepted"),
            (2, "balance", "greeter", "accepted"),
        ]
    finally:
        server.start()
        await db.close()


def _unavailable(output: str) -> bool:
    envelope = decode(output)
    return envelope is not None and envelope.outcome == Unavailable()
