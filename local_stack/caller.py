"""A real caller in a real room, for the end-to-end tests and the benchmarks: joins with a
LiveKit token through the rtc SDK, types on `lk.chat`, reads the agent's `lk.transcription`
text streams and follows the agent's participant attributes (`bank.specialist`,
`lk.agent.state`), as LiveKit's own clients do."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from livekit import api, rtc

CHAT_TOPIC = "lk.chat"
TRANSCRIPTION_TOPIC = "lk.transcription"
SPECIALIST_ATTRIBUTE = "bank.specialist"
AGENT_NAME = "bank-support"
# The app's confirmation sheet, as the agent asks it over RPC (agents/app_confirm.py).
CONFIRM_METHOD = "bank.confirm"
T = TypeVar("T")


@dataclass(frozen=True)
class AgentLine:
    text: str
    speaker: str  # the agent participant's identity
    desk: str | None  # the `bank.specialist` attribute when the line arrived
    final: bool
    arrived: float  # time.perf_counter() when its stream opened (first words, not last)


@dataclass
class Caller:
    room: rtc.Room = field(default_factory=rtc.Room)
    heard: list[AgentLine] = field(default_factory=list)  # every transcription, any sender
    desks: list[str] = field(default_factory=list)  # every value `bank.specialist` took
    agent_identities: list[str] = field(default_factory=list)
    rpc_calls: list[rtc.RpcInvocationData] = field(default_factory=list)  # received, in order
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _readers: set[asyncio.Task[None]] = field(default_factory=set)

    @classmethod
    async def join(cls, url: str, token: str) -> Caller:
        caller = cls()
        caller.room.register_text_stream_handler(TRANSCRIPTION_TOPIC, caller._on_transcription)
        caller.room.on("participant_connected", caller._on_participant)
        caller.room.on("participant_attributes_changed", caller._on_attributes)
        caller.room.on("participant_disconnected", lambda _p: caller._changed.set())
        await caller.room.connect(url, token)
        for participant in caller.room.remote_participants.values():
            caller._on_participant(participant)
        return caller

    # -- events ---------------------------------------------------------------------------

    @property
    def lines(self) -> list[AgentLine]:
        """What the agent said, in order. Judged when asked, not when a line arrives: the
        text stream (data channel) can overtake the signalling that tells this caller the
        sender is an agent (seen under load: 3 of 20 greetings came before their agent)."""
        return [line for line in self.heard if self._is_agent(line.speaker)]

    def _is_agent(self, identity: str) -> bool:
        if identity in self.agent_identities:
            return True
        participant = self.room.remote_participants.get(identity)
        if participant is None or participant.kind != rtc.ParticipantKind.PARTICIPANT_KIND_AGENT:
            return False
        self.agent_identities.append(identity)  # remembered after it leaves the room
        return True

    def _on_participant(self, participant: rtc.RemoteParticipant) -> None:
        if participant.kind == rtc.ParticipantKind.PARTICIPANT_KIND_AGENT:
            self.agent_identities.append(participant.identity)
            self._record_desk(participant.attributes.get(SPECIALIST_ATTRIBUTE))
        self._changed.set()

    def _on_attributes(self, changed: dict[str, str], participant: rtc.Participant) -> None:
        if participant.kind == rtc.ParticipantKind.PARTICIPANT_KIND_AGENT:
            self._record_desk(changed.get(SPECIALIST_ATTRIBUTE))
        self._changed.set()

    def _record_desk(self, desk: str | None) -> None:
        if desk and (not self.desks or self.desks[-1] != desk):
            self.desks.append(desk)

    def _on_transcription(self, reader: rtc.TextStreamReader, identity: str) -> None:
        opened = time.perf_counter()

        async def read() -> None:
            text = await reader.read_all()
            final = (reader.info.attributes or {}).get("lk.transcription_final") == "true"
            if identity != self.room.local_participant.identity and text.strip():
                desk = self.desks[-1] if self.desks else None
                self.heard.append(AgentLine(text.strip(), identity, desk, final, opened))
            self._changed.set()

        task = asyncio.get_running_loop().create_task(read())
        self._readers.add(task)
        task.add_done_callback(self._readers.discard)

    def answer_rpc(
        self, method: str, answer: Callable[[rtc.RpcInvocationData], Awaitable[str]]
    ) -> None:
        """Register an RPC method as the app does (`bank.confirm`: its confirmation sheet);
        each call is recorded in `rpc_calls`, then answered by `answer`."""

        async def handle(data: rtc.RpcInvocationData) -> str:
            self.rpc_calls.append(data)
            self._changed.set()
            return await answer(data)

        self.room.local_participant.register_rpc_method(method, handle)

    async def expect_rpc(self, method: str, *, within: float = 60.0) -> rtc.RpcInvocationData:
        """The first RPC call of `method` this caller received."""
        return await self._until(
            lambda: next((c for c in self.rpc_calls if c.method == method), None),
            within,
            f"no {method} RPC call",
        )

    # -- what a test does -----------------------------------------------------------------

    @property
    def agent(self) -> rtc.RemoteParticipant | None:
        for participant in self.room.remote_participants.values():
            if participant.kind == rtc.ParticipantKind.PARTICIPANT_KIND_AGENT:
                return participant
        return None

    async def say(self, text: str) -> int:
        """Type a line on `lk.chat`; returns the transcript position to expect replies after."""
        mark = len(self.lines)
        await self.room.local_participant.send_text(text, topic=CHAT_TOPIC)
        return mark

    async def expect(self, pattern: str, *, after: int = 0, within: float = 60.0) -> AgentLine:
        """The first agent line at or after position `after` matching `pattern` (regex,
        case-insensitive); fails with the transcript so far when none comes in time."""
        regex = re.compile(pattern, re.IGNORECASE)
        return await self._until(
            lambda: next((ln for ln in self.lines[after:] if regex.search(ln.text)), None),
            within,
            f"no agent line matching {pattern!r}",
        )

    async def expect_desk(self, desk: str, *, within: float = 60.0) -> None:
        await self._until(
            lambda: desk if desk in self.desks else None, within, f"desk never became {desk!r}"
        )

    async def wait_for_agent(self, *, within: float = 60.0) -> rtc.RemoteParticipant:
        return await self._until(lambda: self.agent, within, "no agent joined the room")

    async def quiet(self, seconds: float = 1.0) -> None:
        """Wait until no new agent line arrived for `seconds` (nothing more is coming)."""
        count = -1
        while count != len(self.lines):
            count = len(self.lines)
            await asyncio.sleep(seconds)

    async def _until(self, probe: Callable[[], T | None], within: float, failure: str) -> T:
        deadline = time.monotonic() + within
        while True:
            found = probe()
            if found is not None:
                return found
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{failure} within {within:.0f} s; {self.describe()}")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), timeout=min(remaining, 0.5))
            except TimeoutError:
                pass

    def describe(self) -> str:
        said = "\n".join(f"  [{ln.desk}] {ln.text}" for ln in self.lines) or "  (nothing)"
        return f"desks {self.desks}; agent said:\n{said}"

    async def hang_up(self) -> None:
        await self.room.disconnect()
        for task in list(self._readers):
            task.cancel()


def dispatch_token(
    api_key: str,
    api_secret: str,
    *,
    room: str,
    identity: str,
    kind: str = "standard",
    attributes: dict[str, str] | None = None,
) -> str:
    """A join token whose room configuration dispatches the bank agent, as the token
    service and LiveKit SIP's dispatch rule do (minted here with the API key)."""
    token = (
        api.AccessToken(api_key, api_secret)
        .with_identity(identity)
        .with_kind(kind)  # type: ignore[arg-type]
        .with_grants(api.VideoGrants(room_join=True, room=room))
        .with_room_config(
            api.RoomConfiguration(agents=[api.RoomAgentDispatch(agent_name=AGENT_NAME)])
        )
    )
    if attributes:
        token = token.with_attributes(attributes)
    return token.to_jwt()
