"""Speech to text on the CPU: faster-whisper (Whisper tiny.en, CTranslate2 int8).

Whisper is not a streaming recogniser, so this STT declares `streaming=False` and the
session runs it behind its VAD (livekit's `stt.StreamAdapter`): one recognition per
utterance, as soon as the VAD says the caller stopped. Recognition runs in a worker
thread so the event loop keeps moving audio while Whisper works."""

from __future__ import annotations

import asyncio
import math
import re
from typing import Any

import numpy as np
from livekit import rtc
from livekit.agents import stt, utils
from livekit.agents.language import LanguageCode
from livekit.agents.types import (
    DEFAULT_API_CONNECT_OPTIONS,
    NOT_GIVEN,
    APIConnectOptions,
    NotGivenOr,
)

WHISPER_RATE = 16_000

# Whisper writes numbers the way an essay would ("1,001"); a caller's customer number or
# PIN is a digit run, and the desk's parser reads it as one.
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
# Digits read out one by one come back as "1, 2, 3, 4": one number, as the caller meant.
_SPELLED_DIGITS = re.compile(r"(?<![\d,.])\d(?:(?:,\s*|\s+|-)\d(?![\d,.]\d)){2,}\b")


def normalise_transcript(text: str) -> str:
    text = _THOUSANDS.sub("", " ".join(text.split()))
    return _SPELLED_DIGITS.sub(lambda m: re.sub(r"\D", "", m.group(0)), text)


def to_whisper_input(frame: rtc.AudioFrame) -> np.ndarray[Any, np.dtype[np.float32]]:
    """Mono float32 at 16 kHz, the only input Whisper takes."""
    samples = np.frombuffer(frame.data, dtype=np.int16)
    if frame.num_channels > 1:
        samples = samples.reshape(-1, frame.num_channels).mean(axis=1).astype(np.int16)
    if frame.sample_rate != WHISPER_RATE:
        resampler = rtc.AudioResampler(frame.sample_rate, WHISPER_RATE, num_channels=1)
        mono = rtc.AudioFrame(
            data=samples.tobytes(),
            sample_rate=frame.sample_rate,
            num_channels=1,
            samples_per_channel=len(samples),
        )
        out = resampler.push(mono) + resampler.flush()
        samples = (
            np.concatenate([np.frombuffer(f.data, dtype=np.int16) for f in out])
            if out
            else np.zeros(0, dtype=np.int16)
        )
    return (samples.astype(np.float32) / 32768.0).astype(np.float32)


class WhisperSTT(stt.STT[None]):
    def __init__(self, model: Any, *, model_name: str = "tiny.en", language: str = "en") -> None:
        super().__init__(capabilities=stt.STTCapabilities(streaming=False, interim_results=False))
        self._model = model  # faster_whisper.WhisperModel, loaded once per process
        self._model_name = model_name
        self._language = language

    @property
    def model(self) -> str:
        return self._model_name

    @property
    def provider(self) -> str:
        return "faster-whisper"

    async def _recognize_impl(
        self,
        buffer: utils.AudioBuffer,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
    ) -> stt.SpeechEvent:
        frame = utils.merge_frames(buffer) if isinstance(buffer, list) else buffer
        audio = to_whisper_input(frame)
        text, confidence = await asyncio.to_thread(self._transcribe, audio)
        return stt.SpeechEvent(
            type=stt.SpeechEventType.FINAL_TRANSCRIPT,
            request_id=utils.shortuuid("whisper_"),
            alternatives=[
                stt.SpeechData(
                    language=LanguageCode(self._language),
                    text=text,
                    start_time=0.0,
                    end_time=len(audio) / WHISPER_RATE,
                    confidence=confidence,
                )
            ],
        )

    def _transcribe(self, audio: np.ndarray[Any, np.dtype[np.float32]]) -> tuple[str, float]:
        if len(audio) < WHISPER_RATE // 10:  # under 100 ms: nothing Whisper could read
            return "", 0.0
        segments, _info = self._model.transcribe(
            audio,
            language=self._language,
            beam_size=1,  # greedy: several times faster on a CPU, same words on clear speech
            condition_on_previous_text=False,
            vad_filter=False,  # the session's VAD already cut the utterance
            # Timestamps cost a little; past one 30 s window they keep the seek exact.
            without_timestamps=len(audio) < 28 * WHISPER_RATE,
        )
        parts = list(segments)  # the generator does the decoding; keep it in this thread
        text = normalise_transcript(" ".join(p.text for p in parts))
        if not parts:
            return "", 0.0
        logprob = sum(p.avg_logprob for p in parts) / len(parts)
        return text, math.exp(min(0.0, logprob))
