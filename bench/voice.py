"""7. Voice to voice through the real LiveKit server, local models on the CPU.

A real livekit-server on loopback and two keyless Agent Servers (`agent.py dev`): one in
`local` mode (Whisper -> offline model -> Piper), one in `offline` (text) mode. A caller
joins each through the rtc SDK:

* voice: publishes a microphone track and speaks Piper-synthesised lines; measured from the
  end of the caller's audio (when its last sample leaves the caller's source) to the first
  loud 20 ms frame of the agent's audio track heard by the caller;
* text: types the same lines on `lk.chat`; measured from sending to the agent's
  `lk.transcription` stream opening (its first text of the reply).

The parts come from livekit's own per-turn metrics, which the Agent Server writes in its
end-of-call log line (`latency`: end-of-utterance delay, STT, LLM TTFT, TTS TTFB). CPU is
the voice worker's process tree (psutil), between the first caller line and hang-up."""

from __future__ import annotations

import asyncio
import json
import os
import re
import tempfile
import time
import uuid
from pathlib import Path

import psutil
from livekit import rtc

from local_stack import AgentWorker, LiveKitServer, ensure_livekit_server
from local_stack.voice_caller import VoiceCaller, voice_token

from .common import BenchResult, Stats, Table, bench_database

LINES = [
    "My customer number is one zero zero one and my pin is one two three four. What's my balance?",
    "What about my savings account?",
    "Read me my recent transactions.",
    "What's my balance?",
    "Thank you. What about my checking account?",
    "What's my balance?",
]


def _worker(server: LiveKitServer, dsn: str, logs: Path, name: str, mode: str) -> AgentWorker:
    return AgentWorker(
        server.url,
        server.api_key,
        server.api_secret,
        dsn,
        log_path=logs / f"{name}.log",
        extra_env={"BANK_MODEL_MODE": mode, "LIVEKIT_AGENT_NAME_OVERRIDE": name},
    )


def _cpu_seconds(pid: int) -> float:
    root = psutil.Process(pid)
    total = 0.0
    for proc in [root, *root.children(recursive=True)]:
        try:
            times = proc.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


async def _synthesise(lines: list[str]) -> list[rtc.AudioFrame]:
    from models.local_models import load_local_speech
    from models.local_tts import PiperTTS, VoiceStyle

    speech = await asyncio.to_thread(load_local_speech)
    tts = PiperTTS(speech.piper, style=VoiceStyle(pitch=1.05, noise_scale=0.0, noise_w_scale=0.0))
    out = []
    for line in lines:
        out.append(rtc.combine_audio_frames([ev.frame async for ev in tts.synthesize(line)]))
    return out


async def _voice_call(
    server: LiveKitServer, worker: AgentWorker, audio: list[rtc.AudioFrame], name: str
) -> tuple[list[float], float, float]:
    """(voice-to-voice seconds per turn, CPU seconds, conversation seconds)."""
    token = voice_token(
        server.api_key,
        server.api_secret,
        room=f"bench-{uuid.uuid4().hex[:8]}",
        identity="caller",
        agent_name=name,
    )
    caller = await VoiceCaller.join(server.url, token)
    assert worker.process is not None
    try:
        await caller.until_listening(since=time.monotonic(), within=120)
        cpu_start, wall_start = _cpu_seconds(worker.process.pid), time.monotonic()
        delays = []
        for line in audio:
            spoken_at = await caller.say(line)
            done = await caller.until_listening(since=spoken_at, within=120)
            first = caller.first_loud_after(spoken_at)
            if first is None or first.at > done:
                raise RuntimeError(f"no spoken answer; {caller.describe()}")
            delays.append(first.at - spoken_at)
        wall = time.monotonic() - wall_start
        cpu = _cpu_seconds(worker.process.pid) - cpu_start
    finally:
        await caller.hang_up()
    return delays, cpu, wall


async def _text_call(server: LiveKitServer, lines: list[str], name: str) -> list[float]:
    token = voice_token(
        server.api_key,
        server.api_secret,
        room=f"bench-{uuid.uuid4().hex[:8]}",
        identity="caller",
        agent_name=name,
    )
    caller = await VoiceCaller.join(server.url, token, microphone=False)
    try:
        await caller.until(lambda: caller.texts or None, 60, "no greeting")
        await asyncio.sleep(0.5)
        delays = []
        for line in lines:
            count = len(caller.texts)
            sent = await caller.type(line)
            opened = await caller.until(
                lambda c=count: caller.texts[c][0] if len(caller.texts) > c else None,  # type: ignore[misc]
                60,
                "no typed answer",
            )
            delays.append(opened - sent)
            await asyncio.sleep(1.0)  # let the rest of the reply arrive
    finally:
        await caller.hang_up()
    return delays


def _latency_from_log(log: str) -> dict[str, str]:
    """The `latency` field of the Agent Server's last `session finished` line."""
    found: dict[str, str] = {}
    for line in log.splitlines():
        if "session finished" not in line or "latency" not in line:
            continue
        match = re.search(r"\"latency\":\s*(\{[^{}]*\})", line)
        if match:
            found = json.loads(match.group(1))
    return found


