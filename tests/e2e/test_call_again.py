"""Call again: after hanging up, the same customer's next call gets a fresh token, a fresh
room and a fresh greeting at the front desk, never the old call's desk or checkpoint."""

from __future__ import annotations

from e2e_stack import Stack

from local_stack import AgentWorker
from local_stack.caller import Caller


async def test_second_call_is_a_new_call(stack: Stack, agent_worker: AgentWorker) -> None:
    first_login = stack.login("1004", "1357")
    first = await Caller.join(first_login["server_url"], first_login["participant_token"])
    try:
        await first.wait_for_agent()
        await first.expect(r"through to Northwind Bank")
        mark = await first.say("What's my balance?")
        await first.expect(r"balance", after=mark)
        await first.expect_desk("balance")
    finally:
        await first.hang_up()

    second_login = stack.login("1004", "1357")
    assert second_login["room_name"] != first_login["room_name"]
    assert second_login["participant_token"] != first_login["participant_token"]
    second = await Caller.join(second_login["server_url"], second_login["participant_token"])
    try:
        await second.wait_for_agent()
        greeting = await second.expect(r"through to Northwind Bank")
        await second.quiet()
    finally:
        await second.hang_up()
    assert greeting.desk == "greeter"
    assert second.desks == ["greeter"], second.describe()
    assert not any("cut off" in line.text for line in second.lines)
