"""`ScriptedLLM`: a zero-latency `llm.LLM` that replays queued turns, for tests, benchmarks
and evaluation harnesses. It never touches the network.

A turn is a reply string, a `ToolCall` (or a list of them, emitted as parallel calls in one
model turn), an exception (raised from the stream, as a failing provider would), or a
callable taking the chat context and returning one of those."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from livekit.agents import llm, utils
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, NOT_GIVEN, APIConnectOptions


@dataclass
class ToolCall:
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)


Turn = str | ToolCall | list[ToolCall] | Exception | Callable[[llm.ChatContext], Any]


def reply_delta(
    turn: str | ToolCall | list[ToolCall], extra: dict[str, Any] | None = None
) -> llm.ChoiceDelta:
    """One assistant chunk: text, or one or more tool calls (shared with the offline model).
    `extra` is kept by livekit on the assistant message it stores for the text."""
    if isinstance(turn, str):
        return llm.ChoiceDelta(role="assistant", content=turn, extra=extra)
    calls = turn if isinstance(turn, list) else [turn]
    return llm.ChoiceDelta(
        role="assistant",
        tool_calls=[
            llm.FunctionToolCall(
                name=c.name, arguments=json.dumps(c.arguments), call_id=utils.shortuuid("call_")
            )
            for c in calls
        ],
    )


class ScriptedLLM(llm.LLM[Any]):
    """Each chat() pops the next turn (or answers `fallback` when the script is empty).

    `calls` records the tools offered and the tool_choice of every chat() so tests can tell
    which agent the model was speaking as; with `record_contexts` (the default) `contexts`
    keeps a copy of every chat context it was shown. Benchmarks turn that off."""

    def __init__(
        self,
        script: Iterable[Turn] = (),
        *,
        fallback: str = "OK.",
        record_contexts: bool = True,
    ) -> None:
        super().__init__()
        self._script: deque[Turn] = deque(script)
        self._fallback = fallback
        self._record_contexts = record_contexts
        self.calls: list[dict[str, Any]] = []
        self.contexts: list[llm.ChatContext] = []

    @property
    def model(self) -> str:
        return "scripted"

    @property
    def provider(self) -> str:
        return "scripted"

    def push(self, *turns: Turn) -> None:
        self._script.extend(turns)

    @property
    def remaining(self) -> int:
        return len(self._script)

    def chat(
        self,
        *,
        chat_ctx: llm.ChatContext,
        tools: list[llm.Tool] | None = None,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
        parallel_tool_calls: Any = NOT_GIVEN,
        tool_choice: Any = NOT_GIVEN,
        extra_kwargs: Any = NOT_GIVEN,
    ) -> llm.LLMStream:
        turn: Any = self._script.popleft() if self._script else self._fallback
        while callable(turn) and not isinstance(turn, (ToolCall, Exception)):
            turn = turn(chat_ctx)
        if self._record_contexts:
            self.calls.append(
                {"tools": sorted(t.id for t in tools or []), "tool_choice": tool_choice}
            )
            self.contexts.append(chat_ctx.copy())
        return InstantStream(
            self, turn=turn, chat_ctx=chat_ctx, tools=tools or [], conn_options=conn_options
        )


class InstantStream(llm.LLMStream):
    """A stream that emits one whole turn at once (text or tool calls), or raises the
    turn's exception as a failing provider would: the models here add no latency."""

    def __init__(
        self, llm_: llm.LLM[Any], *, turn: Any, extra: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(llm_, **kwargs)
        self._turn = turn
        self._extra = extra

    async def _run(self) -> None:
        if isinstance(self._turn, Exception):
            raise self._turn
        delta = reply_delta(self._turn, self._extra)
        self._event_ch.send_nowait(llm.ChatChunk(id=utils.shortuuid("instant_"), delta=delta))
