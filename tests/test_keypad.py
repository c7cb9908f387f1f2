"""The SIP keypad, both of its jobs, with the real session, desks, tools and database.

Verification: a keyed PIN proves the caller-id candidate in code, then the call continues
to the desk the caller asked for through the one handoff transaction
(handoffs.transaction.transfer): accepted (the next desk takes over), refused (the caller
stays and hears why) or escalated by the loop guard (the caller hears the escalation's
words; never a desk called "human").

Confirmation: `1` after a card write's read-back runs the desk's card tool in code, as the
app's Confirm does (agents.app_confirm); `2` clears the read-back with a fixed line. The
model is the offline one and is never asked to do the write. A key pressed after the caller
has spoken since the read-back writes nothing and says why."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from core_helpers import PINS, desk, hop
from offline_driver import OfflineCall
from scripted_llm import ScriptedLLM, ToolCall

from agents import Greeter, new_session
from agents.app_confirm import CANCELLED_LINE
from agents.keypad import EXPIRED_LINE, confirm_by_keypad, verify_keyed_pin
from handoffs import CONTINUING, SipTransferEscalation
from shared_state import HandoffRecord, Intent, SessionState, now_iso
from tools.db import Database

BEN_PIN = PINS["1002"]


async def _until(check: Callable[[], bool], what: str) -> None:
    """Wait for something the session does in the background (generous: a loaded box)."""
    for _ in range(1000):
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"never happened: {what}")


def _said(session: Any) -> list[str]:
    return [m.text_content or "" for m in session.history.messages() if m.role == "assistant"]


async def _sip_state(db: Database) -> SessionState:
    ben = await db.customer_by_number("1002")
    state = SessionState(db=db, channel="sip")
    state.caller.candidate_customer_id = ben.id
    return state


def _bounced_back_this_turn(state: SessionState) -> None:
    """The history of a call whose last accepted hop, on the caller's current turn, was the
    balance desk handing back to the front desk: going to balance again now is ping-pong."""
    state.handoff_history.append(
        HandoffRecord(
            seq=len(state.handoff_history) + 1,
            from_agent="balance",
            to_agent="greeter",
            outcome="accepted",
            reason="caller asked for the front desk",
            at=now_iso(),
            user_turn=state.user_turns,
        )
    )


async def test_keyed_pin_continues_to_the_desk_asked_for(db: Database) -> None:
    state = await _sip_state(db)
    llm = ScriptedLLM([ToolCall("transfer_to_balance"), "Please key in your PIN."])
    async with new_session(state, llm=llm) as session:
        await session.start(Greeter())
        await session.run(user_input="what's my balance")
        assert state.pending_intent is Intent.BALANCE
        llm.push(ToolCall("get_balance"), "Here you go.")
        assert await verify_keyed_pin(session, state, BEN_PIN)
        await _until(lambda: state.current_agent == "balance" and llm.remaining == 0, "balance")
        assert type(session.current_agent).__name__ == "BalanceAgent"
    # The brief the balance desk took over with: typed, and it knows verification just
    # completed (as data, and in the code's words, not a model's).
    brief = state.brief
    assert brief is not None and brief.intent is Intent.BALANCE
    assert brief.from_agent == "greeter"
    assert brief.continuing and brief.verified_as == "Ben"
    assert brief.open_question is not None and brief.open_question.startswith(CONTINUING)
    assert any("verified as Ben" in fact for fact in brief.verified_facts)
    assert state.pending_intent is None
    audit = await db.handoff_audit(state.session_id)
    assert [(r["to_agent"], r["outcome"]) for r in audit] == [
        ("balance", "rejected"),
        ("balance", "accepted"),
    ]
    assert audit[-1]["intent"] == "balance"


async def test_keyed_pin_escalated_by_the_loop_guard_goes_to_a_person(db: Database) -> None:
    """The loop guard gives up on desks (its second trip): the continuation ends with a
    person, and the caller hears the escalation's words (this raised KeyError: 'human')."""
    state = await _sip_state(db)
    transfers: list[tuple[str, str]] = []

    async def transfer_call(identity: str, to: str) -> None:
        transfers.append((identity, to))

    state.escalation = SipTransferEscalation(
        participant_identity="sip_ben", transfer_to="tel:+15550001111", transfer=transfer_call
    )
    llm = ScriptedLLM([ToolCall("transfer_to_balance"), "Please key in your PIN."])
    async with new_session(state, llm=llm) as session:
        await session.start(Greeter())
        await session.run(user_input="what's my balance")
        _bounced_back_this_turn(state)
        state.loop_guard_trips = 1
        assert await verify_keyed_pin(session, state, BEN_PIN)
        await _until(lambda: "Connecting you to a member of our team now." in _said(session), "")
        assert state.current_agent == "greeter"  # no desk called "human"
    assert transfers == [("sip_ben", "tel:+15550001111")]
    assert state.is_verified and llm.remaining == 0  # no model was asked
    audit = await db.handoff_audit(state.session_id)
    assert [(r["to_agent"], r["outcome"], r["rejection_reason"]) for r in audit] == [
        ("balance", "rejected", "verification_required"),
        ("balance", "rejected", "ping_pong"),
        ("human", "accepted", None),  # the fallback, audited once
    ]


