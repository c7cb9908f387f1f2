"""Warm transfer (HUMAN_TRANSFER_MODE=warm): what livekit's WarmTransferTask is given, from
a real session on the real database. The dial itself, through a real livekit-server, is in
tests/e2e/test_phone_channel.py (that server has no SIP service, so the dial fails there and
the fallback is checked end to end)."""

from __future__ import annotations

from typing import Any

from livekit.agents import ToolError
from livekit.agents.beta.workflows import WarmTransferResult, WarmTransferTask

from telephony.warm_transfer import CASE_HEADER, HOLD_LINE, WarmTransferEscalation
from tests.offline_driver import OfflineCall
from tools.db import Database

PIN = "1234"


class DialThatFails:
    """Builds livekit's real task with what our escalation passes (so its own checks run on
    the arguments), keeps it, and fails the dial as a busy or unanswered line does."""

    def __init__(self) -> None:
        self.tasks: list[WarmTransferTask] = []
        self.kwargs: list[dict[str, Any]] = []

    async def __call__(self, sip_call_to: str, **kwargs: Any) -> Any:
        self.tasks.append(WarmTransferTask(sip_call_to, **kwargs))
        self.kwargs.append({"sip_call_to": sip_call_to, **kwargs})
        raise ToolError("could not dial human agent")


async def test_brief_is_built_from_typed_state_and_the_audit_never_the_chat(
    db: Database,
) -> None:
    dial = DialThatFails()
    said: list[str] = []
    left: list[bool] = []
    async with OfflineCall(db, channel="sip") as call:
        call.state.escalation = WarmTransferEscalation(
            transfer_to="+15550009999",
            trunk_id="ST_outbound",
            say=said.append,
            leave=lambda: left.append(True),
            hold_audio=False,
            task=dial,
        )
        await call.say(f"my customer number is 1001 and my PIN is {PIN}")
        await call.say("lock my debit card")
        await call.say("yes")
        t = await call.say("I want to talk to a real person")
        state = call.state

    assert said == [HOLD_LINE] and not left
    # the fallback: still with the agent, still verified, told so with the case number
    assert "couldn't reach a colleague" in t.text and "still here" in t.text
    assert state.is_verified
    alice = await db.customer_by_number("1001")
    callback = [c for c in await db.cases(alice.id) if c.kind == "callback"]
    assert len(callback) == 1 and f"case number is {callback[0].id}" in t.text

    (kwargs,) = dial.kwargs
    assert kwargs["sip_call_to"] == "+15550009999" and kwargs["sip_trunk_id"] == "ST_outbound"
    assert kwargs["sip_headers"] == {CASE_HEADER: str(callback[0].id)}
    assert kwargs["ringing_timeout"] > 0
    brief = str(dial.tasks[0].instructions)
    assert f"Case {callback[0].id}." in brief
    assert "Alice, customer 1001, verified with customer number and PIN" in brief
    assert "card security" in brief
    assert "Visa debit card ending 4242 active -> locked" in brief
    assert "asked about: human" not in brief
    # never the PIN, never the caller's or the agent's words
    assert PIN not in brief
    for words in ("lock my debit card", "real person", "To confirm", "Northwind Bank. I"):
        assert words not in brief


async def test_answered_transfer_leaves_the_call_to_the_colleague(db: Database) -> None:
    """The colleague said to connect (livekit's task completed with a result): the agent
    leaves; the caller is in the room with them."""

    async def answered(sip_call_to: str, **kwargs: Any) -> WarmTransferResult:
        WarmTransferTask(sip_call_to, **kwargs)  # livekit's own checks of our arguments
        return WarmTransferResult(human_agent_identity="human-agent-sip")

    left: list[bool] = []
    async with OfflineCall(db, channel="sip") as call:
        call.state.escalation = WarmTransferEscalation(
            transfer_to="sip:desk@bank.example",
            trunk_id="ST_outbound",
            say=lambda _text: None,
            leave=lambda: left.append(True),
            task=answered,
        )
        await call.say("1001 1234")
        await call.say("can I speak to someone")
    assert left == [True]
