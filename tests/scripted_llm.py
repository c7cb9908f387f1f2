"""The tests' scripted LLM lives in `models.scripted` (shared with the benchmarks and with
evaluation harnesses); re-exported here for the tests' imports."""

from models.scripted import ScriptedLLM, ToolCall, Turn, _ScriptedStream

__all__ = ["ScriptedLLM", "ToolCall", "Turn", "_ScriptedStream"]
