"""Pipeline mode's speech wiring through local stand-ins of Deepgram (live STT websocket) and
ElevenLabs (multi-stream-input TTS websocket): the caller's audio goes to Deepgram, its
transcript reaches the session as the caller's turn, each desk speaks with its own
ElevenLabs voice (`Models.voice_for` via `configure_voices`, as agent.py wires it), and a
handoff keeps the one STT stream."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from livekit.agents.utils import http_context
from livekit.plugins import deepgram
from livekit.plugins.elevenlabs import tts as elevenlabs_tts
from scripted_llm import ScriptedLLM, ToolCall
from security_helpers import settle
from standins.speech import DeepgramStandIn, ElevenLabsStandIn
from voice_io import CallerMicrophone, CapturedSpeaker

from agents import BalanceAgent, Greeter, new_session
from agents.base import configure_voices
from agents.greeter import GREETING
from models.selection import DEFAULT_VOICES, Models
from shared_state import SessionState
from tools.db import Database


@pytest.fixture
async def speech(
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[tuple[DeepgramStandIn, ElevenLabsStandIn]]:
    dg, eleven = DeepgramStandIn(), ElevenLabsStandIn()
    await dg.start()
    await eleven.start()
    monkeypatch.setenv("ELEVEN_API_KEY", "el-test")
    # voice_for builds elevenlabs.TTS(voice_id=...) with the plugin's default endpoint;
    # the plugin reads that default at construction, so the stand-in takes its place.
    monkeypatch.setattr(elevenlabs_tts, "API_BASE_URL_V1", eleven.base_url)
    async with http_context.open():  # the plugins' shared HTTP session, as in a job
        yield dg, eleven
    configure_voices(None)
    await dg.stop()
    await eleven.stop()


async def until(predicate: Callable[[], Any], what: str, within: float = 15) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def lines(session: Any, role: str) -> list[str]:
    return [
        (i.text_content or "").strip()
        for i in session.history.items
        if i.type == "message" and i.role == role
    ]


async def test_transcripts_reach_the_session_and_each_desk_speaks_with_its_voice(
    db: Database, speech: tuple[DeepgramStandIn, ElevenLabsStandIn]
) -> None:
    dg, eleven = speech
    configure_voices(Models("pipeline", llm=None).voice_for)  # as agent.py does in pipeline mode
    model = ScriptedLLM(
        [
            ToolCall("verify_identity", {"customer_number": "1001", "pin": "1234"}),
            "Thanks Alice, you're verified.",
            ToolCall("transfer_to_balance", {"reason": "balance"}),
            "Balance desk here. Which account?",
        ]
    )
    stt = deepgram.STT(model="nova-3", api_key="dg-test", base_url=f"{dg.base_url}/listen")
    state = SessionState(db=db, channel="console")
    speaker = CapturedSpeaker(lambda: state.current_agent or "")
    async with new_session(state, llm=model, stt=stt) as session:
        session.input.audio = CallerMicrophone(sample_rate=16_000)  # silence, in real time
        session.output.audio = speaker
        await session.start(Greeter())
        await until(lambda: (DEFAULT_VOICES["greeter"], GREETING) in eleven.spoken(), "greeting")

        dg.say("My customer number is 1001 and my PIN is 1234.")
        await until(
            lambda: "Thanks Alice, you're verified." in lines(session, "assistant"), "reply"
        )
        assert state.is_verified
        dg.say("What's my balance?")
        await until(
            lambda: (
                (DEFAULT_VOICES["balance"], "Balance desk here. Which account?") in eleven.spoken()
            ),
            "the balance desk's voice",
        )
        assert isinstance(session.current_agent, BalanceAgent)
        await until(lambda: len(speaker.segments) == 4, "the balance desk's audio")
        # the transcripts are the caller's turns (the PIN redacted once verified)
        assert lines(session, "user") == [
            "My customer number is 1001 and my PIN is [PIN redacted].",
            "What's my balance?",
        ]

    await settle(state)
    assert eleven.spoken() == [
        (DEFAULT_VOICES["greeter"], GREETING),
        (DEFAULT_VOICES["greeter"], "Thanks Alice, you're verified."),
        # the handoff turn's first words, from the transfer's response (agents/acknowledgement.py)
        (DEFAULT_VOICES["greeter"], "Sure, one moment."),
        (DEFAULT_VOICES["balance"], "Balance desk here. Which account?"),
    ]
    assert all(s.api_key == "el-test" for s in eleven.syntheses)
    # the synthesized audio was decoded and played, each line by the desk that said it
    # (the acknowledgement plays while the transfer is decided, so the desk on record may
    # already be the next one when its audio starts; its voice above is the greeter's)
    desks = [seg.desk for seg in speaker.segments]
    assert desks[:2] == ["greeter", "greeter"] and desks[3] == "balance" and len(desks) == 4
    # one STT stream for the whole call: the handoff did not open another
    assert len(dg.connections) == 1
    conn = dg.connections[0]
    assert conn.query["model"] == "nova-3" and conn.authorization == "Token dg-test"
    assert conn.audio_bytes > 0
