"""Handoffs without dead air (issue 14): a turn that hands off costs no more sequential model
calls than a single agent's tool turn (two), the caller hears an acknowledgement from the
first model response, and the new desk speaks what it read on entry in one model call.

Each handoff turn type is pinned by its model-call count, with the offline model (the demo's
model, deciding for itself) and with the scripted model (exact events and contexts)."""

from __future__ import annotations

import pytest
from core_helpers import ToolCall, desk, prefetched_call
from offline_driver import OfflineCall

from agents import BalanceAgent, CardSecurityAgent, TransactionsAgent
from agents.acknowledgement import TRANSFERRING, VERIFYING
from agents.verification import bind_principal
from shared_state import Assurance, SessionState
from tools.db import Database

# -- the offline model ---------------------------------------------------------------------------


async def test_clear_request_at_the_greeter_after_verification(db: Database) -> None:
    async with OfflineCall(db) as call:
        await call.say("my customer number is 1001 and my PIN is 1234")
        t = await call.say("what's my balance?")
        assert t.handoffs == ["balance"] and t.model_calls == 2
        assert t.replies[0] == TRANSFERRING and len(t.replies) == 2
        assert "$4,458.12" in t.replies[1]
        assert t.tools == ["transfer_to_balance", "get_balance"]


async def test_named_account_is_read_on_entry(db: Database) -> None:
    async with OfflineCall(db) as call:
        await call.say("my customer number is 1004 and my PIN is 1357")
        t = await call.say("how much money do I have in checking?")
        assert t.handoffs == ["balance"] and t.model_calls == 2
        assert "pending" in t.text and "savings" not in t.text


async def test_verification_continues_to_the_pending_desk(db: Database) -> None:
    async with OfflineCall(db) as call:
        t = await call.say("can you read me my recent transactions?")
        assert t.agent == "greeter" and t.model_calls == 2  # refused transfer, then the ask
        t = await call.say("1001, PIN 1234")
        assert t.handoffs == ["transactions"] and t.model_calls == 2
        assert t.replies[0] == VERIFYING and len(t.replies) == 2
        assert "Alice" in t.replies[1] and "Uber" in t.replies[1]


async def test_sideways_transactions_to_card_security(db: Database) -> None:
    async with OfflineCall(db) as call:
        await call.say("1001 1234")
        await call.say("what are my recent transactions?")
        t = await call.say("I don't recognise the Uber charge")
        assert t.handoffs == ["card_security"] and t.model_calls == 2
        assert t.replies[0] == TRANSFERRING and len(t.replies) == 2
        assert "4242" in t.replies[1] and "yes" in t.replies[1]


async def test_card_list_on_entry(db: Database) -> None:
    async with OfflineCall(db) as call:
        await call.say("1003 2468")
        t = await call.say("is my card locked?")
        assert t.handoffs == ["card_security"] and t.model_calls == 2
        assert "3737" in t.text and "locked" in t.text


async def test_no_handoff_tool_turn_has_no_acknowledgement(db: Database) -> None:
    async with OfflineCall(db) as call:
        await call.say("1001 1234")
        await call.say("what's my balance?")
        t = await call.say("and my savings?")
        assert t.handoffs == [] and t.model_calls == 2
        assert t.replies == [t.text] and TRANSFERRING not in t.text


async def test_one_call_turn_has_no_acknowledgement(db: Database) -> None:
    async with OfflineCall(db) as call:
        t = await call.say("hello")
        assert t.model_calls == 1 and len(t.replies) == 1
        assert t.replies[0] not in (TRANSFERRING, VERIFYING)


async def test_a_request_the_plain_read_does_not_cover_is_still_answered(db: Database) -> None:
    """A filter the read on entry did not have: the desk makes its own call (three model
    calls, as before) and never treats the unspoken read as heard."""
    async with OfflineCall(db) as call:
        await call.say("1004 1357")
        t = await call.say("show me transactions at Costco")
        assert t.handoffs == ["transactions"] and t.model_calls == 3
        assert "Costco" in t.text and "Hilton" not in t.text