async def run(*, smoke: bool = False, scale: float = 1.0) -> BenchResult:
    lines = LINES[:2] if smoke else LINES
    result = BenchResult("voice", "7. Voice to voice through the real LiveKit server (local mode)")
    audio = await _synthesise(lines)
    load_before = os.getloadavg()[0]
    logs = Path(tempfile.mkdtemp(prefix="bench-voice-"))
    async with bench_database() as bdb:
        server = LiveKitServer(ensure_livekit_server(quiet=True), log_path=logs / "lk.log").start()
        voice = _worker(server, bdb.dsn, logs, "bench-voice", "local").start()
        text = _worker(server, bdb.dsn, logs, "bench-text", "offline").start()
        try:
            v2v, cpu, wall = await _voice_call(server, voice, audio, "bench-voice")
            typed = await _text_call(server, lines, "bench-text")
            await asyncio.sleep(3.0)  # the job's end-of-call line is written at shutdown
            parts = _latency_from_log(voice.log_text())
        finally:
            voice.stop()
            text.stop()
            server.stop()
    v, t = Stats.of(v2v), Stats.of(typed)
    table = Table(
        "Caller turn -> first agent output, through livekit-server",
        ["turn", "n", "p50 ms", "p99 ms", "mean ms", "max ms"],
    )
    table.add(
        "voice: end of caller audio -> first agent audio frame",
        v.n,
        v.p50_ms,
        v.p99_ms,
        v.mean_ms,
        v.max_ms,
    )
    table.add(
        "text: lk.chat sent -> lk.transcription opened",
        t.n,
        t.p50_ms,
        t.p99_ms,
        t.mean_ms,
        t.max_ms,
    )
    result.tables.append(table)
    breakdown = Table(
        "Voice turn parts (livekit per-turn metrics from the agent's end-of-call log line)",
        ["part", "p50/max s (n)"],
    )
    for name in (
        "eou_delay",
        "transcription_delay",
        "stt_duration",
        "llm_ttft",
        "tts_ttfb",
        "voice_to_voice",
    ):
        breakdown.add(name, parts.get(name, "n/a"))
    result.tables.append(breakdown)
    per_minute = cpu / (wall / 60) if wall else float("nan")
    cost = Table(
        "CPU cost of a voice call (voice worker's process tree)",
        ["conversation s", "CPU s", "CPU s per minute", "calls per core"],
    )
    cost.add(wall, cpu, per_minute, 60 / per_minute if per_minute else float("nan"))
    result.tables.append(cost)
    result.notes += _dominant(parts, v.p50_ms)
    result.notes.append(
        f"machine load (1-min load average) {load_before:.1f} at the start and "
        f"{os.getloadavg()[0]:.1f} at the end, on {os.cpu_count()} cores: every figure here "
        "includes waiting for CPU that other processes held."
    )
    result.summary = (
        f"voice: voice-to-voice p50 {v.p50_ms:.0f} ms (max {v.max_ms:.0f}) vs text "
        f"p50 {t.p50_ms:.0f} ms; {per_minute:.1f} CPU s per minute of call "
        f"(~{60 / per_minute:.1f} calls per core)"
        if per_minute
        else "voice: no measurement"
    )
    return result


def _p50(value: str | None) -> float:
    """Milliseconds from the log's "p50/max s (n)"."""
    if not value:
        return 0.0
    return float(value.split("/")[0]) * 1000


def _dominant(parts: dict[str, str], voice_to_voice_ms: float) -> list[str]:
    """Split the p50 voice-to-voice delay into its parts. livekit's end-of-utterance delay
    already contains the transcript wait (a non-streaming STT answers only after the VAD
    closed the utterance), so: VAD closing silence = transcription delay - STT duration."""
    stt = _p50(parts.get("stt_duration"))
    silence = max(0.0, _p50(parts.get("transcription_delay")) - stt)
    endpointing = max(0.0, _p50(parts.get("eou_delay")) - _p50(parts.get("transcription_delay")))
    named = {
        "VAD closing silence (Silero end of speech)": silence,
        "STT (Whisper tiny.en on the CPU, after the caller stopped)": stt,
        "endpointing beyond the transcript": endpointing,
        "LLM time to first token (the offline model)": _p50(parts.get("llm_ttft")),
        "TTS time to first byte (Piper, first sentence)": _p50(parts.get("tts_ttfb")),
    }
    rest = voice_to_voice_ms - sum(named.values())
    split = "; ".join(f"{k} {v:.0f} ms" for k, v in named.items())
    top = max(named, key=lambda k: named[k])
    return [
        f"p50 split: {split}; the rest (audio through livekit-server both ways, frame "
        f"buffering, scheduling) {rest:.0f} ms. Dominant: {top}.",
        "STT and TTS are CPU-bound and scale with the utterance and the first sentence, and "
        "on this shared 2-core box they also wait for other processes' CPU. A GPU "
        "(faster-whisper device='cuda', Piper use_cuda) cuts each to tens of ms and frees "
        "the CPU for more calls. A hosted streaming STT (Deepgram) recognises while the "
        "caller speaks, so almost nothing is left to do after they stop, and its final "
        "transcript can end the turn before the VAD's closing silence; a hosted TTS's first "
        "byte is typically 100-300 ms over the network with no local CPU.",
        "The LLM part is ~0 here (the offline model is code); a hosted LLM adds its time to "
        "first token (typically several hundred ms), which would then be a major part.",
        "CPU: Whisper and Piper run only while a turn is being heard or spoken; the VAD runs "
        "on every 10-30 ms frame of the call. Calls per core = 60 / CPU s per minute.",
    ]
