"""A model provider failing mid-turn: the caller gets a spoken apology (an assistant
message), never silence, and the session keeps running: the next turn works."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from livekit.agents import APIConnectionError, APIConnectOptions, APIStatusError, APITimeoutError
from livekit.agents.voice.agent_session import SessionConnectOptions
from scripted_llm import InstantStream, ScriptedLLM, ToolCall
from security_helpers import settle

from agents import BalanceAgent, Greeter, new_session
from agents.session import APOLOGY, APOLOGY_REPEATED
from agents.verification import bind_principal
from shared_state import Assurance, HandoffBrief, SessionState
from tools.db import Database
from tools.money import format_cents

NO_RETRY = SessionConnectOptions(
    llm_conn_options=APIConnectOptions(max_retry=0, retry_interval=0.01, timeout=2.0),
    max_unrecoverable_errors=1_000_000,
)


def assistant_lines(session: Any) -> list[str]:
    return [
        i.text_content or ""
        for i in session.history.items
        if i.type == "message" and i.role == "assistant"
    ]


@asynccontextmanager
async def call(
    db: Database, model: Any, *, verified: bool = True, agent: Any = None, conn: Any = NO_RETRY
) -> AsyncIterator[tuple[Any, SessionState]]:
    state = SessionState(db=db, channel="console")
    if verified:
        bind_principal(state, await db.customer_by_number("1001"), Assurance.PIN)
        state.brief = HandoffBrief(from_agent="greeter")
    async with new_session(state, llm=model, conn_options=conn) as session:
        await session.start(agent or (BalanceAgent() if verified else Greeter()))
        for _ in range(100):  # let the opening line land before the test's first turn
            if assistant_lines(session):
                break
            await asyncio.sleep(0.01)
        assert assistant_lines(session), "no opening line"
        yield session, state
    await settle(state)


async def _run(session: Any, text: str) -> None:
    await asyncio.wait_for(session.run(user_input=text), 10)
    await asyncio.sleep(0.05)  # the apology is spoken from the session's error event


async def test_llm_connection_error_gets_an_apology_and_the_next_turn_works(db: Database) -> None:
    alice = await db.customer_by_number("1001")
    checking = (await db.accounts(alice.id))[0]
    model = ScriptedLLM(["Balance desk."])
    async with call(db, model) as (session, _):
        before = len(assistant_lines(session))
        model.push(APIConnectionError("provider unreachable", retryable=False))
        await _run(session, "what's my balance?")
        said = assistant_lines(session)[before:]
        assert said == [APOLOGY], said

        model.push(ToolCall("get_balance", {"account": "checking"}), "Here it is.")
        result = await asyncio.wait_for(session.run(user_input="what's my balance?"), 10)
        out = [e.item for e in result.events if e.type == "function_call_output"]
        assert out and not out[0].is_error
        assert format_cents(checking.available_balance_cents) in out[0].output
        assert assistant_lines(session)[-1] == "Here it is."


async def test_failure_after_a_tool_ran_still_apologises(db: Database) -> None:
    """The tool succeeded, then the provider died while phrasing the answer."""
    model = ScriptedLLM(["Balance desk."])
    async with call(db, model) as (session, _):
        model.push(ToolCall("get_balance"), APITimeoutError("provider timed out", retryable=False))
        await _run(session, "balance please")
        assert assistant_lines(session)[-1] == APOLOGY
        model.push("Anything else?")
        await _run(session, "hello?")
        assert assistant_lines(session)[-1] == "Anything else?"


async def test_repeated_failures_escalate_the_apology_and_the_call_survives(db: Database) -> None:
    model = ScriptedLLM(["Balance desk."])
    async with call(db, model) as (session, _):
        heard = []
        for n in range(3):
            model.push(APIStatusError(f"server error {n}", status_code=503, retryable=False))
            await _run(session, f"hello {n}")
            heard.append(assistant_lines(session)[-1])
        assert heard == [APOLOGY, APOLOGY, APOLOGY_REPEATED]
        assert "Nothing on your accounts has changed" in APOLOGY_REPEATED
        model.push("I'm back. How can I help?")
        await _run(session, "are you there?")
        assert assistant_lines(session)[-1] == "I'm back. How can I help?"
        # a success resets the count: the next failure is a plain apology again
        model.push(APIConnectionError("again", retryable=False))
        await _run(session, "and now?")
        assert assistant_lines(session)[-1] == APOLOGY


async def test_unverified_greeter_failure_apologises_too(db: Database) -> None:
    model = ScriptedLLM()
    async with call(db, model, verified=False) as (session, _):
        model.push(APIConnectionError("down", retryable=False))
        await _run(session, "hi, I need help")
        assert assistant_lines(session)[-1] == APOLOGY
        model.push(
            ToolCall("verify_identity", {"customer_number": "1001", "pin": "1234"}), "Verified."
        )
        await _run(session, "1001, PIN 1234")
        assert assistant_lines(session)[-1] == "Verified."


async def test_unexpected_provider_exception_is_not_silence(db: Database) -> None:
    """Not an APIError: a provider plugin bug. The caller still hears something."""
    model = ScriptedLLM(["Balance desk."])
    async with call(db, model) as (session, _):
        before = len(assistant_lines(session))
        model.push(RuntimeError("plugin bug"))
        await _run(session, "balance?")
        assert assistant_lines(session)[before:], "silence after a provider exception"
        model.push("Yes?")
        await _run(session, "hello?")
        assert assistant_lines(session)[-1] == "Yes?"


class _FailOnceStream(InstantStream):
    failures = 0

    async def _run(self) -> None:
        if _FailOnceStream.failures == 0:
            _FailOnceStream.failures += 1
            raise APIConnectionError("blip", retryable=True)
        await super()._run()


class FailOnceLLM(ScriptedLLM):
    def chat(
        self, *, chat_ctx: Any, tools: Any = None, conn_options: Any = None, **kwargs: Any
    ) -> Any:
        stream = super().chat(chat_ctx=chat_ctx, tools=tools, conn_options=conn_options, **kwargs)
        stream.__class__ = _FailOnceStream
        return stream


async def test_transient_provider_blip_is_retried_without_an_apology(db: Database) -> None:
    _FailOnceStream.failures = 0
    model = FailOnceLLM(["Balance desk.", "All good."])
    retry_once = SessionConnectOptions(
        llm_conn_options=APIConnectOptions(max_retry=2, retry_interval=0.01, timeout=2.0),
        max_unrecoverable_errors=1_000_000,
    )
    async with call(db, model, conn=retry_once) as (session, _):
        await _run(session, "hello")
        lines = assistant_lines(session)
    assert _FailOnceStream.failures == 1
    assert APOLOGY not in lines and lines[-1] == "All good."
