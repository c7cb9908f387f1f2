"""Realtime mode: the real `RealtimeModel` that `build_models("realtime")` constructs, against a
local stand-in of the Realtime API's websocket. A handoff must re-point the one shared
realtime session (a `session.update` with the new desk's instructions and tools on the
same websocket), not open a second one."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from livekit.agents import APIConnectOptions
from livekit.agents.utils import http_context
from livekit.agents.voice.agent_session import SessionConnectOptions
from security_helpers import settle
from standins.openai_chat import Call
from standins.openai_realtime import Failed, OpenAIRealtimeStandIn
from voice_io import CapturedSpeaker

from agents import BalanceAgent, Greeter, new_session
from agents.greeter import GREETING
from agents.prompts import instructions_for
from agents.session import APOLOGY
from agents.verification import bind_principal
from models import build_models
from shared_state import Assurance, HandoffBrief, SessionState
from tools.db import Database

ONE_TRY = SessionConnectOptions(
    llm_conn_options=APIConnectOptions(max_retry=0, retry_interval=0.01, timeout=5.0),
    max_unrecoverable_errors=1_000_000,
)


@pytest.fixture
async def realtime(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[OpenAIRealtimeStandIn]:
    server = OpenAIRealtimeStandIn()
    await server.start()
    # How a user points the app at another endpoint: the variables the plugin reads.
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    yield server
    await server.stop()
    assert server.errors == [], f"the Realtime API would answer with errors: {server.errors}"
    assert server.remaining == 0, f"{server.remaining} stand-in turn(s) never requested"


def assistant_lines(session: Any) -> list[str]:
    return [
        (i.text_content or "").strip()
        for i in session.history.items
        if i.type == "message" and i.role == "assistant"
    ]


async def until(predicate: Any, what: str) -> None:
    for _ in range(500):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


async def test_handoff_updates_the_one_realtime_session(
    db: Database, realtime: OpenAIRealtimeStandIn
) -> None:
    models = build_models("realtime")
    state = SessionState(db=db, channel="console")
    realtime.push(
        Call("verify_identity", {"customer_number": "1001", "pin": "1234"}),
        "Thanks Alice, you're verified.",
        Call("transfer_to_balance", {"reason": "balance"}),
        "Balance desk here. Which account?",
    )
    speaker = CapturedSpeaker(lambda: state.current_agent or "")
    async with (
        http_context.open(),  # the plugins' shared HTTP session, as in a job
        new_session(state, llm=models.llm, tts=models.tts, conn_options=ONE_TRY) as session,
    ):
        session.output.audio = speaker  # audio out, as in a room: say() needs the TTS
        await session.start(Greeter())

        # the fixed greeting is spoken by the TTS in the realtime model's voice
        # (one request per sentence: the plugin's TTS is not streaming)
        def greeting_said() -> str:
            return " ".join(r["input"] for r in realtime.speech_requests)

        await until(lambda: greeting_said() == GREETING and speaker.segments, "the greeting")
        assert {r["voice"] for r in realtime.speech_requests} == {"marin"}
        greeting_requests = len(realtime.speech_requests)
        await until(lambda: realtime.connections, "the realtime websocket")
        conn = realtime.connections[0]
        assert conn.path == "/v1/realtime" and conn.query["model"] == "gpt-realtime"
        assert conn.authorization == "Bearer sk-test"
        await until(lambda: "verify_identity" in conn.tool_names, "the greeter's tools")
        assert conn.session["instructions"] == instructions_for("greeter")

        await asyncio.wait_for(
            session.run(user_input="My customer number is 1001 and my PIN is 1234"), 15
        )
        assert state.is_verified
        outputs = [
            e["item"] for e in conn.sent("conversation.item.create")
            if e["item"]["type"] == "function_call_output"
        ]  # fmt: skip
        assert outputs and json.loads(outputs[0]["output"])["outcome"]["type"] == "verified"

        updates_before = len(conn.sent("session.update"))
        result = await asyncio.wait_for(session.run(user_input="What's my balance?"), 15)
        result.expect.contains_agent_handoff(new_agent_type=BalanceAgent)
        await until(
            lambda: "Balance desk here. Which account?" in assistant_lines(session),
            "the balance desk's opening",
        )
        assert isinstance(session.current_agent, BalanceAgent)

        # one websocket for the whole call: the handoff re-pointed it
        assert len(realtime.connections) == 1
        updates = conn.sent("session.update")[updates_before:]
        sent_instructions = [
            u["session"]["instructions"] for u in updates if "instructions" in u["session"]
        ]
        sent_tools = [
            sorted(t["name"] for t in u["session"]["tools"])
            for u in updates
            if "tools" in u["session"]
        ]
        assert sent_instructions == [instructions_for("balance")]
        assert sent_tools == [
            ["get_balance", "transfer_to_greeter", "transfer_to_human", "transfer_to_transactions"]
        ]
        assert conn.session["instructions"] == instructions_for("balance")
        assert "verify_identity" not in conn.tool_names
        # the new desk's opening was asked for on the same session, after the update
        last_update = conn.events.index(updates[-1])
        assert any(e["type"] == "response.create" for e in conn.events[last_update:])
        # the PIN the caller said never stays in the conversation the provider holds
        assert "1234" not in json.dumps(list(conn.items.values()))
    await models.llm.aclose()
    await settle(state)
    # the model's own replies are its own audio: the TTS spoke the greeting only
    assert len(realtime.speech_requests) == greeting_requests


async def test_a_failed_realtime_response_gets_the_apology_and_the_call_goes_on(
    db: Database, realtime: OpenAIRealtimeStandIn
) -> None:
    """The Realtime API gives up on a response (`response.done`, status failed): livekit
    reports it as recoverable, since the session lives on, but that reply is lost; the
    caller hears the apology (spoken by the TTS), and the next turn works."""
    models = build_models("realtime")
    state = SessionState(db=db, channel="console")
    bind_principal(state, await db.customer_by_number("1001"), Assurance.PIN)
    state.brief = HandoffBrief(from_agent="greeter")
    realtime.push("Balance desk here.")
    async with (
        http_context.open(),
        new_session(state, llm=models.llm, tts=models.tts, conn_options=ONE_TRY) as session,
    ):
        session.output.audio = CapturedSpeaker(lambda: state.current_agent or "")
        await session.start(BalanceAgent())
        await until(lambda: "Balance desk here." in assistant_lines(session), "the opening")
        before = len(assistant_lines(session))

        realtime.push(Failed())
        await asyncio.wait_for(session.run(user_input="what's my balance?"), 15)
        await until(lambda: len(assistant_lines(session)) > before, "the apology")
        await asyncio.sleep(0.2)
        assert assistant_lines(session)[before:] == [APOLOGY]
        assert (
            realtime.speech_requests
            and " ".join(r["input"] for r in realtime.speech_requests) == APOLOGY
        )

        realtime.push("Sorry about that. Which account?")
        await asyncio.wait_for(session.run(user_input="hello?"), 15)
        await until(
            lambda: assistant_lines(session)[-1] == "Sorry about that. Which account?", "reply"
        )
    await models.llm.aclose()
    await settle(state)
