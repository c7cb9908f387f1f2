"""The first words reach the caller even when the agent speaks before the room is linked.

livekit-agents 1.8.9 links the agent's transcription output to the room in a background
task after `session.start`, and drops any text written before that. Under load a greeting
was lost that way (seen in the transport benchmark: an agent in the room, silent). Here the
session starts before the caller has joined, which makes the race certain: the greeter must
wait for the room and still be heard."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

from e2e_stack import Stack
from livekit import api, rtc
from livekit.agents import room_io
from livekit.agents.types import ATTRIBUTE_AGENT_STATE

from agents import Greeter, new_session
from agents.greeter import GREETING
from agents.opening import keep_agent_state_published
from local_stack.caller import Caller
from models import OfflineBankLLM
from shared_state import SessionState
from tools.db import Database


def _token(stack: Stack, room: str, identity: str, *, agent: bool = False) -> str:
    grants = api.VideoGrants(room_join=True, room=room, agent=agent)
    # As the token livekit-server gives a dispatched agent: it may set its attributes.
    grants.can_update_own_metadata = agent
    token = api.AccessToken(stack.livekit.api_key, stack.livekit.api_secret)
    token = token.with_identity(identity).with_grants(grants)
    return (token.with_kind("agent") if agent else token).to_jwt()


@contextlib.asynccontextmanager
async def _agent_in_room(stack: Stack, db: Database, room: str) -> AsyncIterator[tuple[Any, Any]]:
    """An agent session started in a room before any caller has joined (text only)."""
    agent_room = rtc.Room()
    await agent_room.connect(stack.livekit.url, _token(stack, room, f"agent-{room}", agent=True))
    session = new_session(SessionState(db=db, channel="app"), llm=OfflineBankLLM())
    try:
        await session.start(
            Greeter(),
            room=agent_room,
            room_options=room_io.RoomOptions(audio_input=False, audio_output=False),
        )
        yield session, agent_room
    finally:
        await session.aclose()
        await agent_room.disconnect()


async def test_greeting_said_before_the_room_is_linked_is_heard(stack: Stack, db: Database) -> None:
    room_name = f"bank-{uuid.uuid4()}"
    async with _agent_in_room(stack, db, room_name):
        caller = await Caller.join(stack.livekit.url, _token(stack, room_name, "caller-first"))
        try:
            greeting = await caller.expect(r"through to Northwind Bank", within=30)
            assert greeting.text == GREETING
        finally:
            await caller.hang_up()


async def test_a_lost_agent_state_update_is_published_again(stack: Stack, db: Database) -> None:
    """The app's status line reads the agent's `lk.agent.state`. livekit publishes it once
    per change; an update lost on the way (here: overwritten by a stale one, as a cancelled
    or failed update leaves it) is put right by the session's own check."""
    room_name = f"bank-{uuid.uuid4()}"
    async with _agent_in_room(stack, db, room_name) as (session, agent_room):
        keeper = asyncio.create_task(keep_agent_state_published(session, agent_room))
        caller = await Caller.join(stack.livekit.url, _token(stack, room_name, "caller-state"))
        try:
            await caller.expect(r"through to Northwind Bank", within=30)

            async def seen_state(expected: str) -> None:
                agent = await caller.wait_for_agent()
                for _ in range(120):
                    if agent.attributes.get(ATTRIBUTE_AGENT_STATE) == expected:
                        return
                    await asyncio.sleep(0.25)
                raise AssertionError(f"the caller never saw {expected}: {agent.attributes}")

            await seen_state("listening")
            await agent_room.local_participant.set_attributes({ATTRIBUTE_AGENT_STATE: "thinking"})
            await seen_state("thinking")  # the stale value reached the caller...
            await seen_state("listening")  # ...and the session's state came back on its own
        finally:
            keeper.cancel()
            await caller.hang_up()
