"""A scripted `llm.LLM` for tests: each chat() call pops the next turn.

A turn is a reply string, a `ToolCall` (or list of them), or a callable taking the chat
context and returning one of those. `.calls` records the tools offered on every call, so
tests can assert which agent the model was speaking as."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Union

from livekit.agents import llm, utils
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, NOT_GIVEN, APIConnectOptions


@dataclass
class ToolCall:
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)


Turn = Union[str, ToolCall, list[ToolCall], Exception, Callable[[llm.ChatContext], Any]]


class ScriptedLLM(llm.LLM):
    def __init__(self, script: Iterable[Turn] = (), *, fallback: str = "OK.") -> None:
        super().__init__()
        self._script: deque[Turn] = deque(script)
        self._fallback = fallback
        self.calls: list[dict[str, Any]] = []
        self.contexts: list[llm.ChatContext] = []

    @property
    def model(self) -> str:
        return "scripted"

    @property
    def provider(self) -> str:
        return "test"

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
        self.calls.append(
            {"tools": sorted(t.id for t in tools or []), "tool_choice": tool_choice}
        )
        self.contexts.append(chat_ctx.copy())
        return _ScriptedStream(
            self, turn=turn, chat_ctx=chat_ctx, tools=tools or [], conn_options=conn_options
        )


class _ScriptedStream(llm.LLMStream):
    def __init__(self, llm_: ScriptedLLM, *, turn: Any, **kwargs: Any) -> None:
        super().__init__(llm_, **kwargs)
        self._turn = turn

    async def _run(self) -> None:
        if isinstance(self._turn, Exception):
            raise self._turn
        rid = utils.shortuuid("scripted_")
        if isinstance(self._turn, str):
            delta = llm.ChoiceDelta(role="assistant", content=self._turn)
        else:
            calls = self._turn if isinstance(self._turn, list) else [self._turn]
            delta = llm.ChoiceDelta(
                role="assistant",
                tool_calls=[
                    llm.FunctionToolCall(
                        name=c.name,
                        arguments=json.dumps(c.arguments),
                        call_id=utils.shortuuid("call_"),
                    )
                    for c in calls
                ],
            )
        self._event_ch.send_nowait(llm.ChatChunk(id=rid, delta=delta))
