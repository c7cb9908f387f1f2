"""Local stand-ins for the pipeline's speech providers, on 127.0.0.1 and free ports, speaking
the message shapes livekit's plugins speak:

* Deepgram live STT (`/v1/listen` websocket): audio in as binary frames, `KeepAlive`,
  `Finalize` and `CloseStream` as JSON; `SpeechStarted` and `Results` (final, with
  `speech_final`) out. A test queues what the caller "says" with `.say(text)`; it is
  transcribed once some audio has arrived after it was queued.
* ElevenLabs multi-stream-input TTS (`/v1/text-to-speech/{voice_id}/multi-stream-input`
  websocket): per `context_id`, an init packet, text packets, `flush`, `close_context`;
  base64 audio in the requested `output_format` (MP3 by default, encoded with PyAV, which
  livekit already depends on) and `isFinal` out. Every synthesis is recorded with the voice
  id of its URL, which is what makes per-desk voices testable."""

from __future__ import annotations

import base64
import io
import json
from collections import deque
from dataclasses import dataclass, field
from itertools import count

import av
import numpy as np
from aiohttp import WSMsgType, web

from .server import StandInServer


@dataclass
class ListenConnection:
    query: dict[str, str]
    authorization: str
    audio_bytes: int = 0
    controls: list[str] = field(default_factory=list)  # KeepAlive, Finalize, CloseStream


class DeepgramStandIn(StandInServer):
    def __init__(self) -> None:
        super().__init__()
        self._pending: deque[str] = deque()
        self._ids = count(1)
        self.connections: list[ListenConnection] = []
        self.transcribed: list[str] = []

    def say(self, text: str) -> None:
        self._pending.append(text)

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/v1/listen", self._listen)

    async def _listen(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        conn = ListenConnection(dict(request.query), request.headers.get("Authorization", ""))
        self.connections.append(conn)
        rate = int(conn.query.get("sample_rate", "16000"))
        since_queued = 0
        async for msg in ws:
            if msg.type == WSMsgType.BINARY:
                conn.audio_bytes += len(msg.data)
                since_queued = since_queued + len(msg.data) if self._pending else 0
                if since_queued >= rate * 2 // 5:  # 0.2 s of 16-bit audio after the line
                    await self._transcribe(ws, self._pending.popleft(), conn.audio_bytes / rate / 2)
                    since_queued = 0
            elif msg.type == WSMsgType.TEXT:
                kind = json.loads(msg.data).get("type", "")
                conn.controls.append(kind)
                if kind == "CloseStream":
                    await ws.send_json({"type": "Metadata", "request_id": "standin"})
                    await ws.close()
        return ws

    async def _transcribe(self, ws: web.WebSocketResponse, text: str, at: float) -> None:
        self.transcribed.append(text)
        await ws.send_json({"type": "SpeechStarted", "channel": [0], "timestamp": at})
        words = [
            {"word": w.strip(".,?!").lower(), "punctuated_word": w, "confidence": 0.99,
             "start": at + 0.3 * i, "end": at + 0.3 * i + 0.25}
            for i, w in enumerate(text.split())
        ]  # fmt: skip
        alternative = {"transcript": text, "confidence": 0.99, "words": words}
        await ws.send_json(
            {
                "type": "Results",
                "channel_index": [0, 1],
                "start": at,
                "duration": 0.3 * len(words),
                "is_final": True,
                "speech_final": True,
                "from_finalize": False,
                "channel": {"alternatives": [alternative]},
                "metadata": {"request_id": f"req-{next(self._ids)}", "model_uuid": "standin"},
            }
        )


@dataclass
class Synthesis:
    voice_id: str
    query: dict[str, str]
    api_key: str
    text: str = ""


class ElevenLabsStandIn(StandInServer):
    def __init__(self) -> None:
        super().__init__()
        self.syntheses: list[Synthesis] = []

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/v1/text-to-speech/{voice_id}/multi-stream-input", self._stream)

    def spoken(self) -> list[tuple[str, str]]:
        """(voice id, words) of every synthesis that had words."""
        return [(s.voice_id, s.text.strip()) for s in self.syntheses if s.text.strip()]

    async def _stream(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        voice_id, query = request.match_info["voice_id"], dict(request.query)
        contexts: dict[str, Synthesis] = {}
        unsent: dict[str, str] = {}
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            packet = json.loads(msg.data)
            cid = packet.get("context_id") or ""
            if cid not in contexts:
                contexts[cid] = Synthesis(voice_id, query, request.headers.get("xi-api-key", ""))
                self.syntheses.append(contexts[cid])
                unsent[cid] = ""
            if packet.get("close_context"):
                await ws.send_json({"contextId": cid, "isFinal": True})
                continue
            text = packet.get("text", "")
            if text.strip():
                contexts[cid].text += text
                unsent[cid] += text
            if packet.get("flush") and unsent[cid].strip():
                audio = encoded_silence(query.get("output_format", "mp3_22050_32"), unsent[cid])
                unsent[cid] = ""
                payload = {"audio": base64.b64encode(audio).decode(), "contextId": cid}
                await ws.send_json({**payload, "isFinal": None})
        return ws


def encoded_silence(output_format: str, text: str) -> bytes:
    """Silence, 40 ms a word, in the requested format (pcm_<rate> or mp3_<rate>_<kbps>)."""
    kind, rate = output_format.split("_")[0], int(output_format.split("_")[1])
    samples = np.zeros((1, rate * len(text.split()) // 25), dtype=np.int16)
    if kind == "pcm":
        return samples.tobytes()
    assert kind == "mp3", f"the stand-in encodes pcm and mp3, not {output_format}"
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp3") as out:
        stream = out.add_stream("libmp3lame", rate=rate)
        stream.layout = "mono"  # type: ignore[union-attr]
        frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        frame.sample_rate = rate
        for packet in [*stream.encode(frame), *stream.encode(None)]:  # type: ignore[union-attr]
            out.mux(packet)
    return buf.getvalue()
