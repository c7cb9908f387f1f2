"""The app's confirmation sheet end to end, through the real livekit-server: when a card
write awaits confirmation, the agent asks the caller's app over RPC (`bank.confirm`); the
app's Confirm writes (the database holds the card locked, audited as confirmed by the
app), its Cancel writes nothing, and nobody else in the room is asked or can answer.

Each test uses its own customer's card: the stack's database is shared by the e2e tests
(the browser test confirms 1001's debit card on screen)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable

import asyncpg
import pytest
from e2e_stack import Stack
from livekit import api, rtc

from local_stack import AgentWorker
from local_stack.caller import CONFIRM_METHOD, Caller


async def _card(dsn: str, last_four: str) -> tuple[str, list[str]]:
    """The card's status and the reasons of its audit rows (card_events)."""
    conn = await asyncpg.connect(dsn)
    try:
        card_id, status = await conn.fetchrow(
            "SELECT id, status FROM cards WHERE last_four = $1", last_four
        )
        reasons = await conn.fetch(
            "SELECT reason FROM card_events WHERE card_id = $1 ORDER BY id", card_id
        )
    finally:
        await conn.close()
    return status, [r["reason"] for r in reasons]


def _tap(answer: str) -> Callable[[rtc.RpcInvocationData], Awaitable[str]]:
    async def tap(call: rtc.RpcInvocationData) -> str:
        return json.dumps({"id": json.loads(call.payload)["id"], "answer": answer})

    return tap


async def _to_read_back(caller: Caller, request: str, last_four: str) -> int:
    await caller.wait_for_agent()
    await caller.expect(r"\w")
    mark = await caller.say(request)
    await caller.expect_desk("card_security")
    read_back = await caller.expect(last_four, after=mark)
    return caller.lines.index(read_back) + 1


async def test_app_caller_confirms_a_lock_on_the_sheet(
    stack: Stack, agent_worker: AgentWorker
) -> None:
    login = stack.login("1002", "5678")
    caller = await Caller.join(login["server_url"], login["participant_token"])
    caller.answer_rpc(CONFIRM_METHOD, _tap("confirm"))
    try:
        after = await _to_read_back(caller, "I want to lock my card", "1881")
        asked = await caller.expect_rpc(CONFIRM_METHOD)
        await caller.expect(r"locked", after=after)
        await caller.quiet()
        print(caller.describe())
    finally:
        await caller.hang_up()
    # The sheet was shown what the caller heard, no more: the action and the last four.
    request = json.loads(asked.payload)
    assert asked.caller_identity in caller.agent_identities
    assert set(request) == {"version", "id", "action", "card_last_four", "timeout_s"}
    assert (request["action"], request["card_last_four"]) == ("lock", "1881")
    status, reasons = await _card(stack.dsn, "1881")
    assert status == "locked"
    assert len(reasons) == 1 and "confirmed by app" in reasons[0], reasons


async def test_app_caller_cancels_on_the_sheet(stack: Stack, agent_worker: AgentWorker) -> None:
    login = stack.login("1004", "1357")
    caller = await Caller.join(login["server_url"], login["participant_token"])
    caller.answer_rpc(CONFIRM_METHOD, _tap("cancel"))
    try:
        after = await _to_read_back(caller, "I want to lock my card", "9191")
        await caller.expect_rpc(CONFIRM_METHOD)
        await caller.expect(r"haven.t changed anything", after=after)
        await caller.quiet()
        print(caller.describe())
    finally:
        await caller.hang_up()
    assert await _card(stack.dsn, "9191") == ("active", [])


async def test_only_the_linked_caller_is_asked(stack: Stack, agent_worker: AgentWorker) -> None:
    """A second participant in the room, ready to confirm anything, is never asked, and
    its own attempt to confirm through the agent is refused."""
    login = stack.login("1003", "2468")
    caller = await Caller.join(login["server_url"], login["participant_token"])
    tapped: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def sheet(call: rtc.RpcInvocationData) -> str:
        return json.dumps({"id": json.loads(call.payload)["id"], "answer": await tapped})

    caller.answer_rpc(CONFIRM_METHOD, sheet)
    intruder: Caller | None = None
    try:
        await caller.wait_for_agent()
        await caller.expect(r"\w")
        token = (
            api.AccessToken(stack.livekit.api_key, stack.livekit.api_secret)
            .with_identity(f"intruder-{uuid.uuid4().hex[:8]}")
            .with_grants(api.VideoGrants(room_join=True, room=login["room_name"]))
            .to_jwt()
        )
        intruder = await Caller.join(login["server_url"], token)
        intruder.answer_rpc(CONFIRM_METHOD, _tap("confirm"))
        mark = await caller.say("I want to lock my debit card")
        await caller.expect_desk("card_security")
        await caller.expect("7070", after=mark)
        await caller.expect_rpc(CONFIRM_METHOD)  # the linked caller's sheet is up
        agent = await intruder.wait_for_agent()
        with pytest.raises(rtc.RpcError) as refused:
            await intruder.room.local_participant.perform_rpc(
                destination_identity=agent.identity,
                method=CONFIRM_METHOD,
                payload=json.dumps({"action": "lock", "answer": "confirm"}),
            )
        assert refused.value.code == rtc.RpcError.ErrorCode.UNSUPPORTED_METHOD
        await caller.quiet()
        tapped.set_result("cancel")
        await caller.quiet()
        print(caller.describe())
    finally:
        if intruder is not None:
            await intruder.hang_up()
        await caller.hang_up()
    assert intruder is not None and intruder.rpc_calls == []
    assert await _card(stack.dsn, "7070") == ("active", [])