# -- the scripted model: exact shape of the turn ---------------------------------------------


@pytest.mark.parametrize(
    ("target", "agent", "read"),
    [
        ("balance", BalanceAgent, "get_balance"),
        ("transactions", TransactionsAgent, "get_transactions"),
        ("card_security", CardSecurityAgent, "list_cards"),
    ],
)
async def test_handoff_turn_is_two_model_calls_with_the_read_in_context(
    db: Database, target: str, agent: type, read: str
) -> None:
    async with desk(db) as d:
        await d.verify()
        calls_before = len(d.llm.calls)
        result = await d.say(
            "help me", ToolCall(f"transfer_to_{target}", {"reason": "asked"}), "Here it is."
        )
        assert len(d.llm.calls) == calls_before + 2
        assert type(d.session.current_agent) is agent
        expect = result.expect
        assert expect.next_event().is_message(role="assistant").event().item.text_content == (
            TRANSFERRING
        )
        expect.next_event().is_function_call(name=f"transfer_to_{target}")
        expect.next_event().is_function_call_output()
        expect.next_event().is_agent_handoff(new_agent_type=agent)
        expect.next_event().is_function_call(name=read)
        output = expect.next_event().is_function_call_output(is_error=False).event().item
        expect.next_event().is_message(role="assistant")
        expect.no_more_events()
        # the one model call of the new desk saw the read and its output
        answered = d.llm.contexts[-1]
        outputs = [i for i in answered.items if i.type == "function_call_output"]
        assert outputs and outputs[-1].output == output.output
        assert prefetched_call(result).name == read
        # ... and the same items are in the session's history (the transcript)
        assert any(
            i.type == "function_call" and i.call_id == output.call_id
            for i in d.session.history.items
        )


async def test_write_is_never_prefetched(db: Database) -> None:
    """Card security on entry only reads the lock back; the card changes on the caller's
    yes, on their next turn."""
    async with desk(db) as d:
        await d.verify()
        await d.say("transactions", ToolCall("transfer_to_transactions"), "Here they are.")
        customer = d.state.principal
        assert customer is not None
        before = [c.status for c in await db.cards(customer.customer_id)]
        await d.say(
            "I don't recognise the Uber charge",
            ToolCall("transfer_to_card_security", {"merchant": "Uber"}),
            "Shall I lock the card ending 4242?",
        )
        assert [c.status for c in await db.cards(customer.customer_id)] == before
        assert d.state.pending_confirmation is not None
        await d.say(
            "yes", ToolCall("lock_card", {"card_last_four": "4242", "confirm": True}), "Done."
        )
        after = {c.last_four: c.status for c in await db.cards(customer.customer_id)}
        assert after["4242"] == "locked"


async def test_refused_transfer_has_no_acknowledgement(db: Database) -> None:
    async with desk(db) as d:
        result = await d.say(
            "balance please", ToolCall("transfer_to_balance"), "First, your customer number?"
        )
        texts = [e.item.text_content for e in result.events if e.type == "message"]
        assert texts == ["First, your customer number?"]
        assert prefetched_call(result) is None


async def test_acknowledged_while_the_greeting_is_still_queued(db: Database) -> None:
    """An app caller (verified by the signed token) asks at once: the greeting is not a
    desk's opening, so the transfer in the same breath still gets its acknowledgement."""
    state = SessionState(db=db, channel="app")
    bind_principal(state, await db.customer_by_number("1001"), Assurance.APP_AUTH)
    async with desk(db, state=state) as d:
        result = await d.say("my balance", ToolCall("transfer_to_balance"), "Here it is.")
        texts = [e.item.text_content for e in result.events if e.type == "message"]
        assert texts[0] == TRANSFERRING and texts[-1] == "Here it is."
