"""No caller is left alone in a room: the agent is re-dispatched when its worker is lost.

LiveKit does not re-dispatch a job whose worker dies: the agent participant times out of
the room (about 20 s after the process is gone) and the job simply ends, leaving the caller
in silence. livekit-server's `participant_left` webhook for our agent, while a caller is
still in the room, therefore creates a new dispatch here. The new job finds the call's
checkpoint, bound to that caller, and resumes at the same desk without greeting again.

A dispatch alone is no guarantee: livekit-server offers the job to the workers registered
at that moment, once. If none is (the only worker is restarting), the dispatch sits in the
room with no job and no agent ever comes. So the webhook only starts a watch, a background
task of the Redispatcher's own (the webhook answers at once: livekit-server retries one
that times out), which checks the room through the server API: no agent of ours within
RetryPolicy.join_timeout, it withdraws that dispatch and dispatches again, with backoff, up
to RetryPolicy.attempts times, then logs that it gave up. Before every dispatch it looks for
an agent of ours in the room, and one dispatch is withdrawn before the next is made (which
also ends a job that was still starting), so a room never gets two agents.

A deliberate end never looks like this: a hang-up leaves no caller behind, and a transfer
to a person moves the caller out first. A room gets at most MAX_REDISPATCHES lost agents
brought back, so an agent that crashes on start cannot loop."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from dataclasses import dataclass, field
from functools import partial

import aiohttp
from aiohttp import web
from livekit import api
from livekit.protocol.models import ParticipantInfo
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

logger = logging.getLogger("bank.token_service.redispatch")

WEBHOOK_PATH = "/livekit/webhook"
MAX_REDISPATCHES = 3
AGENT_NAME_ATTRIBUTE = "lk.agent.name"  # set by livekit-server on every dispatched agent
REDISPATCH_METADATA = '{"redispatch": true}'


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How long one lost agent is waited for. The defaults give a restarting worker about
    two and a half minutes to register (8 dispatches, 10 s each, backoff between); the
    caller hears silence meanwhile."""

    attempts: int = 8  # dispatches per lost agent
    join_timeout: float = 10.0  # no worker took the dispatch and no agent joined: withdraw it
    accepted_timeout: float = 90.0  # a worker took the job: its agent may start slowly
    backoff_initial: float = 1.0  # seconds before the second dispatch, doubling ...
    backoff_max: float = 15.0  # ... up to this
    poll_interval: float = 1.0  # how often the room is looked at while waiting


class Outcome(enum.Enum):
    SERVED = "served"  # an agent of ours is in the room
    CALL_OVER = "call over"  # no caller is left, or the room is gone
    GAVE_UP = "gave up"  # no agent joined after RetryPolicy.attempts dispatches
    REFUSED = "refused"  # the room already had MAX_REDISPATCHES agents brought back


@dataclass(frozen=True, slots=True)
class WatchResult:
    outcome: Outcome
    dispatches: int  # how many dispatches this watch made


class _NoAgentYet(Exception):
    """A dispatch got no agent in time; it was withdrawn."""


# Worth another dispatch: no agent came, or the LiveKit API failed or was unreachable.
_RETRIED = (_NoAgentYet, aiohttp.ClientError, api.TwirpError, TimeoutError)


@dataclass
class _Watch:
    """One lost agent being brought back to one room."""

    room: str
    counted: bool = False  # against MAX_REDISPATCHES
    dispatches: int = 0
    unwithdrawn: set[str] = field(default_factory=set)  # dispatch ids a failed delete left


@dataclass(frozen=True, slots=True)
class _Room:
    callers: int
    agent_present: bool


