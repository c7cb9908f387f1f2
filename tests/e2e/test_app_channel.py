"""The app channel end to end: log in at the token service, join the room its token names,
the agent is dispatched by the token's room configuration, and a typed conversation moves
through the desks to a card lock that the database then holds."""

from __future__ import annotations

import asyncpg
from e2e_stack import Stack

from local_stack import AgentWorker
from local_stack.caller import Caller


async def test_app_call_from_login_to_card_lock(stack: Stack, agent_worker: AgentWorker) -> None:
    login = stack.login("1001", "1234")
    caller = await Caller.join(login["server_url"], login["participant_token"])
    try:
        await caller.wait_for_agent()
        greeting = await caller.expect(r"\w")
        print(caller.describe())
        mark = await caller.say("What's my balance?")
        await caller.expect(r"available balance", after=mark)
        await caller.expect_desk("balance")
        mark = await caller.say("I want to lock my credit card")
        await caller.expect_desk("card_security")
        await caller.expect(r"5454", after=mark)
        mark = await caller.say("yes")
        await caller.expect(r"locked", after=mark)
        await caller.quiet()
        print(caller.describe())
    finally:
        await caller.hang_up()
    conn = await asyncpg.connect(stack.dsn)
    try:
        status = await conn.fetchval("SELECT status FROM cards WHERE last_four = '5454'")
    finally:
        await conn.close()
    assert status == "locked"
    assert greeting.desk == "greeter"
