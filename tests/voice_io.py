"""Audio in and out of an AgentSession without a room: a caller's microphone that sends
silence in real time and speaks queued lines, and a speaker that keeps what the agent said,
segment by segment, with the desk that was speaking."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from livekit import rtc
from livekit.agents.voice import io

from models.local_stt import normalise_transcript, to_whisper_input
from models.local_tts import PiperTTS, VoiceStyle

# A voice no desk uses; no Piper noise, so a line is the same audio every run.
CALLER_VOICE = VoiceStyle(pitch=1.05, noise_scale=0.0, noise_w_scale=0.0)


async def synthesise(tts: PiperTTS, text: str) -> rtc.AudioFrame:
    frames = [ev.frame async for ev in tts.synthesize(text)]
    return rtc.combine_audio_frames(frames)


async def transcribe(speech: Any, frames: list[rtc.AudioFrame]) -> str:
    """What a listener makes of a long stretch of agent audio: Whisper over the speech
    parts only (its own VAD), so a reply longer than one 30 s window is heard whole."""
    if not frames:
        return ""
    audio = to_whisper_input(rtc.combine_audio_frames(frames))

    def run() -> str:
        segments, _ = speech.whisper.transcribe(
            audio, language="en", beam_size=1, vad_filter=True, condition_on_previous_text=False
        )
        return normalise_transcript(" ".join(s.text for s in segments))

    return await asyncio.to_thread(run)


def resample(frame: rtc.AudioFrame, rate: int) -> rtc.AudioFrame:
    if frame.sample_rate == rate:
        return frame
    resampler = rtc.AudioResampler(frame.sample_rate, rate, num_channels=frame.num_channels)
    return rtc.combine_audio_frames(resampler.push(frame) + resampler.flush())


class CallerMicrophone(io.AudioInput):
    """Real-time 20 ms frames: silence, or the next queued line's audio."""

    def __init__(self, *, sample_rate: int = 24_000, frame_ms: int = 20) -> None:
        super().__init__(label="test caller")
        self.sample_rate = sample_rate
        self._samples = sample_rate * frame_ms // 1000
        self._step = frame_ms / 1000
        self._queue: list[np.ndarray[tuple[int], np.dtype[np.int16]]] = []
        self._next_at: float | None = None
        self._done: list[tuple[int, asyncio.Future[float]]] = []
        self._sent = 0
        self._queued = 0

    def say(self, audio: rtc.AudioFrame) -> asyncio.Future[float]:
        """Queue a line; the future resolves (to the loop time) when its last frame is sent."""
        pcm = np.frombuffer(resample(audio, self.sample_rate).data, dtype=np.int16)
        for start in range(0, len(pcm), self._samples):
            piece = pcm[start : start + self._samples]
            self._queue.append(np.pad(piece, (0, self._samples - len(piece))))
        self._queued += len(range(0, len(pcm), self._samples))
        done: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._done.append((self._queued, done))
        return done

    async def __anext__(self) -> rtc.AudioFrame:
        loop = asyncio.get_running_loop()
        if self._next_at is None:
            self._next_at = loop.time()
        delay = self._next_at - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        self._next_at += self._step
        if self._queue:
            pcm = self._queue.pop(0)
            self._sent += 1
            for count, done in self._done:
                if count == self._sent and not done.done():
                    done.set_result(loop.time())
        else:
            pcm = np.zeros(self._samples, dtype=np.int16)
        return rtc.AudioFrame(
            data=pcm.tobytes(),
            sample_rate=self.sample_rate,
            num_channels=1,
            samples_per_channel=self._samples,
        )


@dataclass
class Segment:
    desk: str
    frames: list[rtc.AudioFrame] = field(default_factory=list)
    first_frame_at: float = 0.0


class CapturedSpeaker(io.AudioOutput):
    """Keeps every frame the agent sends; playback is instant (no barge-in in these tests)."""

    def __init__(self, desk: Callable[[], str]) -> None:
        super().__init__(label="test speaker", capabilities=io.AudioOutputCapabilities(pause=False))
        self._desk = desk
        self.segments: list[Segment] = []
        self._open: Segment | None = None

    async def capture_frame(self, frame: rtc.AudioFrame) -> None:
        await super().capture_frame(frame)
        if self._open is None:
            self._open = Segment(self._desk(), first_frame_at=asyncio.get_running_loop().time())
            self.segments.append(self._open)
            self.on_playback_started(created_at=time.time())
        self._open.frames.append(frame)

    def flush(self) -> None:
        super().flush()
        if self._open is not None:
            played = sum(f.duration for f in self._open.frames)
            self._open = None
            self.on_playback_finished(playback_position=played, interrupted=False)

    def clear_buffer(self) -> None:
        if self._open is not None:
            self._open = None
            self.on_playback_finished(playback_position=0.0, interrupted=True)