@dataclass
class Redispatcher:
    agent_name: str
    receiver: api.WebhookReceiver
    livekit: api.LiveKitAPI
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    redispatched: dict[str, int] = field(default_factory=dict)  # room name -> count
    _watches: dict[str, asyncio.Task[WatchResult]] = field(
        default_factory=dict, init=False, repr=False
    )

    async def handle(self, request: web.Request) -> web.Response:
        try:
            # livekit-server sends UTF-8 JSON; any other bytes (or a declared charset that
            # does not exist) are a bad request, never a 500 with a traceback in the log.
            body = (await request.read()).decode("utf-8")
        except UnicodeDecodeError:
            return web.json_response({"error": "bad_request"}, status=400)
        try:
            event = self.receiver.receive(body, request.headers.get("Authorization", ""))
        except Exception:  # a forged or stale webhook: the signature is the whole check
            logger.warning("rejected a webhook with a bad signature")
            return web.json_response({"error": "unauthorized"}, status=401)
        if event.event == "room_finished":
            self._forget(event.room.name)
        elif event.event == "participant_left" and self._is_our_agent(event.participant):
            self.agent_lost(event.room.name)
        return web.json_response({"ok": True})

    def agent_lost(self, room: str) -> asyncio.Task[WatchResult]:
        """Start bringing an agent back to the room, in the background; a room that is
        already being watched keeps its one watch."""
        watch = self._watches.get(room)
        if watch is None or watch.done():
            watch = asyncio.create_task(self._watch(room), name=f"redispatch:{room}")
            self._watches[room] = watch
            watch.add_done_callback(partial(self._watch_done, room))
        return watch

    async def aclose(self) -> None:
        """Cancel every watch (the service is shutting down)."""
        watches = list(self._watches.values())
        for watch in watches:
            watch.cancel()
        await asyncio.gather(*watches, return_exceptions=True)

    def _forget(self, room: str) -> None:
        self.redispatched.pop(room, None)
        watch = self._watches.pop(room, None)
        if watch is not None:
            watch.cancel()

    def _watch_done(self, room: str, watch: asyncio.Task[WatchResult]) -> None:
        if self._watches.get(room) is watch:
            del self._watches[room]
        if not watch.cancelled() and (error := watch.exception()) is not None:
            logger.error("re-dispatch watch for room %s failed", room, exc_info=error)

    def _is_our_agent(self, participant: ParticipantInfo) -> bool:
        return (
            participant.kind == ParticipantInfo.Kind.AGENT
            and participant.attributes.get(AGENT_NAME_ATTRIBUTE) == self.agent_name
        )

    async def _watch(self, room: str) -> WatchResult:
        watch = _Watch(room)
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.policy.attempts),
            wait=wait_exponential(
                multiplier=self.policy.backoff_initial, max=self.policy.backoff_max
            ),
            retry=retry_if_exception_type(_RETRIED),
            before_sleep=partial(_log_retry, room),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    outcome = await self._attempt(watch)
                    if outcome is Outcome.SERVED and watch.dispatches:
                        logger.info(
                            "an agent is back in room %s after %d dispatch(es)",
                            room,
                            watch.dispatches,
                        )
                    return WatchResult(outcome, watch.dispatches)
        except _RETRIED as exc:
            logger.error(
                "gave up re-dispatching to room %s: no agent joined after %d dispatch(es) "
                "(last: %s); the caller is alone",
                room,
                watch.dispatches,
                "no agent in time" if isinstance(exc, _NoAgentYet) else repr(exc),
            )
        return WatchResult(Outcome.GAVE_UP, watch.dispatches)

    async def _attempt(self, watch: _Watch) -> Outcome:
        room = watch.room
        for stale in list(watch.unwithdrawn):  # never a new dispatch beside an old one
            await self._withdraw(room, stale)
            watch.unwithdrawn.discard(stale)
        state = await self._room(room)
        if state.callers == 0:
            return Outcome.CALL_OVER
        if state.agent_present:
            return Outcome.SERVED
        if not watch.counted:
            count = self.redispatched.get(room, 0)
            if count >= MAX_REDISPATCHES:
                logger.error(
                    "agent lost again in room %s; not re-dispatching (already brought back %d "
                    "times)",
                    room,
                    count,
                )
                return Outcome.REFUSED
            self.redispatched[room] = count + 1
            watch.counted = True
        dispatch = await self.livekit.agent_dispatch.create_dispatch(
            api.CreateAgentDispatchRequest(
                agent_name=self.agent_name, room=room, metadata=REDISPATCH_METADATA
            )
        )
        watch.dispatches += 1
        logger.warning(
            "agent lost mid-call in room %s; re-dispatched (loss %d, dispatch %d of %d)",
            room,
            self.redispatched[room],
            watch.dispatches,
            self.policy.attempts,
        )
        try:
            outcome = await self._await_agent(room, dispatch.id)
            if outcome is None:
                raise _NoAgentYet
        except _RETRIED:
            # Withdrawn before any other dispatch: its job may still be starting.
            watch.unwithdrawn.add(dispatch.id)
            with contextlib.suppress(*_RETRIED):
                await self._withdraw(room, dispatch.id)
                watch.unwithdrawn.discard(dispatch.id)
            raise
        return outcome

    async def _await_agent(self, room: str, dispatch_id: str) -> Outcome | None:
        """SERVED once our agent is in the room, CALL_OVER once no caller is, None when the
        dispatch's time is up."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        limit = self.policy.join_timeout
        while True:
            state = await self._room(room)
            if state.callers == 0:
                return Outcome.CALL_OVER
            if state.agent_present:
                return Outcome.SERVED
            if limit < self.policy.accepted_timeout and await self._accepted(room, dispatch_id):
                limit = self.policy.accepted_timeout  # a worker took it: the agent is coming
            if loop.time() - started >= limit:
                return None
            await asyncio.sleep(self.policy.poll_interval)

    async def _room(self, room: str) -> _Room:
        try:
            listing = await self.livekit.room.list_participants(
                api.ListParticipantsRequest(room=room)
            )
        except api.TwirpError as exc:
            if exc.code == api.TwirpErrorCode.NOT_FOUND:
                return _Room(callers=0, agent_present=False)
            raise
        return _Room(
            callers=sum(1 for p in listing.participants if p.kind != ParticipantInfo.Kind.AGENT),
            agent_present=any(self._is_our_agent(p) for p in listing.participants),
        )

    async def _accepted(self, room: str, dispatch_id: str) -> bool:
        """A worker accepted the dispatch's job (livekit-server lists the jobs it placed)."""
        dispatch = await self.livekit.agent_dispatch.get_dispatch(dispatch_id, room)
        return dispatch is not None and len(dispatch.state.jobs) > 0

    async def _withdraw(self, room: str, dispatch_id: str) -> None:
        """Delete the dispatch (livekit-server also ends a job of it that is starting)."""
        try:
            await self.livekit.agent_dispatch.delete_dispatch(dispatch_id, room)
        except api.TwirpError as exc:
            if exc.code != api.TwirpErrorCode.NOT_FOUND:  # gone already, with its room
                raise


def _log_retry(room: str, state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    wait = state.next_action.sleep if state.next_action else 0.0
    logger.warning(
        "no agent in room %s after attempt %d (%s); trying again in %.1f s",
        room,
        state.attempt_number,
        "no agent joined in time" if isinstance(error, _NoAgentYet) else repr(error),
        wait,
    )
