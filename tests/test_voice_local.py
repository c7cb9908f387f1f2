"""The local speech models on their own: Whisper hears a Piper-spoken caller line, Piper
streams sentence by sentence at its own rate, each desk sounds different, and the models
are found (or fail to be found) the way a user's machine would find them."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from livekit.agents import Plugin

from models import build_models, choose_mode
from models.local_models import (
    PIPER_ENV,
    WHISPER_ENV,
    LocalSpeechPlugin,
    ModelMissing,
    download_local_models,
    register_download_plugin,
    resolve_piper_voice,
    resolve_whisper_model,
)
from models.local_stt import WhisperSTT, normalise_transcript
from models.local_tts import DESK_VOICES, PiperTTS, desk_voice
from tests.voice_io import CALLER_VOICE, synthesise


def test_keyless_default_is_local_and_typed_console_is_offline() -> None:
    assert choose_mode({}) == "local"
    assert choose_mode({}, text_only=True) == "offline"
    assert choose_mode({"BANK_MODEL_MODE": "offline"}) == "offline"
    assert choose_mode({"BANK_MODEL_MODE": "local"}, text_only=True) == "local"


async def test_whisper_hears_a_piper_caller_line(local_speech: Any) -> None:
    caller = PiperTTS(local_speech.piper, style=CALLER_VOICE)
    stt = WhisperSTT(local_speech.whisper)
    audio = await synthesise(  # digits the way a caller reads them out
        caller,
        "My customer number is one zero zero two, and my pin is five six seven eight. "
        "I don't recognise the Uber charge.",
    )
    event = await stt.recognize(audio)  # 22050 Hz in: the STT resamples for Whisper
    text = event.alternatives[0].text
    assert "1002" in text and "5678" in text
    assert "uber" in text.lower()


def test_transcript_digit_runs_lose_their_thousands_commas() -> None:
    assert normalise_transcript(" My number is 1,001  and PIN 1,234.") == (
        "My number is 1001 and PIN 1234."
    )
    assert normalise_transcript("pay 12,50 now") == "pay 12,50 now"
    assert normalise_transcript("my pin is 1, 2, 3, 4.") == "my pin is 1234."
    assert normalise_transcript("1 0 0 2 and 5-6-7-8") == "1002 and 5678"
    assert normalise_transcript("the last 3, 4 days, $1,250.5") == "the last 3, 4 days, $1250.5"


class _GatedVoice:
    """The real Piper voice, with its second sentence held back until the test has heard
    the first one: a TTS that buffers the whole reply can never deliver that first frame."""

    def __init__(self, voice: Any, heard_first: threading.Event, log: list[str]) -> None:
        self._voice = voice
        self._heard_first = heard_first
        self.log = log
        self.config = voice.config

    def synthesize(self, text: str, syn_config: Any = None) -> Iterator[Any]:
        for index, chunk in enumerate(self._voice.synthesize(text, syn_config=syn_config)):
            if index == 1:
                self._heard_first.wait(timeout=20)
            self.log.append(f"sentence {index} synthesised")
            yield chunk
        self.log.append("synthesis finished")


async def test_piper_streams_the_first_sentence_before_the_reply_is_synthesised(
    local_speech: Any,
) -> None:
    heard_first = threading.Event()
    log: list[str] = []
    tts = PiperTTS(_GatedVoice(local_speech.piper, heard_first, log))
    assert tts.sample_rate == 22050 and tts.num_channels == 1  # the rate the voice produces
    frames = []
    async for event in tts.synthesize(
        "Your balance is ready. It is forty two dollars. Anything else?"
    ):
        if not frames:
            log.append("first frame heard")
            heard_first.set()
        frames.append(event.frame)
    assert log.index("first frame heard") < log.index("sentence 1 synthesised")
    assert log[-1] == "synthesis finished"
    for frame in frames:
        assert (frame.sample_rate, frame.num_channels) == (22050, 1)
        assert len(frame.data) == frame.samples_per_channel  # int16 mono, one value a sample
    assert sum(f.duration for f in frames) > 2.0


def _spectral_centroid(pcm: np.ndarray[Any, Any], rate: int) -> float:
    """Where the voice's energy sits below 4 kHz: a pitch shift by resampling moves every
    frequency, and this with it."""
    power = np.abs(np.fft.rfft(pcm.astype(np.float64))) ** 2
    freqs = np.fft.rfftfreq(len(pcm), 1 / rate)
    band = freqs < 4000
    return float((power[band] * freqs[band]).sum() / power[band].sum())


async def test_each_desk_has_its_own_voice(local_speech: Any) -> None:
    assert len(set(DESK_VOICES.values())) == len(DESK_VOICES)
    models = build_models("local", vad=object(), speech=local_speech)
    line = "Thank you, you are verified. Let me look at that for you."
    centre = {}
    for desk in ("greeter", "balance", "transactions"):
        tts = models.voice_for(desk)
        assert isinstance(tts, PiperTTS) and tts.style == desk_voice(desk)
        audio = await synthesise(tts, line)
        pcm = np.frombuffer(audio.data, dtype=np.int16)
        centre[desk] = _spectral_centroid(pcm, audio.sample_rate)
    # The same voice model, heard higher for balance and lower for transactions.
    assert centre["balance"] > centre["greeter"] * 1.06
    assert centre["transactions"] < centre["greeter"] * 0.95


def test_models_resolve_from_the_wheel_shipped_packages() -> None:
    assert (resolve_whisper_model() / "model.bin").is_file()
    voice = resolve_piper_voice()
    assert voice.model.name == "en_US-joe-medium.onnx" and voice.config.is_file()


def test_a_path_in_the_environment_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    shipped = resolve_whisper_model()
    monkeypatch.setenv(WHISPER_ENV, str(shipped))
    assert resolve_whisper_model() == shipped
    monkeypatch.setenv(PIPER_ENV, str(resolve_piper_voice().model))
    assert resolve_piper_voice().model.name == "en_US-joe-medium.onnx"


@pytest.mark.parametrize(
    ("variable", "value", "resolve"),
    [
        (WHISPER_ENV, "base.en", resolve_whisper_model),  # a name not in any cache here
        (WHISPER_ENV, "/nowhere/whisper", resolve_whisper_model),
        (PIPER_ENV, "en_GB-alan-low", resolve_piper_voice),
        (PIPER_ENV, "/nowhere/voice.onnx", resolve_piper_voice),
    ],
)
def test_a_missing_model_fails_in_one_line_naming_the_fix(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, variable: str, value: str, resolve: Any
) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))  # an empty cache
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv(variable, value)
    with pytest.raises(ModelMissing) as raised:
        resolve()
    message = str(raised.value)
    assert "\n" not in message
    assert "python agent.py download-files" in message and variable in message


def test_download_files_is_registered_and_fetches_nothing_already_shipped() -> None:
    register_download_plugin()
    register_download_plugin()  # idempotent
    ours = [p for p in Plugin.registered_plugins if isinstance(p, LocalSpeechPlugin)]
    assert len(ours) == 1
    # Both models ship in the dev group's wheels: any download attempt would hit the
    # test suite's network guard and raise.
    download_local_models()
    ours[0].download_files()


def _download_files(**env: str) -> subprocess.CompletedProcess[str]:
    project = Path(__file__).resolve().parents[1]
    environ = {**os.environ, "HF_HUB_OFFLINE": "1", **env}  # never a download in tests
    return subprocess.run(
        [sys.executable, "agent.py", "download-files"],
        cwd=project,
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_download_files_prints_no_livekit_cli_notice_but_shows_a_real_failure() -> None:
    """`python agent.py download-files` (README) says what is ready and nothing about
    livekit's CLI deprecations; a model it cannot get is still reported, with exit 1."""
    ok = _download_files()
    assert ok.returncode == 0, ok.stderr
    assert "deprecat" not in (ok.stdout + ok.stderr).lower()
    assert "bank.models.local ready" in ok.stdout
    failed = _download_files(BANK_WHISPER_MODEL="no-such-whisper-model")
    assert failed.returncode == 1
    assert "bank.models.local failed" in failed.stderr and "no-such-whisper-model" in failed.stderr
