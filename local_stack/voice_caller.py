"""A caller with a microphone and ears in a real LiveKit room: publishes a microphone track
(silence in real time, and whatever audio it is told to say), records the agent's audio
track as it arrives, and follows the agent's `bank.specialist` and `lk.agent.state`
attributes. Used by the voice end-to-end tests and the voice-to-voice benchmark."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
from livekit import api, rtc

RATE = 48_000  # what a WebRTC microphone sends
FRAME_MS = 20
SPECIALIST_ATTRIBUTE = "bank.specialist"
STATE_ATTRIBUTE = "lk.agent.state"
TRANSCRIPTION_TOPIC = "lk.transcription"
CHAT_TOPIC = "lk.chat"
LOUD_RMS = 200.0  # int16 RMS above which a 20 ms agent frame counts as speech
T = TypeVar("T")


@dataclass(frozen=True)
class Heard:
    at: float  # time.monotonic() when the frame arrived
    frame: rtc.AudioFrame
    desk: str | None

    @property
    def loud(self) -> bool:
        pcm = np.frombuffer(self.frame.data, dtype=np.int16).astype(np.float64)
        return bool(len(pcm)) and float(np.sqrt(np.mean(pcm**2))) > LOUD_RMS


@dataclass
class VoiceCaller:
    room: rtc.Room = field(default_factory=rtc.Room)
    heard: list[Heard] = field(default_factory=list)
    desks: list[tuple[float, str]] = field(default_factory=list)  # (when, desk) per change
    states: list[tuple[float, str]] = field(default_factory=list)  # (when, lk.agent.state)
    texts: list[tuple[float, str]] = field(default_factory=list)  # (stream opened, agent text)
    understood: list[str] = field(default_factory=list)  # the agent's transcripts of the caller
    _source: rtc.AudioSource = field(default_factory=lambda: rtc.AudioSource(RATE, 1))
    _speech: list[np.ndarray[tuple[int], np.dtype[np.int16]]] = field(default_factory=list)
    _line_ends: list[tuple[int, asyncio.Future[float]]] = field(default_factory=list)
    _frames_sent: int = 0
    _frames_queued: int = 0
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    @classmethod
    async def join(cls, url: str, token: str, *, microphone: bool = True) -> VoiceCaller:
        caller = cls()
        caller.room.on("track_subscribed", caller._on_track)
        caller.room.on("participant_attributes_changed", caller._on_attributes)
        caller.room.on("participant_connected", caller._on_participant)
        caller.room.register_text_stream_handler(TRANSCRIPTION_TOPIC, caller._on_transcription)
        await caller.room.connect(url, token)
        if microphone:
            track = rtc.LocalAudioTrack.create_audio_track("caller-microphone", caller._source)
            options = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
            await caller.room.local_participant.publish_track(track, options)
            caller._spawn(caller._microphone())
        for participant in caller.room.remote_participants.values():
            caller._on_participant(participant)
        return caller

    # -- the microphone -------------------------------------------------------------------

    def say(self, audio: rtc.AudioFrame) -> asyncio.Future[float]:
        """Queue a line; resolves to the monotonic time its last sample leaves the source."""
        if audio.sample_rate != RATE:
            resampler = rtc.AudioResampler(audio.sample_rate, RATE, num_channels=1)
            audio = rtc.combine_audio_frames(resampler.push(audio) + resampler.flush())
        pcm = np.frombuffer(audio.data, dtype=np.int16)
        step = RATE * FRAME_MS // 1000
        for start in range(0, len(pcm), step):
            piece = pcm[start : start + step]
            self._speech.append(np.pad(piece, (0, step - len(piece))))
            self._frames_queued += 1
        done: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._line_ends.append((self._frames_queued, done))
        return done

    async def _microphone(self) -> None:
        step = RATE * FRAME_MS // 1000
        silence = np.zeros(step, dtype=np.int16)
        while True:
            pcm = self._speech.pop(0) if self._speech else silence
            frame = rtc.AudioFrame(pcm.tobytes(), RATE, 1, step)
            await self._source.capture_frame(frame)  # paced by the source's real-time queue
            if pcm is not silence:
                self._frames_sent += 1
                for count, done in self._line_ends:
                    if count == self._frames_sent and not done.done():
                        done.set_result(time.monotonic() + self._source.queued_duration)

    # -- the ears and the agent's attributes ------------------------------------------------

    def _on_participant(self, participant: rtc.RemoteParticipant) -> None:
        if participant.kind == rtc.ParticipantKind.PARTICIPANT_KIND_AGENT:
            self._on_attributes(dict(participant.attributes), participant)
            for publication in participant.track_publications.values():
                if publication.track is not None:
                    self._on_track(publication.track, publication, participant)

    def _on_track(
        self,
        track: rtc.Track,
        _publication: rtc.RemoteTrackPublication,
        participant: rtc.RemoteParticipant,
    ) -> None:
        if track.kind != rtc.TrackKind.KIND_AUDIO:
            return
        if participant.kind != rtc.ParticipantKind.PARTICIPANT_KIND_AGENT:
            return

        async def listen() -> None:
            stream = rtc.AudioStream.from_track(
                track=track, sample_rate=RATE, num_channels=1, frame_size_ms=FRAME_MS
            )
            async for event in stream:
                self.heard.append(Heard(time.monotonic(), event.frame, self.desk))

        self._spawn(listen())

    def _on_attributes(self, changed: dict[str, str], participant: rtc.Participant) -> None:
        if participant.kind != rtc.ParticipantKind.PARTICIPANT_KIND_AGENT:
            return
        now = time.monotonic()
        desk = changed.get(SPECIALIST_ATTRIBUTE)
        if desk and desk != self.desk:
            self.desks.append((now, desk))
        state = changed.get(STATE_ATTRIBUTE)
        if state and (not self.states or self.states[-1][1] != state):
            self.states.append((now, state))
        self._changed.set()

    def _on_transcription(self, reader: rtc.TextStreamReader, identity: str) -> None:
        opened = time.monotonic()  # the agent's first text of a reply is on its way

        async def read() -> None:
            text = await reader.read_all()
            if not text.strip():
                return
            if identity == self.room.local_participant.identity:
                if (reader.info.attributes or {}).get("lk.transcription_final") == "true":
                    self.understood.append(text.strip())
            else:
                # Only the agent speaks here besides this caller. Not asked of the room's
                # participants: the text can overtake the signal that the agent joined.
                self.texts.append((opened, text.strip()))
            self._changed.set()

        self._spawn(read())

    async def type(self, text: str) -> float:
        """Send a typed line on `lk.chat` (the text channel); returns when it was sent."""
        await self.room.local_participant.send_text(text, topic=CHAT_TOPIC)
        return time.monotonic()

    @property
    def desk(self) -> str | None:
        return self.desks[-1][1] if self.desks else None

    @property
    def state(self) -> str | None:
        return self.states[-1][1] if self.states else None

    # -- what a test or a benchmark does --------------------------------------------------

    def first_loud_after(self, when: float) -> Heard | None:
        return next((h for h in self.heard if h.at >= when and h.loud), None)

    def audio_between(self, start: float, end: float = float("inf")) -> list[rtc.AudioFrame]:
        return [h.frame for h in self.heard if start <= h.at < end]

    async def until(self, probe: Callable[[], T | None], within: float, failure: str) -> T:
        deadline = time.monotonic() + within
        while True:
            found = probe()
            if found is not None:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"{failure} within {within:.0f} s; {self.describe()}")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), timeout=0.1)
            except TimeoutError:
                pass

    async def until_listening(self, *, since: float, within: float = 60.0) -> float:
        """When the agent went back to listening after speaking, both after `since`."""

        def probe() -> float | None:
            spoke = next((t for t, s in self.states if t >= since and s == "speaking"), None)
            if spoke is None:
                return None
            return next((t for t, s in self.states if t > spoke and s == "listening"), None)

        return await self.until(probe, within, "the agent never finished speaking")

    def describe(self) -> str:
        loud = sum(h.frame.duration for h in self.heard if h.loud)
        said = " | ".join(t for _, t in self.texts[-4:])
        return (
            f"desks {[d for _, d in self.desks]}; {loud:.1f} s loud; agent heard "
            f"{self.understood[-3:]}; agent said: {said}"
        )

    async def hang_up(self) -> None:
        await self.room.disconnect()
        for task in list(self._tasks):
            task.cancel()
        await self._source.aclose()

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def voice_token(api_key: str, api_secret: str, *, room: str, identity: str, agent_name: str) -> str:
    """A join token whose room configuration dispatches `agent_name` into the room."""
    return (
        api.AccessToken(api_key, api_secret)
        .with_identity(identity)
        .with_grants(api.VideoGrants(room_join=True, room=room))
        .with_room_config(
            api.RoomConfiguration(agents=[api.RoomAgentDispatch(agent_name=agent_name)])
        )
        .to_jwt()
    )
