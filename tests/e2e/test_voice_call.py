"""A keyless Agent Server in `local` mode hears and speaks through the real LiveKit server:
a caller publishes microphone audio (Piper-spoken lines), the agent answers in audio, and
the test hears that audio back with Whisper. Barge-in: the caller talks over a long
answer; the agent stops and answers the new words."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import pytest
from e2e_stack import Stack
from livekit import rtc

from local_stack import AgentWorker
from local_stack.voice_caller import VoiceCaller, voice_token
from models.local_tts import PiperTTS, VoiceStyle
from tools.money import number_to_words

VOICE_AGENT = "bank-support-voice"  # its own name: the text worker never takes these calls
CALLER = VoiceStyle(pitch=1.05, noise_scale=0.0, noise_w_scale=0.0)


@pytest.fixture(scope="module")
def voice_worker(stack: Stack) -> Iterator[AgentWorker]:
    worker = stack.worker(
        "voice-worker", BANK_MODEL_MODE="local", LIVEKIT_AGENT_NAME_OVERRIDE=VOICE_AGENT
    ).start()
    yield worker
    worker.stop()


async def _line(speech: Any, text: str) -> rtc.AudioFrame:
    tts = PiperTTS(speech.piper, style=CALLER)
    return rtc.combine_audio_frames([ev.frame async for ev in tts.synthesize(text)])


async def _heard(speech: Any, frames: list[rtc.AudioFrame]) -> str:
    from tests.voice_io import transcribe

    return await transcribe(speech, frames)


@pytest.fixture
async def voice_call(stack: Stack, voice_worker: AgentWorker) -> AsyncIterator[VoiceCaller]:
    livekit = stack.livekit
    token = voice_token(
        livekit.api_key,
        livekit.api_secret,
        room=f"voice-{uuid.uuid4().hex[:8]}",
        identity="caller",
        agent_name=VOICE_AGENT,
    )
    caller = await VoiceCaller.join(livekit.url, token)
    try:
        yield caller
    finally:
        await caller.hang_up()


async def _alice_available_dollars(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        cents = await conn.fetchval(
            "SELECT a.available_balance_cents FROM accounts a JOIN customers c "
            "ON c.id = a.customer_id WHERE c.customer_number = '1001' AND a.kind = 'checking'"
        )
    finally:
        await conn.close()
    return int(cents) // 100


def _said_amount(transcript: str, dollars: int) -> bool:
    figures = re.sub(r"(?<=\d),(?=\d)", "", transcript)
    return str(dollars) in figures or number_to_words(dollars) in transcript.lower()


async def test_caller_speaks_agent_answers_in_audio_and_hands_off(
    stack: Stack, voice_call: VoiceCaller, local_speech: Any
) -> None:
    caller = voice_call
    verify = await _line(
        local_speech,
        "My customer number is one zero zero one and my pin is one two three four. "
        "What's my balance?",
    )
    # The greeting, spoken: from the start of the call (a warm agent may finish it before
    # this line runs).
    await caller.until_listening(since=0.0, within=90)
    assert caller.desk == "greeter"
    greeting = [h.frame for h in caller.heard if h.loud]

    spoken_at = await caller.say(verify)
    await caller.until(lambda: caller.desk == "balance" or None, 60, "no handoff to balance")
    # The greeter's acknowledgement ("Sure, one moment.") ends a speaking spell of its own:
    # the answer is the balance desk's, so wait for that desk to finish speaking.
    handed = next(t for t, desk in caller.desks if desk == "balance")
    answered = await caller.until_listening(since=handed, within=90)

    assert [d for _, d in caller.desks][:2] == ["greeter", "balance"]
    first = caller.first_loud_after(spoken_at)
    assert first is not None and first.at - spoken_at < 20, caller.describe()
    dollars = await _alice_available_dollars(stack.dsn)
    reply = await _heard(local_speech, caller.audio_between(spoken_at, answered))
    assert _said_amount(reply, dollars), (dollars, reply)
    assert sum(f.duration for f in greeting) > 1.0  # the greeter spoke before anything


async def test_barge_in_stops_the_agent_and_answers_the_new_words(
    voice_call: VoiceCaller, local_speech: Any
) -> None:
    caller = voice_call
    verify = await _line(
        local_speech,
        "My customer number is one zero zero one and my pin is one two three four. "
        "Read me my recent transactions.",
    )
    interrupt = await _line(local_speech, "Actually, please lock my credit card.")
    await caller.until_listening(since=0.0, within=90)  # the greeting, from the start

    await caller.say(verify)

    # The transactions desk reads a long list; talk over it once it is well under way.
    def transactions_speaking() -> float | None:
        if caller.desk != "transactions":
            return None
        since = caller.desks[-1][0]
        return next((t for t, s in caller.states if t >= since and s == "speaking"), None)

    speaking = await caller.until(
        transactions_speaking, 90, "the transactions desk never started reading"
    )
    await caller.until(
        lambda: (
            sum(h.frame.duration for h in caller.heard if h.at > speaking and h.loud) > 2.0 or None
        ),
        30,
        "no transactions audio",
    )
    barge_start = time.monotonic()
    barge_end = await caller.say(interrupt)

    # The agent stops talking while the caller is still on the line with the new words...
    stopped = await caller.until(
        lambda: next((t for t, s in caller.states if t > barge_start and s != "speaking"), None),
        30,
        "the agent kept talking over the caller",
    )
    assert stopped < barge_end + 3.0, (stopped - barge_start, barge_end - barge_start)
    # ...and answers them: card security reads back the credit card to lock.
    await caller.until(
        lambda: caller.desk == "card_security" or None, 60, "no handoff to card security"
    )
    handed = caller.desks[-1][0]  # the new desk speaks only after it took the call
    answered = await caller.until_listening(since=handed, within=90)
    reply = await _heard(local_speech, caller.audio_between(handed, answered))
    assert "5454" in reply.replace(" ", "") or "credit" in reply.lower(), reply
