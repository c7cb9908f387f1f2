"""The token service's webhook: only livekit-server's signed events count, and a room whose
agent left while a caller stays gets a new dispatch, at most MAX_REDISPATCHES times."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import urllib.error
import urllib.request
import uuid

import pytest
from e2e_stack import Stack
from google.protobuf.json_format import MessageToJson
from livekit import api
from livekit.protocol.models import ParticipantInfo

from local_stack.caller import Caller
from token_service.redispatch import AGENT_NAME_ATTRIBUTE, MAX_REDISPATCHES, WEBHOOK_PATH


def agent_left(room: str) -> str:
    event = api.WebhookEvent(
        event="participant_left",
        room=api.Room(name=room),
        participant=ParticipantInfo(
            identity="agent-AJ_lost",
            kind=ParticipantInfo.Kind.AGENT,
            attributes={AGENT_NAME_ATTRIBUTE: "bank-support"},
        ),
    )
    return MessageToJson(event)


def post_webhook(stack: Stack, body: str, *, secret: str | None = None) -> int:
    digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
    token = (
        api.AccessToken(stack.livekit.api_key, secret or stack.livekit.api_secret)
        .with_sha256(digest)
        .to_jwt()
    )
    request = urllib.request.Request(
        f"{stack.token_service.base_url}{WEBHOOK_PATH}",
        data=body.encode(),
        headers={"Authorization": token, "Content-Type": "application/webhook+json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


async def dispatches(stack: Stack, room: str) -> int:
    """The room's dispatches of our agent."""
    async with api.LiveKitAPI(
        stack.livekit.http_url, stack.livekit.api_key, stack.livekit.api_secret
    ) as lkapi:
        found = await lkapi.agent_dispatch.list_dispatch(room)
    # livekit-server lists its own automatic dispatch (agent name "") for every room.
    return sum(1 for dispatch in found if dispatch.agent_name == "bank-support")


async def open_room(stack: Stack) -> str:
    """A room that exists with nobody in it (the call is over, or never began)."""
    name = f"bank-{uuid.uuid4()}"
    async with api.LiveKitAPI(
        stack.livekit.http_url, stack.livekit.api_key, stack.livekit.api_secret
    ) as lkapi:
        await lkapi.room.create_room(api.CreateRoomRequest(name=name, empty_timeout=60))
    return name


async def test_forged_webhooks_are_refused(private_stack: Stack) -> None:
    room = await open_room(private_stack)
    forged = post_webhook(
        private_stack, agent_left(room), secret="a-secret-this-livekit-server-never-had"
    )
    assert forged == 401
    unsigned = urllib.request.Request(
        f"{private_stack.token_service.base_url}{WEBHOOK_PATH}",
        data=agent_left(room).encode(),
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        await asyncio.to_thread(urllib.request.urlopen, unsigned, timeout=10)
    assert refused.value.code == 401
    assert await dispatches(private_stack, room) == 0


async def test_agent_lost_with_a_caller_present_is_redispatched_a_bounded_number_of_times(
    private_stack: Stack,
) -> None:
    room = f"bank-{uuid.uuid4()}"
    token = (
        api.AccessToken(private_stack.livekit.api_key, private_stack.livekit.api_secret)
        .with_identity("caller-waiting")
        .with_grants(api.VideoGrants(room_join=True, room=room))
        .to_jwt()
    )
    caller = await Caller.join(private_stack.livekit.url, token)  # no worker: nobody answers
    try:
        for _ in range(MAX_REDISPATCHES + 2):
            assert post_webhook(private_stack, agent_left(room)) == 200
        assert await dispatches(private_stack, room) == MAX_REDISPATCHES
    finally:
        await caller.hang_up()


async def test_agent_leaving_an_empty_room_is_not_redispatched(private_stack: Stack) -> None:
    room = await open_room(private_stack)
    assert post_webhook(private_stack, agent_left(room)) == 200
    assert await dispatches(private_stack, room) == 0
