"""A lost worker mid-call. LiveKit itself does not re-dispatch: the dead agent times out of
the room (~20 s) and its job just ends. The token service hears that through the server's
webhook and re-dispatches; the new job resumes from the checkpoint, bound to this caller,
at the same desk, and says it is back instead of greeting again. With no worker registered
at that moment the dispatch gets no agent, so the token service withdraws it and dispatches
again until a worker has registered."""

from __future__ import annotations

import asyncio
import time

from e2e_stack import Stack
from livekit import api

from agents.greeter import GREETING_APP
from local_stack.caller import Caller
from token_service.redispatch import REDISPATCH_METADATA


async def test_call_survives_a_killed_worker_at_the_same_desk(private_stack: Stack) -> None:
    first = private_stack.worker("worker-doomed").start()
    login = private_stack.login("1002", "5678")
    caller = await Caller.join(login["server_url"], login["participant_token"])
    replacement = None
    try:
        await caller.wait_for_agent()
        await caller.expect(r"through to Northwind Bank")
        mark = await caller.say("What's my balance?")
        await caller.expect(r"balance", after=mark)
        await caller.expect_desk("balance")
        await caller.quiet(0.5)

        # Spare capacity, registered before the loss as in production: a re-dispatch made
        # while no worker is registered fails in livekit-server ("no response from
        # servers"), and a worker started after the kill raced the ~20 s timeout on a
        # loaded box.
        replacement = private_stack.worker("worker-replacement").start()
        first.kill()  # SIGKILL to the worker and its job processes: a lost machine
        mark = len(caller.lines)
        # ~20 s for the server to give up on the dead agent, then a new job process.
        back = await caller.expect(r"cut off", after=mark, within=180)
        assert back.desk == "balance"
        assert "balance desk" in back.text

        mark = await caller.say("and my recent transactions?")
        await caller.expect(r"\$|dollars", after=mark, within=30)
    finally:
        await caller.hang_up()
        if replacement is not None:
            replacement.stop()
    assert_resumed_once(caller, mark)


async def test_call_waits_for_a_worker_that_registers_after_the_loss(
    private_stack: Stack,
) -> None:
    only = private_stack.worker("worker-only").start()
    login = private_stack.login("1002", "5678")
    caller = await Caller.join(login["server_url"], login["participant_token"])
    late = None
    try:
        await caller.wait_for_agent()
        await caller.expect(r"through to Northwind Bank")
        mark = await caller.say("What's my balance?")
        await caller.expect(r"balance", after=mark)
        await caller.expect_desk("balance")
        await caller.quiet(0.5)

        only.kill()  # the only worker: nothing is registered to take the re-dispatch
        mark = len(caller.lines)
        # ~20 s until the server gives up on the dead agent; the token service's first
        # dispatch then finds no worker and can get no agent.
        await wait_for_redispatch(private_stack, caller.room.name)
        await asyncio.sleep(3)
        late = await asyncio.to_thread(private_stack.worker("worker-late").start)
        # The next dispatch (after a withdrawn one) reaches it; a new job process, resuming.
        back = await caller.expect(r"cut off", after=mark, within=300)
        assert back.desk == "balance"
        assert "balance desk" in back.text

        mark = await caller.say("and my recent transactions?")
        await caller.expect(r"\$|dollars", after=mark, within=60)
    finally:
        await caller.hang_up()
        if late is not None:
            late.stop()
    assert_resumed_once(caller, mark)
    assert "trying again" in private_stack.token_service.log_path.read_text()
    assert len(set(caller.agent_identities)) == 2  # the lost agent and one replacement


async def wait_for_redispatch(stack: Stack, room: str, *, within: float = 180.0) -> None:
    """Until the token service's re-dispatch is listed in the room."""
    deadline = time.monotonic() + within
    async with api.LiveKitAPI(
        stack.livekit.http_url, stack.livekit.api_key, stack.livekit.api_secret
    ) as lkapi:
        while not any(
            dispatch.metadata == REDISPATCH_METADATA
            for dispatch in await lkapi.agent_dispatch.list_dispatch(room)
        ):
            assert time.monotonic() < deadline, f"no re-dispatch within {within:.0f} s"
            await asyncio.sleep(0.5)


def assert_resumed_once(caller: Caller, mark: int) -> None:
    greetings = [ln for ln in caller.lines if ln.text.startswith(GREETING_APP.split("{")[0])]
    assert len(greetings) == 1, caller.describe()
    assert "through to Northwind" not in " ".join(ln.text for ln in caller.lines[mark:])
    # Still verified by the app login: no PIN was asked for again.
    assert not any("PIN" in ln.text for ln in caller.lines), caller.describe()
