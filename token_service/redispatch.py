"""No caller is left alone in a room: the agent is re-dispatched when its worker is lost.

LiveKit does not re-dispatch a job whose worker dies: the agent participant times out of
the room (about 20 s after the process is gone) and the job simply ends, leaving the caller
in silence. livekit-server's `participant_left` webhook for our agent, while a caller is
still in the room, therefore creates a new dispatch here. The new job finds the call's
checkpoint, bound to that caller, and resumes at the same desk without greeting again.

A deliberate end never looks like this: a hang-up leaves no caller behind, and a transfer
to a person moves the caller out first. A room gets at most MAX_REDISPATCHES, so an agent
that crashes on start cannot loop."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web
from livekit import api
from livekit.protocol.models import ParticipantInfo

logger = logging.getLogger("bank.token_service.redispatch")

WEBHOOK_PATH = "/livekit/webhook"
MAX_REDISPATCHES = 3
AGENT_NAME_ATTRIBUTE = "lk.agent.name"  # set by livekit-server on every dispatched agent
REDISPATCH_METADATA = '{"redispatch": true}'


@dataclass
class Redispatcher:
    agent_name: str
    receiver: api.WebhookReceiver
    livekit: api.LiveKitAPI
    redispatched: dict[str, int] = field(default_factory=dict)  # room name -> count

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.text()
        try:
            event = self.receiver.receive(body, request.headers.get("Authorization", ""))
        except Exception:  # a forged or stale webhook: the signature is the whole check
            logger.warning("rejected a webhook with a bad signature")
            return web.json_response({"error": "unauthorized"}, status=401)
        if event.event == "room_finished":
            self.redispatched.pop(event.room.name, None)
        elif event.event == "participant_left" and self._is_our_agent(event.participant):
            try:
                await self._agent_left(event.room.name)
            except aiohttp.ClientError:
                # livekit-server retries a webhook that fails, so say so rather than drop it.
                logger.warning("LiveKit API unreachable; webhook not handled")
                return web.json_response({"error": "unavailable"}, status=503)
        return web.json_response({"ok": True})

    def _is_our_agent(self, participant: ParticipantInfo) -> bool:
        return (
            participant.kind == ParticipantInfo.Kind.AGENT
            and participant.attributes.get(AGENT_NAME_ATTRIBUTE) == self.agent_name
        )

    async def _agent_left(self, room: str) -> None:
        try:
            listing = await self.livekit.room.list_participants(
                api.ListParticipantsRequest(room=room)
            )
        except api.TwirpError as exc:
            if exc.code != "not_found":
                logger.warning("could not list the room's participants", extra={"code": exc.code})
            return
        people = [p for p in listing.participants if p.kind != ParticipantInfo.Kind.AGENT]
        agents = [p for p in listing.participants if self._is_our_agent(p)]
        if not people or agents:
            return  # the call is over, or another agent already serves it
        count = self.redispatched.get(room, 0)
        if count >= MAX_REDISPATCHES:
            logger.error("agent lost again; not re-dispatching", extra={"room": room})
            return
        self.redispatched[room] = count + 1
        await self.livekit.agent_dispatch.create_dispatch(
            api.CreateAgentDispatchRequest(
                agent_name=self.agent_name, room=room, metadata=REDISPATCH_METADATA
            )
        )
        logger.warning("agent lost mid-call; re-dispatched", extra={"room": room, "n": count + 1})
