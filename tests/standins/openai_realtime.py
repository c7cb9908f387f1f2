"""A local stand-in for the OpenAI Realtime API's websocket (GA event protocol), plus the
`/v1/audio/speech` endpoint realtime mode's TTS uses for fixed lines, on
127.0.0.1 and a free port: enough of it to drive livekit's `RealtimeModel` through a
call with function calls and handoffs, and to show what the client sent.

It keeps the server's view of the session (instructions, tools) and of the conversation
(items by id), answers `session.update`, `conversation.item.create/delete` and
`response.create` the way the API does, and records every client event per connection.
As the API does, it sends an `error` event for a tool with a bad schema, an item whose
`previous_item_id` or function-call output `call_id` it does not know, or an unknown
event type; those are collected in `.errors`, which a test asserts is empty."""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from itertools import count
from typing import Any

from aiohttp import WSMsgType, web

from .openai_chat import Call
from .openai_rules import function_schema_errors
from .server import StandInServer
from .speech import encoded_silence


@dataclass(frozen=True)
class Failed:
    """A response the server gives up on: `response.done` with status `failed`."""

    code: str = "server_error"


RealtimeTurn = str | Call | list[Call] | Failed

CLIENT_EVENTS = {
    "session.update", "input_audio_buffer.append", "input_audio_buffer.commit",
    "input_audio_buffer.clear", "conversation.item.create", "conversation.item.retrieve",
    "conversation.item.truncate", "conversation.item.delete", "response.create",
    "response.cancel", "output_audio_buffer.clear",
}  # fmt: skip


@dataclass
class Connection:
    """One websocket: what the client sent over it, and the server's session state."""

    path: str
    query: dict[str, str]
    authorization: str
    events: list[dict[str, Any]] = field(default_factory=list)
    session: dict[str, Any] = field(default_factory=dict)
    items: dict[str, dict[str, Any]] = field(default_factory=dict)  # conversation, in order

    def sent(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("type") == kind]

    @property
    def tool_names(self) -> list[str]:
        return [t["name"] for t in self.session.get("tools", [])]


