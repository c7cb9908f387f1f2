"""The tests' scripted LLM lives in `models.scripted` (shared with the benchmarks and with
evaluation harnesses); re-exported here for the tests' imports."""

from models.scripted import InstantStream, ScriptedLLM, ToolCall, Turn

__all__ = ["ScriptedLLM", "ToolCall", "Turn", "InstantStream"]
