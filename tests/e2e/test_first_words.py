"""The first words reach the caller even when the agent speaks before the room is linked.

livekit-agents 1.8.9 links the agent's transcription output to the room in a background
task after `session.start`, and drops any text written before that. Under load a greeting
was lost that way (seen in the transport benchmark: an agent in the room, silent). Here the
session starts before the caller has joined, which makes the race certain: the greeter must
wait for the room and still be heard."""

from __future__ import annotations

import asyncio
import uuid

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


async def test_greeting_said_before_the_room_is_linked_is_heard(stack: Stack, db: Database) -> None:
    room_name = f"bank-{uuid.uuid4()}"
    agent_room = rtc.Room()
    agent_token = (
        api.AccessToken(stack.livekit.api_key, stack.livekit.api_secret)
        .with_identity("agent-first-words")
        .with_kind("agent")
        .with_grants(api.VideoGrants(room_join=True, room=room_name, agent=True))
        .to_jwt()
    )
    await agent_room.connect(stack.livekit.url, agent_token)
    session = new_session(SessionState(db=db, channel="app"), llm=OfflineBankLLM())
    caller: Caller | None = None
    try:
        await session.start(
            Greeter(),
            room=agent_room,
            room_options=room_io.RoomOptions(audio_input=False, audio_output=False),
        )
        caller_token = (
            api.AccessToken(stack.livekit.api_key, stack.livekit.api_secret)
            .with_identity("caller-first-words")
            .with_grants(api.VideoGrants(room_join=True, room=room_name))
            .to_jwt()
        )
        caller = await Caller.join(stack.livekit.url, caller_token)
        greeting = await caller.expect(r"through to Northwind Bank", within=30)
        assert greeting.text == GREETING
    finally:
        if caller is not None:
            await caller.hang_up()
        await session.aclose()
        await agent_room.disconnect()


async def test_a_lost_agent_state_update_is_published_again(stack: Stack, db: Database) -> None:
    """The app's status line reads the agent's `lk.agent.state`. livekit publishes it once
    per change; an update lost on the way (here: overwritten by a stale one, as a cancelled
    or failed update leaves it) is put right by the session's own check."""
    room_name = f"bank-{uuid.uuid4()}"
    agent_room = rtc.Room()
    agent_token = (
        api.AccessToken(stack.livekit.api_key, stack.livekit.api_secret)
        .with_identity("agent-state")
        .with_kind("agent")
        # As the token livekit-server gives a dispatched agent: it may set its attributes.
        .with_grants(
            api.VideoGrants(
                room_join=True, room=room_name, agent=True, can_update_own_metadata=True
            )
        )
        .to_jwt()
    )
    await agent_room.connect(stack.livekit.url, agent_token)
    session = new_session(SessionState(db=db, channel="app"), llm=OfflineBankLLM())
    caller: Caller | None = None
    keeper: asyncio.Task[None] | None = None
    try:
        await session.start(
            Greeter(),
            room=agent_room,
            room_options=room_io.RoomOptions(audio_input=False, audio_output=False),
        )
        keeper = asyncio.create_task(keep_agent_state_published(session, agent_room))
        caller_token = (
            api.AccessToken(stack.livekit.api_key, stack.livekit.api_secret)
            .with_identity("caller-agent-state")
            .with_grants(api.VideoGrants(room_join=True, room=room_name))
            .to_jwt()
        )
        caller = await Caller.join(stack.livekit.url, caller_token)
        await caller.expect(r"through to Northwind Bank", within=30)

        async def seen_state(expected: str) -> None:
            agent = await caller.wait_for_agent()
            for _ in range(120):
                if agent.attributes.get(ATTRIBUTE_AGENT_STATE) == expected:
                    return
                await asyncio.sleep(0.25)
            raise AssertionError(
                f"caller never saw {expected}: {agent.attributes}, agent side: "
                f"{session.agent_state} {agent_room.local_participant.attributes}"
            )

        await seen_state("listening")
        await agent_room.local_participant.set_attributes({ATTRIBUTE_AGENT_STATE: "thinking"})
        await seen_state("thinking")  # the stale value reached the caller...
        await seen_state("listening")  # ...and the session's state came back on its own
    finally:
        if keeper is not None:
            keeper.cancel()
        if caller is not None:
            await caller.hang_up()
        await session.aclose()
        await agent_room.disconnect()
