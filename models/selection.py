"""Model selection, by environment: `local` (default without provider keys: Whisper STT ->
the offline banking model -> Piper TTS, all on the CPU, one voice per desk), `offline` (the
same model, text only: the typed console, demos and tests that need no audio), `pipeline`
(Deepgram STT -> OpenAI LLM -> ElevenLabs TTS, one voice per desk) or `realtime` (one OpenAI
Realtime model shared by every agent so a handoff reuses the realtime session)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Literal

from .errors import ConfigError

Mode = Literal["local", "offline", "pipeline", "realtime"]
MODES: tuple[Mode, ...] = ("local", "offline", "pipeline", "realtime")

PIPELINE_KEYS = ("OPENAI_API_KEY", "DEEPGRAM_API_KEY", "ELEVEN_API_KEY")
REALTIME_KEYS = ("OPENAI_API_KEY",)

# Distinct stock ElevenLabs voices so the caller hears each handoff (override per desk).
DEFAULT_VOICES = {
    "greeter": "21m00Tcm4TlvDq8ikWAM",
    "balance": "AZnzlk1XvdvUeBnXmlld",
    "transactions": "EXAVITQu4vr4xnSDxMaL",
    "card_security": "ErXwobaYiN019PkySvjV",
}


@dataclass
class Models:
    mode: Mode
    llm: Any
    stt: Any = None
    vad: Any = None
    turn_detection: Any = None
    speech: Any = None  # local mode: the loaded Whisper and Piper models (LocalSpeech)
    tts: Any = None  # session-level TTS: realtime mode's voice for fixed lines (say())

    @property
    def has_voice(self) -> bool:
        """Whether each desk speaks with its own TTS (local and pipeline modes)."""
        return self.mode in ("local", "pipeline")

    @property
    def speaks(self) -> bool:
        """Whether a call gets audio out: every mode but the text-only offline one."""
        return self.mode != "offline"

    @property
    def hears(self) -> bool:
        """Whether a call's audio is listened to (an STT or a realtime model)."""
        return self.mode != "offline"

    def voice_for(self, agent_id: str) -> Any:
        """Per-desk TTS in local and pipeline modes; None otherwise (offline is text only,
        realtime speaks itself)."""
        if self.mode == "local":
            from .local_models import piper_name
            from .local_tts import PiperTTS, desk_voice

            return PiperTTS(self.speech.piper, style=desk_voice(agent_id), name=piper_name())
        if self.mode != "pipeline":
            return None
        from livekit.plugins import elevenlabs

        voice = os.environ.get(f"ELEVEN_VOICE_{agent_id.upper()}", DEFAULT_VOICES[agent_id])
        return elevenlabs.TTS(voice_id=voice)


def choose_mode(env: dict[str, str] | None = None, *, text_only: bool = False) -> Mode:
    """BANK_MODEL_MODE if set; else pipeline when every provider key is there; else local
    (offline when the caller can only type: no point loading speech models)."""
    env = dict(os.environ) if env is None else env
    raw = env.get("BANK_MODEL_MODE", "").strip().lower()
    if raw:
        if raw not in MODES:
            raise ConfigError(f"BANK_MODEL_MODE={raw!r} is not one of {', '.join(MODES)}")
        mode: Mode = raw  # type: ignore[assignment]
    elif all(env.get(k) for k in PIPELINE_KEYS):
        mode = "pipeline"
    else:
        mode = "offline" if text_only else "local"
    required = {"local": (), "offline": (), "pipeline": PIPELINE_KEYS, "realtime": REALTIME_KEYS}
    for key in required[mode]:
        if not env.get(key):
            raise ConfigError(f"BANK_MODEL_MODE={mode} needs {key}; set it or use offline mode")
    return mode


def build_models(mode: Mode, *, vad: Any = None, speech: Any = None) -> Models:
    """Construct the provider objects once per job. STT, VAD and the turn detector are
    session-level so every agent shares them (a handoff opens no new STT stream).
    `speech`: local mode's models as loaded in prewarm; loaded here when not given."""
    if mode == "offline":
        from .offline import OfflineBankLLM

        return Models(mode, OfflineBankLLM())
    if mode == "local":
        from .local_models import load_local_speech, whisper_name
        from .local_stt import WhisperSTT
        from .offline import OfflineBankLLM

        if speech is None:
            speech = load_local_speech()
        if vad is None:
            from livekit.plugins import silero

            vad = silero.VAD.load()
        return Models(
            mode,
            OfflineBankLLM(),
            stt=WhisperSTT(speech.whisper, model_name=whisper_name()),
            vad=vad,
            # The VAD ends the turn: no turn-detector model to run on a busy CPU.
            turn_detection="vad",
            speech=speech,
        )
    if mode == "realtime":
        from livekit.plugins import openai

        model = os.environ.get("OPENAI_REALTIME_MODEL", "gpt-realtime")
        return Models(
            mode,
            openai.realtime.RealtimeModel(model=model, voice="marin"),
            # The Realtime API cannot speak given text (supports_say is False), and livekit
            # refuses say() with audio out and no TTS: the greeting and the apology would be
            # lost. This TTS, in the model's voice, speaks only those fixed lines.
            tts=openai.TTS(model="gpt-4o-mini-tts", voice="marin"),
        )
    from livekit.plugins import deepgram

    return Models(mode, llm=pipeline_llm(), stt=deepgram.STT(model="nova-3"), vad=vad)


def pipeline_llm(model: str | None = None) -> Any:
    """The pipeline's OpenAI LLM (also the evals' model and judge). The endpoint is the
    SDK's: OPENAI_BASE_URL when set (a proxy, a compatible server, the tests' stand-in)."""
    from livekit.plugins import openai

    return openai.LLM(model=model or os.environ.get("OPENAI_MODEL", "gpt-4.1-mini"))
