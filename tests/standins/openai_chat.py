"""A local stand-in for OpenAI's `/v1/chat/completions` (streaming only, as
livekit-plugins-openai always streams), on 127.0.0.1 and a free port.

Each request is first checked as the API would (`openai_rules.request_errors`); a request
the API would refuse gets its 400 and is recorded in `.rejections`, which the test fixture
asserts is empty. Accepted requests are answered from a queue of turns: text (streamed in
small deltas), tool calls (streamed as the API does: id and name first, then argument
fragments), an HTTP error (429, 500...), a reply cut mid-stream, or a stall. A turn may be a
callable that picks the turn from the request body."""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import count
from typing import Any

from aiohttp import web

from .openai_rules import request_errors
from .server import StandInServer


@dataclass(frozen=True)
class Call:
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class HttpError:
    status: int
    message: str = "error"


@dataclass(frozen=True)
class Cut:
    """Stream these words, then drop the connection: no finish_reason, no [DONE]."""

    text: str


@dataclass(frozen=True)
class Stall:
    """Accept the request, then say nothing for this long (a provider that hangs)."""

    seconds: float


Turn = str | Call | list[Call] | HttpError | Cut | Stall | Callable[[dict[str, Any]], Any]


class OpenAIChatStandIn(StandInServer):
    def __init__(self, *turns: Turn, fallback: Turn = "OK.") -> None:
        super().__init__()
        self._turns: deque[Turn] = deque(turns)
        self.fallback = fallback
        self._ids = count(1)
        self.requests: list[dict[str, Any]] = []  # accepted bodies, in order
        self.rejections: list[list[str]] = []  # errors of refused bodies
        self.replies: list[Any] = []  # the turn each accepted request got

    def push(self, *turns: Turn) -> None:
        self._turns.extend(turns)

    @property
    def remaining(self) -> int:
        return len(self._turns)

    def tools_of(self, n: int) -> list[str]:
        return [t["function"]["name"] for t in self.requests[n].get("tools", [])]

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/chat/completions", self._completions)

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        errors = request_errors(body)
        if not body.get("stream"):
            errors.append("this stand-in serves streamed completions only")
        if errors:
            self.rejections.append(errors)
            return _error(400, "; ".join(errors), "invalid_request_error")
        self.requests.append(body)
        turn: Any = self._turns.popleft() if self._turns else self.fallback
        while callable(turn):
            turn = turn(body)
        self.replies.append(turn)
        if isinstance(turn, Stall):
            await asyncio.sleep(turn.seconds)
            return _error(504, "stalled", "timeout")  # long after the client gave up
        if isinstance(turn, HttpError):
            kind = "rate_limit_exceeded" if turn.status == 429 else "server_error"
            return _error(turn.status, turn.message, kind)
        return await self._stream(request, body, turn)

    async def _stream(self, request: web.Request, body: dict[str, Any], turn: Any) -> Any:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        cid, created, model = f"chatcmpl-{next(self._ids)}", int(time.time()), body["model"]

        async def send(delta: dict[str, Any], finish: str | None = None) -> None:
            chunk = {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            await resp.write(f"data: {json.dumps(chunk)}\n\n".encode())

        await send({"role": "assistant", "content": ""})
        if isinstance(turn, Cut):
            for word in _words(turn.text):
                await send({"content": word})
            await asyncio.sleep(0.05)  # let those words reach the client first
            assert request.transport is not None
            request.transport.abort()  # mid-reply: the client sees an incomplete body
            return resp
        if isinstance(turn, str):
            for word in _words(turn):
                await send({"content": word})
            await send({}, "stop")
        else:
            calls = turn if isinstance(turn, list) else [turn]
            for index, call in enumerate(calls):
                args = json.dumps(call.arguments)
                first = {"index": index, "id": f"call_{next(self._ids)}", "type": "function"}
                await send({"tool_calls": [{**first, "function": {"name": call.name}}]})
                for start in range(0, len(args), 7):  # fragments, as the API streams them
                    fragment = {"index": index, "function": {"arguments": args[start : start + 7]}}
                    await send({"tool_calls": [fragment]})
            await send({}, "tool_calls")
        if (body.get("stream_options") or {}).get("include_usage"):
            usage = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
            chunk = {"id": cid, "object": "chat.completion.chunk", "created": created,
                     "model": model, "choices": [], "usage": usage}  # fmt: skip
            await resp.write(f"data: {json.dumps(chunk)}\n\n".encode())
        await resp.write(b"data: [DONE]\n\n")
        await resp.write_eof()
        return resp


def _words(text: str) -> list[str]:
    parts = text.split(" ")
    return [p + (" " if i < len(parts) - 1 else "") for i, p in enumerate(parts)]


def _error(status: int, message: str, kind: str) -> web.Response:
    return web.json_response(
        {"error": {"message": message, "type": kind, "param": None, "code": kind}}, status=status
    )
