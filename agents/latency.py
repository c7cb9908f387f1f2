"""Per-turn latency of a call, from livekit's own measurements, for the end-of-call log
line: end-of-utterance delay, STT duration, LLM time to first token, TTS time to first
byte, and the whole voice-to-voice delay. Numbers only: no text, no PII."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

from livekit.agents import llm
from livekit.agents.metrics import STTMetrics

# ChatMessage.metrics key -> log name; user turns carry the first two, agent turns the rest.
_TURN_METRICS = {
    "end_of_turn_delay": "eou_delay",
    "transcription_delay": "transcription_delay",
    "llm_node_ttft": "llm_ttft",
    "tts_node_ttfb": "tts_ttfb",
    "e2e_latency": "voice_to_voice",
}


@dataclass
class TurnLatency:
    stt_durations: list[float] = field(default_factory=list)

    def watch_stt(self, stt: Any) -> None:
        """STT duration is reported by the STT itself (not per chat message)."""
        if stt is not None:
            stt.on("metrics_collected", self._on_stt_metrics)

    def _on_stt_metrics(self, metrics: Any) -> None:
        if isinstance(metrics, STTMetrics):
            self.stt_durations.append(metrics.duration)

    def summary(self, history: llm.ChatContext) -> dict[str, str]:
        """`{name: "p50/max s (n)"}` for every measure this call produced (seconds with
        a decimal point: the log redaction masks any four-digit run)."""
        samples: dict[str, list[float]] = {"stt_duration": list(self.stt_durations)}
        for item in history.items:
            if not isinstance(item, llm.ChatMessage):
                continue
            for key, name in _TURN_METRICS.items():
                value = item.metrics.get(key)  # type: ignore[misc]
                if isinstance(value, int | float) and value >= 0:
                    samples.setdefault(name, []).append(float(value))
        return {
            name: f"{statistics.median(v):.3f}/{max(v):.3f} s ({len(v)})"
            for name, v in samples.items()
            if v
        }
