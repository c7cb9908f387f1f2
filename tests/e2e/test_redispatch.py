"""The token service's webhook: only livekit-server's signed events count, and a room whose
agent left while a caller stays gets a new dispatch, watched until an agent joins: with no
worker registered the dispatch is withdrawn and made again a bounded number of times, never
two at once, and a room gets at most MAX_REDISPATCHES lost agents brought back."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from e2e_stack import Stack
from google.protobuf.json_format import MessageToJson
from livekit import api
from livekit.protocol.models import ParticipantInfo

from local_stack.caller import Caller
from token_service.redispatch import (
    AGENT_NAME_ATTRIBUTE,
    MAX_REDISPATCHES,
    WEBHOOK_PATH,
    Outcome,
    Redispatcher,
    RetryPolicy,
    WatchResult,
)


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


def caller_token(stack: Stack, room: str) -> str:
    return (
        api.AccessToken(stack.livekit.api_key, stack.livekit.api_secret)
        .with_identity("caller-waiting")
        .with_grants(api.VideoGrants(room_join=True, room=room))
        .to_jwt()
    )


@asynccontextmanager
async def redispatcher(stack: Stack, policy: RetryPolicy) -> AsyncIterator[Redispatcher]:
    """A Redispatcher of the test's own against the stack's livekit-server, so the test can
    await its watches (the token service's own one answers webhooks in the background)."""
    async with api.LiveKitAPI(
        stack.livekit.http_url, stack.livekit.api_key, stack.livekit.api_secret
    ) as lkapi:
        receiver = api.WebhookReceiver(
            api.TokenVerifier(stack.livekit.api_key, stack.livekit.api_secret)
        )
        running = Redispatcher("bank-support", receiver, lkapi, policy)
        try:
            yield running
        finally:
            await running.aclose()


async def most_dispatches_at_once(stack: Stack, room: str, watch: asyncio.Future[Any]) -> int:
    """The most dispatches of our agent seen in the room at one time while `watch` runs."""
    most = 0
    while not watch.done():
        most = max(most, await dispatches(stack, room))
        await asyncio.sleep(0.2)
    return most


# Short waits: no worker is registered, so no agent can come however long one waits.
FAST = RetryPolicy(attempts=3, join_timeout=2.0, backoff_initial=0.2, backoff_max=0.5)


async def test_with_no_worker_the_redispatch_retries_one_dispatch_at_a_time_then_gives_up(
    private_stack: Stack,
) -> None:
    room = f"bank-{uuid.uuid4()}"
    caller = await Caller.join(private_stack.livekit.url, caller_token(private_stack, room))
    try:
        async with redispatcher(private_stack, FAST) as running:
            watch = running.agent_lost(room)
            assert running.agent_lost(room) is watch  # a second webhook: the same watch
            most = await most_dispatches_at_once(private_stack, room, watch)
            result = await watch
        assert result == WatchResult(Outcome.GAVE_UP, dispatches=FAST.attempts)
        assert most <= 1  # each stale dispatch withdrawn before the next one
        assert await dispatches(private_stack, room) == 0  # none left behind
    finally:
        await caller.hang_up()


async def test_a_room_gets_a_bounded_number_of_lost_agents_brought_back(
    private_stack: Stack,
) -> None:
    room = f"bank-{uuid.uuid4()}"
    caller = await Caller.join(private_stack.livekit.url, caller_token(private_stack, room))
    once = RetryPolicy(attempts=1, join_timeout=1.0)
    try:
        async with redispatcher(private_stack, once) as running:
            results = [await running.agent_lost(room) for _ in range(MAX_REDISPATCHES + 1)]
        assert results == [WatchResult(Outcome.GAVE_UP, 1)] * MAX_REDISPATCHES + [
            WatchResult(Outcome.REFUSED, 0)
        ]
    finally:
        await caller.hang_up()


async def test_a_watch_ends_with_the_call_and_with_the_service(private_stack: Stack) -> None:
    room = f"bank-{uuid.uuid4()}"
    caller = await Caller.join(private_stack.livekit.url, caller_token(private_stack, room))
    patient = RetryPolicy(attempts=3, join_timeout=600.0)
    async with redispatcher(private_stack, patient) as running:
        watch = running.agent_lost(room)
        await wait_for_dispatch(private_stack, room)
        await caller.hang_up()  # nobody left to serve: the watch stops waiting
        assert await watch == WatchResult(Outcome.CALL_OVER, 1)

        room = f"bank-{uuid.uuid4()}"
        caller = await Caller.join(private_stack.livekit.url, caller_token(private_stack, room))
        try:
            watch = running.agent_lost(room)
            await wait_for_dispatch(private_stack, room)
            await running.aclose()  # shutdown cancels its watches
            assert watch.cancelled()
        finally:
            await caller.hang_up()


async def test_the_webhook_answers_at_once_and_watches_in_the_background(
    private_stack: Stack,
) -> None:
    """Through the token service itself: livekit-server's signed participant_left of our
    agent is answered without waiting for an agent, and a repeat while the room is watched
    makes no second dispatch."""
    room = f"bank-{uuid.uuid4()}"
    caller = await Caller.join(private_stack.livekit.url, caller_token(private_stack, room))
    try:
        # No worker: the watch goes on for minutes, far longer than the webhook's timeout.
        assert await asyncio.to_thread(post_webhook, private_stack, agent_left(room)) == 200
        await wait_for_dispatch(private_stack, room)
        assert await asyncio.to_thread(post_webhook, private_stack, agent_left(room)) == 200
        assert await dispatches(private_stack, room) <= 1
    finally:
        await caller.hang_up()


async def wait_for_dispatch(stack: Stack, room: str, *, within: float = 120.0) -> None:
    deadline = time.monotonic() + within
    while await dispatches(stack, room) == 0:
        assert time.monotonic() < deadline, f"no dispatch in {room} within {within:.0f} s"
        await asyncio.sleep(0.2)


async def test_agent_leaving_an_empty_room_is_not_redispatched(private_stack: Stack) -> None:
    room = await open_room(private_stack)
    assert post_webhook(private_stack, agent_left(room)) == 200
    assert await dispatches(private_stack, room) == 0