async def test_keyed_pin_refused_continuation_stays_and_says_why(db: Database) -> None:
    """The loop guard's first trip at the front desk: no move. The caller stays, verified,
    and the front desk's model is told why (the same refusal a transfer tool gets)."""
    state = await _sip_state(db)
    llm = ScriptedLLM([ToolCall("transfer_to_balance"), "Please key in your PIN."])
    async with new_session(state, llm=llm) as session:
        await session.start(Greeter())
        await session.run(user_input="what's my balance")
        _bounced_back_this_turn(state)
        llm.push("Thanks Ben, you're verified. What would you like to do?")
        assert await verify_keyed_pin(session, state, BEN_PIN)
        await _until(lambda: llm.remaining == 0 and len(_said(session)) >= 3, "the reply")
        assert state.current_agent == "greeter"
    told = llm.contexts[-1]
    instructions = " ".join(
        m.text_content or "" for m in told.items if m.type == "message" and m.role != "user"
    )
    assert "verified by keypad as Ben" in instructions and "Not transferred" in instructions
    assert BEN_PIN not in instructions
    audit = await db.handoff_audit(state.session_id)
    assert [(r["outcome"], r["rejection_reason"]) for r in audit] == [
        ("rejected", "verification_required"),
        ("rejected", "ping_pong"),
    ]


async def _card_status(db: Database, last_four: str) -> str:
    alice = await db.customer_by_number("1001")
    return {c.last_four: c.status for c in await db.cards(alice.id)}[last_four]


async def _card_events(db: Database, last_four: str) -> list[dict[str, Any]]:
    alice = await db.customer_by_number("1001")
    card = next(c for c in await db.cards(alice.id) if c.last_four == last_four)
    return await db.card_events(card.id)


async def _offline_read_back(call: OfflineCall) -> None:
    await call.say(f"my customer number is 1001 and my PIN is {PINS['1001']}")
    assert call.state.is_verified
    turn = await call.say("please lock my credit card")
    if call.state.pending_confirmation is None:  # asked which card: the answer
        turn = await call.say("the one ending 5454")
    pending = call.state.pending_confirmation
    assert pending is not None, turn.text
    assert (pending.action, pending.card_last_four) == ("lock", "5454")


async def test_keypad_one_locks_the_card_in_code(db: Database) -> None:
    async with OfflineCall(db, channel="sip") as call:
        await _offline_read_back(call)
        assert await confirm_by_keypad(call.session, call.state, "5") is None  # not an answer
        handle = await confirm_by_keypad(call.session, call.state, "1")
        assert handle is not None
        await handle
        assert call.state.pending_confirmation is None
        assert call.state.keypad_consent is None  # held only while the write ran
        said = _said(call.session)[-1]
        assert "5454" in said and "locked" in said  # the desk spoke the outcome
        assert call.state.current_agent == "card_security"
    assert await _card_status(db, "5454") == "locked"
    [event] = await _card_events(db, "5454")
    assert event["to_status"] == "locked"
    assert event["reason"] == "caller request via sip, confirmed by keypad"


async def test_keypad_two_cancels_with_a_fixed_line(db: Database) -> None:
    async with OfflineCall(db, channel="sip") as call:
        await _offline_read_back(call)
        calls = call.model.calls
        handle = await confirm_by_keypad(call.session, call.state, "2")
        assert handle is not None
        await handle
        assert call.state.pending_confirmation is None
        assert _said(call.session)[-1] == CANCELLED_LINE
        assert call.model.calls == calls  # a fixed line: no model round trip
        # A key pressed with nothing pending is not an answer.
        assert await confirm_by_keypad(call.session, call.state, "1") is None
    assert await _card_status(db, "5454") == "active"
    assert await _card_events(db, "5454") == []


async def test_keypad_after_the_caller_spoke_says_the_confirmation_expired(db: Database) -> None:
    """The yes must follow the read-back directly: once the caller has spoken since, `1`
    writes nothing, and the caller hears why in a fixed line (it was dropped without a
    word). Asked again, a fresh read-back takes `1` as before."""
    read_back = "Lock the Mastercard ending 5454? Press 1 to confirm or 2 to cancel."
    lock = ToolCall("lock_card", {"card_last_four": "5454"})
    async with desk(db, state=SessionState(db=db, channel="sip")) as d:
        await d.verify("1001")
        await hop(d, "card_security")
        await d.say("lock my credit card", lock, read_back)
        pending = d.state.pending_confirmation
        assert pending is not None
        await d.say("hmm, hold on a second", "Take your time.")
        assert d.state.pending_confirmation is pending  # still there, but talked over
        asked = len(d.llm.contexts)
        for key in ("1", "2"):
            handle = await confirm_by_keypad(d.session, d.state, key)
            assert handle is not None, key
            await handle
            assert _said(d.session)[-1] == EXPIRED_LINE
        assert len(d.llm.contexts) == asked  # a fixed line: no model asked
        assert d.state.keypad_consent is None
        assert await _card_status(db, "5454") == "active"
        assert await _card_events(db, "5454") == []
        # Asked again: a new read-back, and 1 on it is the caller's yes.
        await d.say("lock my credit card", lock, read_back)
        d.push("Your card ending 5454 is locked.")
        handle = await confirm_by_keypad(d.session, d.state, "1")
        assert handle is not None
        await handle
        assert d.llm.remaining == 0
    assert await _card_status(db, "5454") == "locked"
    [event] = await _card_events(db, "5454")
    assert event["reason"] == "caller request via sip, confirmed by keypad"
