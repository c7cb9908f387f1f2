"""Text to speech on the CPU: Piper (en_US-joe-medium, 22050 Hz mono).

Audio streams out sentence by sentence: Piper synthesises one sentence at a time in a
worker thread, and each sentence's audio is pushed to livekit as soon as it exists, so
the caller hears the first sentence while the rest is still being made. The session also
wraps this non-streaming TTS in livekit's `tts.StreamAdapter`, which feeds it one sentence
of the model's reply at a time.

Each desk gets its own voice from the one Piper model: pitch (by resampling, which keeps
the declared 22050 Hz) and pace (Piper's length scale), so the caller hears the handoff."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from livekit import rtc
from livekit.agents import tts, utils
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, APIConnectOptions


@dataclass(frozen=True)
class VoiceStyle:
    pitch: float = 1.0  # > 1 higher; tempo is kept
    length_scale: float = 1.0  # > 1 slower
    noise_scale: float | None = None  # None: the voice's own setting
    noise_w_scale: float | None = None  # (0 and 0: the same audio for the same text)
    speaker_id: int | None = None  # multi-speaker voices only


# Far enough apart to hear the desk change, close enough that Whisper still reads them.
DESK_VOICES: dict[str, VoiceStyle] = {
    "greeter": VoiceStyle(),
    "balance": VoiceStyle(pitch=1.12, length_scale=0.95),
    "transactions": VoiceStyle(pitch=0.9),
    "card_security": VoiceStyle(pitch=1.05, length_scale=1.12, noise_scale=0.5),
}


def desk_voice(agent_id: str) -> VoiceStyle:
    return DESK_VOICES.get(agent_id, VoiceStyle())


class PiperTTS(tts.TTS[None]):
    def __init__(self, voice: Any, *, style: VoiceStyle | None = None, name: str = "") -> None:
        super().__init__(
            capabilities=tts.TTSCapabilities(streaming=False),
            sample_rate=int(voice.config.sample_rate),
            num_channels=1,
        )
        self._voice = voice  # piper.PiperVoice, loaded once per process and shared
        self._style = style or VoiceStyle()
        self._name = name or "piper"

    @property
    def model(self) -> str:
        return self._name

    @property
    def provider(self) -> str:
        return "piper"

    @property
    def style(self) -> VoiceStyle:
        return self._style

    def synthesize(
        self, text: str, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> PiperChunkedStream:
        return PiperChunkedStream(tts=self, input_text=text, conn_options=conn_options)

    def sentences_pcm(self, text: str) -> Iterator[bytes]:
        """16-bit mono PCM at `sample_rate`, one piece per sentence (blocking: run it in a
        thread)."""
        from piper import SynthesisConfig

        style = self._style
        config = SynthesisConfig(
            speaker_id=style.speaker_id,
            # Pitch by resampling also shortens the audio by `pitch`: ask Piper for that
            # much longer speech first so the tempo ends where length_scale says.
            length_scale=style.length_scale * style.pitch,
            noise_scale=style.noise_scale,
            noise_w_scale=style.noise_w_scale,
        )
        for chunk in self._voice.synthesize(text, syn_config=config):
            pcm = np.asarray(chunk.audio_int16_array, dtype=np.int16)
            if style.pitch != 1.0:
                pcm = _shift_pitch(pcm, self.sample_rate, style.pitch)
            yield pcm.tobytes()


def _shift_pitch(pcm: np.ndarray[Any, Any], rate: int, factor: float) -> np.ndarray[Any, Any]:
    """Read the samples as if recorded at rate*factor and resample back to rate: every
    frequency is multiplied by `factor` (soxr, through livekit's resampler)."""
    resampler = rtc.AudioResampler(round(rate * factor), rate, num_channels=1)
    frame = rtc.AudioFrame(
        data=pcm.tobytes(),
        sample_rate=round(rate * factor),
        num_channels=1,
        samples_per_channel=len(pcm),
    )
    out = resampler.push(frame) + resampler.flush()
    if not out:
        return np.zeros(0, dtype=np.int16)
    return np.concatenate([np.frombuffer(f.data, dtype=np.int16) for f in out])


class PiperChunkedStream(tts.ChunkedStream):
    def __init__(self, *, tts: PiperTTS, input_text: str, conn_options: APIConnectOptions) -> None:
        super().__init__(tts=tts, input_text=input_text, conn_options=conn_options)
        self._piper = tts

    async def _run(self, output_emitter: tts.AudioEmitter) -> None:
        output_emitter.initialize(
            request_id=utils.shortuuid("piper_"),
            sample_rate=self._piper.sample_rate,
            num_channels=1,
            mime_type="audio/pcm",
        )
        sentences = self._piper.sentences_pcm(self.input_text)
        while True:
            # One sentence per hop to the worker thread, pushed the moment it exists; if the
            # caller barges in, the task is cancelled and no further sentence is made.
            pcm = await asyncio.to_thread(next, sentences, None)
            if pcm is None:
                break
            output_emitter.push(pcm)
        output_emitter.flush()
