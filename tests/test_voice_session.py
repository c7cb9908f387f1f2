"""A voice call through a real AgentSession in `local` mode: the caller speaks (Piper audio
into the session's audio input), Whisper behind the Silero VAD hears it, the offline model
verifies and hands off, and each desk answers in its own Piper voice (captured and heard
back with Whisper)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from livekit.agents import llm
from livekit.agents.voice import io

import agents.base
from agents import Greeter, new_session
from agents.latency import TurnLatency
from models import build_models
from models.local_tts import DESK_VOICES, PiperTTS
from shared_state import SessionState
from tests.voice_io import (
    CALLER_VOICE,
    CallerMicrophone,
    CapturedSpeaker,
    synthesise,
    transcribe,
)
from tools.db import Database
from tools.money import number_to_words


@pytest.fixture
def desk_voices(local_speech: Any, silero_vad: Any) -> Any:
    models = build_models("local", vad=silero_vad, speech=local_speech)
    agents.base.configure_voices(models.voice_for)
    yield models
    agents.base.configure_voices(None)


async def _until(condition: Callable[[], bool], within: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


@pytest.fixture
async def voice_call(db: Database, desk_voices: Any) -> AsyncIterator[Any]:
    state = SessionState(db=db, channel="app")
    session = new_session(
        state,
        llm=desk_voices.llm,
        stt=desk_voices.stt,
        vad=desk_voices.vad,
        turn_detection=desk_voices.turn_detection,
    )
    microphone = CallerMicrophone()
    speaker = CapturedSpeaker(lambda: state.current_agent or "greeter")
    session.input.audio = microphone
    session.output.audio = speaker
    latency = TurnLatency()
    latency.watch_stt(session.stt)
    async with session:
        await session.start(Greeter())
        yield session, state, microphone, speaker, latency


async def test_a_spoken_turn_verifies_and_hands_off_to_the_balance_desk_by_voice(
    voice_call: Any, local_speech: Any, db: Database
) -> None:
    session, state, microphone, speaker, latency = voice_call
    listening = asyncio.Event()
    session.on(
        "agent_state_changed",
        lambda ev: listening.set() if ev.new_state == "listening" else listening.clear(),
    )
    await _until(lambda: len(speaker.segments) >= 1, 30, "the greeting")
    await asyncio.wait_for(listening.wait(), 30)

    caller = PiperTTS(local_speech.piper, style=CALLER_VOICE)
    line = await synthesise(
        caller,
        "My customer number is one zero zero one and my pin is one two three four. "
        "What's my balance?",
    )
    await microphone.say(line)

    def answered() -> bool:
        """The balance desk spoke after taking over (its line is in the history once played;
        the greeter's acknowledgement of the handoff comes before the handoff item)."""
        items = session.history.items
        handoff_at = [
            n
            for n, i in enumerate(items)
            if i.type == "agent_handoff" and i.new_agent_id == "balance"
        ]
        return bool(handoff_at) and any(
            i.type == "message" and i.role == "assistant" for i in items[handoff_at[-1] + 1 :]
        )

    await _until(
        lambda: (
            state.current_agent == "balance"
            and answered()
            and any(s.desk == "balance" for s in speaker.segments)
            and session.agent_state == "listening"
        ),
        60,
        "the balance desk's answer",
    )

    # What the session heard: the caller's words, the PIN already redacted from history.
    heard = [
        item.text_content or ""
        for item in session.history.items
        if isinstance(item, llm.ChatMessage) and item.role == "user"
    ]
    assert any("1001" in text for text in heard), heard
    assert not any("1234" in text for text in heard), heard
    handoffs = [i for i in session.history.items if i.type == "agent_handoff"]
    assert [(h.old_agent_id, h.new_agent_id) for h in handoffs][-1] == ("greeter", "balance")

    # What the caller heard: the balance desk, in its own voice, saying Alice's balance.
    customer = await db.customer_by_number("1001")
    checking = next(a for a in await db.accounts(customer.id) if a.kind == "checking")
    dollars = checking.available_balance_cents // 100
    # The last segment is the desk's answer (the acknowledgement before it is the greeter's
    # line, played while the transfer was decided).
    assert speaker.segments[-1].desk == "balance"
    balance_audio = list(speaker.segments[-1].frames)
    assert {(f.sample_rate, f.num_channels) for f in balance_audio} == {(22050, 1)}
    said = await transcribe(local_speech, balance_audio)
    assert said_amount(said, dollars), (dollars, said)
    assert isinstance(session.current_agent.tts, PiperTTS)
    assert session.current_agent.tts.style == DESK_VOICES["balance"] != DESK_VOICES["greeter"]

    # The end-of-call log line's per-turn metrics, all measured on this voice turn.
    summary = latency.summary(session.history)
    assert {"eou_delay", "stt_duration", "llm_ttft", "tts_ttfb"} <= summary.keys(), summary


def said_amount(transcript: str, dollars: int) -> bool:
    """Whisper writes a spoken amount as figures ('$4,500') or, now and then, as words."""
    figures = re.sub(r"(?<=\d),(?=\d)", "", transcript)
    return str(dollars) in figures or number_to_words(dollars) in transcript.lower()


class CapturedTranscript(io.TextOutput):
    """The session's transcription output: what a room sends on lk.transcription."""

    def __init__(self) -> None:
        super().__init__(label="captured", next_in_chain=None)
        self.text = ""

    async def capture_text(self, text: str) -> None:
        self.text += text

    def flush(self) -> None:
        self.text += "\n"


async def test_transcript_shows_amounts_as_figures_and_the_tts_says_them_in_words(
    db: Database, desk_voices: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Spoken-form normalisation belongs to the TTS input only: the caller reads
    "$4,458.12" in the transcript and hears "four thousand four hundred fifty-eight dollars
    and twelve cents" from Piper."""
    spoken: list[str] = []
    synthesize = PiperTTS.synthesize

    def recording(self: PiperTTS, text: str, **kwargs: Any) -> Any:
        spoken.append(text)
        return synthesize(self, text, **kwargs)

    monkeypatch.setattr(PiperTTS, "synthesize", recording)
    state = SessionState(db=db, channel="app")
    session = new_session(state, llm=desk_voices.llm, vad=desk_voices.vad)
    session.output.audio = CapturedSpeaker(lambda: state.current_agent or "greeter")
    transcript = CapturedTranscript()
    session.output.transcription = transcript
    async with session:
        await session.start(Greeter())
        await session.run(
            user_input="My customer number is 1001 and my PIN is 1234. What's my balance?"
        )
        await _until(lambda: "$4,458.12" in transcript.text, 60, "the balance in the transcript")
        await _until(lambda: "twelve cents" in " ".join(spoken), 60, "the balance spoken")

    assert "available balance of $4,458.12" in transcript.text
    assert "dollars" not in transcript.text
    heard = " ".join(spoken)
    assert "four thousand four hundred fifty-eight dollars and twelve cents" in heard
    assert "$" not in heard