class OpenAIRealtimeStandIn(StandInServer):
    def __init__(self, *turns: RealtimeTurn, fallback: str = "OK.") -> None:
        super().__init__()
        self._turns: deque[RealtimeTurn] = deque(turns)
        self._fallback = fallback
        self._ids = count(1)
        self.connections: list[Connection] = []
        self.errors: list[dict[str, Any]] = []
        self.speech_requests: list[dict[str, Any]] = []  # /v1/audio/speech (say() lines)

    def push(self, *turns: RealtimeTurn) -> None:
        self._turns.extend(turns)

    @property
    def remaining(self) -> int:
        return len(self._turns)

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/v1/realtime", self._ws)
        app.router.add_post("/v1/audio/speech", self._speech)

    async def _speech(self, request: web.Request) -> web.Response:
        """The speech endpoint realtime mode's TTS uses for fixed lines: MP3 (or PCM) audio."""
        body = await request.json()
        self.speech_requests.append(body)
        fmt = body.get("response_format", "mp3")
        audio = encoded_silence("pcm_24000" if fmt == "pcm" else "mp3_24000_48", body["input"])
        return web.Response(body=audio, content_type="audio/mpeg" if fmt == "mp3" else "audio/pcm")

    def _id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids)}"

    async def _ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        conn = Connection(
            path=request.path,
            query=dict(request.query),
            authorization=request.headers.get("Authorization", ""),
        )
        conn.session = {
            "type": "realtime",
            "id": self._id("sess"),
            "object": "realtime.session",
            "model": request.query.get("model"),
            "instructions": "",
            "tools": [],
        }
        self.connections.append(conn)

        async def send(event: dict[str, Any]) -> None:
            await ws.send_str(json.dumps({"event_id": self._id("event"), **event}))

        async def error(client_event: dict[str, Any], message: str, code: str) -> None:
            err = {"type": "invalid_request_error", "code": code, "message": message,
                   "param": None, "event_id": client_event.get("event_id")}  # fmt: skip
            self.errors.append(err)
            await send({"type": "error", "error": err})

        await send({"type": "session.created", "session": conn.session})
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            event = json.loads(msg.data)
            conn.events.append(event)
            kind = event.get("type")
            if kind not in CLIENT_EVENTS:
                await error(event, f"Invalid value: '{kind}'", "invalid_value")
            elif kind == "session.update":
                update = event.get("session") or {}
                problems = [
                    p
                    for tool in update.get("tools") or []
                    for p in function_schema_errors(tool, where=f"tools({tool.get('name')})")
                ]
                if problems:
                    await error(event, "; ".join(problems), "invalid_function_parameters")
                    continue
                conn.session.update({k: v for k, v in update.items() if k != "type"})
                await send({"type": "session.updated", "session": conn.session})
            elif kind == "conversation.item.create":
                await self._create_item(conn, event, send, error)
            elif kind == "conversation.item.delete":
                item_id = event.get("item_id")
                if conn.items.pop(item_id, None) is None:
                    await error(event, f"Item with item_id not found: {item_id}", "item_not_found")
                else:
                    await send({"type": "conversation.item.deleted", "item_id": item_id})
            elif kind == "response.create":
                await self._respond(conn, event.get("response") or {}, send)
        return ws

    async def _create_item(
        self, conn: Connection, event: dict[str, Any], send: Any, error: Any
    ) -> None:
        item = dict(event.get("item") or {})
        item.setdefault("id", self._id("item"))
        previous = event.get("previous_item_id")
        if previous not in (None, "root") and previous not in conn.items:
            await error(event, f"Previous item not found: {previous}", "item_not_found")
            return
        if item.get("type") == "function_call_output":
            calls = {i.get("call_id") for i in conn.items.values() if i["type"] == "function_call"}
            if item.get("call_id") not in calls:
                await error(event, f"Tool call ID '{item.get('call_id')}' not found in "
                            "conversation", "invalid_tool_call_id")  # fmt: skip
                return
        if previous is None:
            previous = next(reversed(conn.items), None)
        conn.items[item["id"]] = item
        await send({"type": "conversation.item.added", "previous_item_id": previous, "item": item})

    async def _respond(self, conn: Connection, params: dict[str, Any], send: Any) -> None:
        turn = self._turns.popleft() if self._turns else self._fallback
        rid = self._id("resp")
        response = {"id": rid, "object": "realtime.response", "status": "in_progress",
                    "output": [], "metadata": params.get("metadata")}  # fmt: skip
        await send({"type": "response.created", "response": response})
        if isinstance(turn, Failed):
            error = {
                "type": "server_error",
                "code": turn.code,
                "message": "The server had an error",
            }
            failed = {
                **response,
                "status": "failed",
                "status_details": {"type": "failed", "error": error},
            }
            await send({"type": "response.done", "response": failed})
            return
        calls = [turn] if isinstance(turn, Call) else turn if isinstance(turn, list) else []
        outputs: list[dict[str, Any]] = []
        if isinstance(turn, str):
            outputs.append(await self._say(conn, rid, turn, send))
        for index, call in enumerate(calls):
            outputs.append(await self._call(conn, rid, index, call, send))
        done = {**response, "status": "completed", "output": outputs,
                "usage": {"total_tokens": 3, "input_tokens": 2, "output_tokens": 1}}  # fmt: skip
        await send({"type": "response.done", "response": done})

    async def _added(
        self, conn: Connection, rid: str, index: int, item: dict[str, Any], send: Any
    ) -> None:
        previous = next(reversed(conn.items), None)
        conn.items[item["id"]] = item
        await send({"type": "response.output_item.added", "response_id": rid,
                    "output_index": index, "item": item})  # fmt: skip
        await send({"type": "conversation.item.added", "previous_item_id": previous, "item": item})

    async def _say(self, conn: Connection, rid: str, text: str, send: Any) -> dict[str, Any]:
        item_id = self._id("item")
        item = {"id": item_id, "object": "realtime.item", "type": "message", "role": "assistant",
                "status": "in_progress", "content": []}  # fmt: skip
        await self._added(conn, rid, 0, dict(item), send)
        where = {"response_id": rid, "item_id": item_id, "output_index": 0, "content_index": 0}
        await send({"type": "response.content_part.added", **where,
                    "part": {"type": "audio", "transcript": ""}})  # fmt: skip
        for word in text.split(" "):
            await send(
                {"type": "response.output_audio_transcript.delta", **where, "delta": word + " "}
            )
        await send({"type": "response.output_audio_transcript.done", **where, "transcript": text})
        await send({"type": "response.output_audio.done", **where})
        part = {"type": "output_audio", "transcript": text}
        await send({"type": "response.content_part.done", **where, "part": part})
        final = {**item, "status": "completed", "content": [part]}
        conn.items[item_id] = final
        await send({"type": "response.output_item.done", "response_id": rid,
                    "output_index": 0, "item": final})  # fmt: skip
        return final

    async def _call(
        self, conn: Connection, rid: str, index: int, call: Call, send: Any
    ) -> dict[str, Any]:
        args = json.dumps(call.arguments)
        item = {"id": self._id("item"), "object": "realtime.item", "type": "function_call",
                "status": "in_progress", "call_id": self._id("call"), "name": call.name,
                "arguments": ""}  # fmt: skip
        await self._added(conn, rid, index, dict(item), send)
        where = {"response_id": rid, "item_id": item["id"], "output_index": index,
                 "call_id": item["call_id"]}  # fmt: skip
        await send({"type": "response.function_call_arguments.delta", **where, "delta": args})
        await send({"type": "response.function_call_arguments.done", **where, "arguments": args})
        final = {**item, "status": "completed", "arguments": args}
        conn.items[item["id"]] = final
        await send({"type": "response.output_item.done", "response_id": rid,
                    "output_index": index, "item": final})  # fmt: skip
        return final
