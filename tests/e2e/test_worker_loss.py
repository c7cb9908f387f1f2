"""A lost worker mid-call. LiveKit itself does not re-dispatch: the dead agent times out of
the room (~20 s) and its job just ends. The token service hears that through the server's
webhook and re-dispatches; the new job resumes from the checkpoint, bound to this caller,
at the same desk, and says it is back instead of greeting again."""

from __future__ import annotations

from e2e_stack import Stack

from agents.greeter import GREETING_APP
from local_stack.caller import Caller


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
    greetings = [ln for ln in caller.lines if ln.text.startswith(GREETING_APP.split("{")[0])]
    assert len(greetings) == 1, caller.describe()
    assert "through to Northwind" not in " ".join(ln.text for ln in caller.lines[mark:])
    # Still verified by the app login: no PIN was asked for again.
    assert not any("PIN" in ln.text for ln in caller.lines), caller.describe()
