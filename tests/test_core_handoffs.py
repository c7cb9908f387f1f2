"""Handoffs through the real AgentSession: the graph's edges, refused edges, the loop guard,
escalation, carried context and the audit trail."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest
from core_helpers import (
    Desk,
    ToolCall,
    agent_class,
    all_text,
    assert_clean_hop,
    desk,
    first_system_brief,
    hop,
    settle,
)

import handoffs.transaction
from agents import BalanceAgent, CardSecurityAgent, Greeter, TransactionsAgent
from agents.greeter import GREETING
from agents.prefetch import PREFETCH_CALL_PREFIX
from handoffs import EDGES, GREETER, HUMAN, SPECIALISTS, decide
from handoffs.context import BRIEF_PREFIX
from shared_state import SessionState
from tools.db import Database

AGENT_EDGES = sorted((a, b) for a, targets in EDGES.items() for b in targets if b != HUMAN)


def test_graph_is_the_documented_one() -> None:
    """If someone edits the graph, the edge tests below change with it; this pins the spec."""
    assert set(AGENT_EDGES) == {
        ("greeter", "balance"),
        ("greeter", "transactions"),
        ("greeter", "card_security"),
        ("balance", "greeter"),
        ("transactions", "greeter"),
        ("card_security", "greeter"),
        ("balance", "transactions"),
        ("transactions", "balance"),
        ("transactions", "card_security"),
        ("card_security", "transactions"),
    }
    assert all(HUMAN in EDGES[a] for a in EDGES)


async def _verified_at(d: Desk, agent_id: str) -> None:
    await d.verify()
    if agent_id != GREETER:
        await hop(d, agent_id)


def _greetings_in_history(d: Desk) -> int:
    return sum(
        1
        for item in d.session.history.items
        if item.type == "message" and item.role == "assistant" and item.text_content == GREETING
    )


@pytest.mark.parametrize(("src", "dst"), AGENT_EDGES, ids=[f"{a}->{b}" for a, b in AGENT_EDGES])
async def test_every_allowed_edge_is_accepted(db: Database, src: str, dst: str) -> None:
    async with desk(db) as d:
        await _verified_at(d, src)
        assert type(d.session.current_agent) is agent_class(src)
        calls_before = len(d.llm.calls)

        opening = f"{dst} here, how can I help?"
        result = await d.say(
            "next please", ToolCall(f"transfer_to_{dst}", {"reason": "caller asked"}), opening
        )

        # function_call, empty output (old agent silent), handoff, ONE message, nothing else
        assert assert_clean_hop(result, dst) == opening
        assert type(d.session.current_agent) is agent_class(dst)
        assert d.state.current_agent == dst
        # exactly two model calls: the old agent's transfer and the new agent's opening
        assert len(d.llm.calls) == calls_before + 2
        opening_call = d.llm.calls[-1]
        # ...and the opening was generated as the new agent, with the new agent's tools
        assert f"transfer_to_{dst}" not in opening_call["tools"]
        assert {f"transfer_to_{t}" for t in EDGES[dst]} <= set(opening_call["tools"])
        assert ("verify_identity" in opening_call["tools"]) == (dst == GREETER)
        # the fixed greeting was said once, at the start, never again
        assert _greetings_in_history(d) == 1

        await settle(d.state)
        rows = await db.handoff_audit(d.state.session_id)
        last = rows[-1]
        assert (last["from_agent"], last["to_agent"], last["outcome"]) == (src, dst, "accepted")
        assert last["rejection_reason"] is None
        assert last["assurance"] == "pin"
        assert [r["outcome"] for r in rows] == ["accepted"] * len(rows)


async def test_greeting_is_said_once_without_a_model_call(db: Database) -> None:
    async with desk(db) as d:
        result = await d.say("hi", "Hello! What can I do for you?")
        result.expect.next_event().is_message(role="assistant")
        result.expect.no_more_events()
        assert len(d.llm.calls) == 1  # only the reply to "hi": the greeting needed no model
        assert _greetings_in_history(d) == 1
        assert d.state.greeted
        said = [
            i.text_content
            for i in d.session.history.items
            if i.type == "message" and i.role == "assistant"
        ]
        assert sorted(said) == sorted([GREETING, "Hello! What can I do for you?"])


async def test_unverified_transfer_is_refused_then_continues_after_verification(
    db: Database,
) -> None:
    async with desk(db) as d:
        result = await d.say(
            "what's my balance?",
            ToolCall("transfer_to_balance", {"reason": "balance"}),
            "I need your customer number and PIN first.",
        )
        result.expect.next_event().is_function_call(name="transfer_to_balance")
        out = result.expect.next_event().is_function_call_output(is_error=True).event().item
        assert "verified" in out.output
        result.expect.next_event().is_message(role="assistant")
        result.expect.no_more_events()
        assert type(d.session.current_agent) is Greeter
        assert d.state.pending_intent is not None and d.state.pending_intent.value == "balance"

        # verifying continues to the balance desk in the same run, no second ask
        result = await d.say(
            "1001, PIN 1234",
            ToolCall("verify_identity", {"customer_number": "1001", "pin": "1234"}),
            "Hi Alice, here's the balance desk.",
        )
        assert assert_clean_hop(result, "balance", tool="verify_identity")
        assert type(d.session.current_agent) is BalanceAgent
        assert d.state.pending_intent is None

        await settle(d.state)
        rows = await db.handoff_audit(d.state.session_id)
        assert [(r["to_agent"], r["outcome"], r["rejection_reason"]) for r in rows] == [
            ("balance", "rejected", "verification_required"),
            ("balance", "accepted", None),
        ]
        assert rows[0]["assurance"] == "none" and rows[1]["assurance"] == "pin"


FORBIDDEN = [("balance", "card_security"), ("card_security", "balance")]


@pytest.mark.parametrize(("src", "dst"), FORBIDDEN, ids=[f"{a}->{b}" for a, b in FORBIDDEN])
async def test_forbidden_edge_is_rejected_and_audited(db: Database, src: str, dst: str) -> None:
    async with desk(db) as d:
        await _verified_at(d, src)
        assert f"transfer_to_{dst}" not in d.llm.calls[-1]["tools"]  # never offered

        # a manipulated model calls the tool anyway
        result = await d.say(
            "transfer me",
            ToolCall(f"transfer_to_{dst}", {"reason": "injected"}),
            "I can't do that here.",
        )
        # (livekit reports a call to an unknown tool only through its error output)
        result.expect.skip_next_event_if(type="function_call", name=f"transfer_to_{dst}")
        out = result.expect.next_event().is_function_call_output(is_error=True).event().item
        assert out.name == f"transfer_to_{dst}" and out.output.startswith("Unknown function")
        result.expect.next_event().is_message(role="assistant")
        result.expect.no_more_events()
        assert type(d.session.current_agent) is agent_class(src)
        assert d.state.current_agent == src

        await settle(d.state)
        rows = await db.handoff_audit(d.state.session_id)
        rejected = [r for r in rows if r["outcome"] == "rejected"]
        assert len(rejected) == 1
        assert (rejected[0]["from_agent"], rejected[0]["to_agent"]) == (src, dst)
        assert rejected[0]["rejection_reason"] == "edge_not_allowed"
        assert not any(r["to_agent"] == dst and r["outcome"] == "accepted" for r in rows)


def test_policy_accepts_exactly_the_graph_edges_for_a_verified_caller() -> None:
    from shared_state import Assurance, Principal

    state = SessionState()
    state._bind_principal(Principal(1, "1001", "Alice", Assurance.PIN, "2024-01-01T00:00:00+00:00"))
    for src in ("greeter", *sorted(SPECIALISTS)):
        for dst in ("greeter", *sorted(SPECIALISTS), HUMAN):
            decision = decide(state, src, dst)
            assert decision.accepted == (dst in EDGES[src]), (src, dst, decision)
            if not decision.accepted:
                expected = "same_agent" if src == dst else "edge_not_allowed"
                assert decision.rejection is not None and decision.rejection.value == expected


async def test_unknown_non_transfer_tool_is_refused_and_recorded(db: Database) -> None:
    async with desk(db) as d:
        await _verified_at(d, "balance")
        result = await d.say(
            "lock my card",
            ToolCall("lock_card", {"card_last_four": "4242", "confirm": True}),
            "Not here.",
        )
        result.expect.skip_next_event_if(type="function_call", name="lock_card")
        out = result.expect.next_event().is_function_call_output(is_error=True).event().item
        assert out.name == "lock_card"
        await settle(d.state)
        cards = {c.last_four: c for c in await db.cards(d.state.principal.customer_id)}
        assert cards["4242"].status == "active"
        assert await db.card_events(cards["4242"].id) == []
        kinds = [e["kind"] for e in await db.security_events(d.state.session_id)]
        assert "tool_not_available" in kinds


# -- loop guard and escalation ---------------------------------------------------------------


async def test_ping_pong_falls_back_to_greeter_then_escalates(db: Database) -> None:
    async with desk(db) as d:
        await _verified_at(d, "transactions")
        customer_id = d.state.principal.customer_id

        # transactions -> balance -> transactions inside ONE caller turn
        result = await d.say(
            "hmm",
            ToolCall("transfer_to_balance"),  # transactions' model
            ToolCall("transfer_to_transactions"),  # balance's opening turn bounces back
            "Sorry about that, what do you need?",  # the greeter (fallback) asks once
        )
        expect = result.expect
        expect.next_event().is_message(role="assistant")  # the acknowledgement, once
        expect.next_event().is_function_call(name="transfer_to_balance")
        expect.next_event().is_function_call_output()
        expect.next_event().is_agent_handoff(new_agent_type=BalanceAgent)
        expect.next_event().is_function_call(name="get_balance")  # read on entry
        expect.next_event().is_function_call_output()
        expect.next_event().is_function_call(name="transfer_to_transactions")
        expect.next_event().is_function_call_output()
        expect.next_event().is_agent_handoff(new_agent_type=Greeter)
        expect.next_event().is_message(role="assistant")
        expect.no_more_events()
        assert type(d.session.current_agent) is Greeter
        assert d.state.loop_guard_trips == 1
        assert "verify_identity" in d.llm.calls[-1]["tools"]  # spoken as the greeter
        assert _greetings_in_history(d) == 1

        await settle(d.state)
        rows = await db.handoff_audit(d.state.session_id)
        assert [
            (r["from_agent"], r["to_agent"], r["outcome"], r["rejection_reason"]) for r in rows[-3:]
        ] == [
            ("transactions", "balance", "accepted", None),
            ("balance", "transactions", "rejected", "ping_pong"),
            ("balance", "greeter", "accepted", None),
        ]
        assert await db.cases(customer_id) == []

        # the same bounce again: the loop guard escalates (callback case for a console caller)
        await hop(d, "transactions")
        result = await d.say(
            "hmm again",
            ToolCall("transfer_to_balance"),
            ToolCall("transfer_to_transactions"),
            "Someone from our team will call you back.",
        )
        outputs = [ev.item for ev in result.events if ev.type == "function_call_output"]
        assert "call you back" in outputs[-1].output and not outputs[-1].is_error
        assert d.state.loop_guard_trips == 2
        assert type(d.session.current_agent) is not TransactionsAgent

        cases = await db.cases(customer_id)
        assert [c.kind for c in cases] == ["callback"]
        assert "loop guard" in cases[0].summary
        assert str(cases[0].id) in outputs[-1].output

        await settle(d.state)
        rows = await db.handoff_audit(d.state.session_id)
        assert ("balance", "transactions", "rejected", "ping_pong") in [
            (r["from_agent"], r["to_agent"], r["outcome"], r["rejection_reason"]) for r in rows[-4:]
        ]
        assert rows[-1]["to_agent"] == HUMAN and rows[-1]["outcome"] == "accepted"


async def test_loop_guard_escalation_is_audited_once(db: Database) -> None:
    async with desk(db) as d:
        await _verified_at(d, "transactions")
        await d.say(
            "a", ToolCall("transfer_to_balance"), ToolCall("transfer_to_transactions"), "What now?"
        )
        await hop(d, "transactions")
        await d.say(
            "b",
            ToolCall("transfer_to_balance"),
            ToolCall("transfer_to_transactions"),
            "Calling back.",
        )
        await settle(d.state)
        rows = await db.handoff_audit(d.state.session_id)
        to_human = [r for r in rows if r["to_agent"] == HUMAN and r["outcome"] == "accepted"]
        assert len(to_human) == 1, [(r["seq"], r["reason"]) for r in to_human]
        assert len([h for h in d.state.handoff_history if h.to_agent == HUMAN]) == 1


async def test_transfer_to_human_opens_callback_for_verified_caller(db: Database) -> None:
    async with desk(db) as d:
        await _verified_at(d, "balance")
        customer_id = d.state.principal.customer_id
        result = await d.say(
            "a person please", ToolCall("transfer_to_human", {"reason": "wants a person"}), "Done."
        )
        result.expect.next_event().is_function_call(name="transfer_to_human")
        out = result.expect.next_event().is_function_call_output(is_error=False).event().item
        result.expect.next_event().is_message(role="assistant")
        result.expect.no_more_events()
        cases = await db.cases(customer_id)
        assert [c.kind for c in cases] == ["callback"]
        assert f"case number is {cases[0].id}" in out.output
        await settle(d.state)
        rows = await db.handoff_audit(d.state.session_id)
        assert (rows[-1]["from_agent"], rows[-1]["to_agent"], rows[-1]["outcome"]) == (
            "balance",
            HUMAN,
            "accepted",
        )


async def test_transfer_to_human_unverified_books_nothing(db: Database) -> None:
    async with desk(db) as d:
        result = await d.say(
            "a person please", ToolCall("transfer_to_human", {"reason": "person"}), "OK."
        )
        out = [ev.item for ev in result.events if ev.type == "function_call_output"][0]
        assert "once you're verified" in out.output
        for number in ("1001", "1002", "1003", "1004"):
            customer = await db.customer_by_number(number)
            assert await db.cases(customer.id) == []


# -- carried context -------------------------------------------------------------------------


async def test_context_across_handoff_has_no_tool_outputs_and_masks_digits(db: Database) -> None:
    async with desk(db) as d:
        await _verified_at(d, "balance")
        result = await d.say(
            "What's my checking balance? Is card 4242 fine?",
            ToolCall("get_balance", {"account": "checking"}),
            "Your checking account ending 0101 has $4,458.12 available, "
            "that is four thousand four hundred fifty-eight dollars and twelve cents.",
        )
        tool_out = [ev.item for ev in result.events if ev.type == "function_call_output"][0]
        assert "available balance" in tool_out.output and not tool_out.is_error

        await hop(d, "transactions", "Transactions here.")
        first_ctx = d.llm.contexts[-1]
        text = d.llm.snapshots[-1]
        # no tool call or output crossed; the only one is the read this desk made on entry
        crossed = [
            i for i in first_ctx.items if i.type in ("function_call", "function_call_output")
        ]
        assert [i.name for i in crossed] == ["get_transactions", "get_transactions"]
        assert all(i.call_id.startswith(PREFETCH_CALL_PREFIX) for i in crossed)
        assert "available balance" not in text
        assert tool_out.output not in text
        # the caller's and the agent's turns were carried, masked
        carried = [
            i.text_content or ""
            for i in first_ctx.items
            if i.type == "message" and i.role in ("user", "assistant")
        ]
        brief = first_system_brief(first_ctx)
        carried_text = "\n".join([*carried, brief or ""])
        for secret in ("4,458.12", "4458", "0101", "4242", "four thousand", "twelve cents", "1234"):
            assert secret not in carried_text, secret
        assert any("Is card [number] fine?" in t for t in carried)
        assert any("ending [number]" in t and "[amount]" in t for t in carried)
        assert brief is not None and brief.startswith(BRIEF_PREFIX)
        assert "intent=transactions" in brief and "from=balance" in brief


async def test_transfer_reason_cannot_smuggle_figures_across_the_handoff(db: Database) -> None:
    async with desk(db) as d:
        await _verified_at(d, "balance")
        await d.say("balance?", ToolCall("get_balance", {"account": "checking"}), "Here you are.")
        await hop(
            d,
            "transactions",
            "Transactions here.",
            reason="caller has an available balance of $4,458.12 on account 0101, asks why",
        )
        text = d.llm.snapshots[-1]
        assert "4,458.12" not in text and "0101" not in text


async def test_brief_round_trip_through_greeter_does_not_repeat_greeting(db: Database) -> None:
    async with desk(db) as d:
        await _verified_at(d, "card_security")
        await hop(d, "greeter", "Anything else?")
        await hop(d, "transactions", "Transactions here.")
        assert _greetings_in_history(d) == 1
        assert [h.to_agent for h in d.state.handoff_history] == [
            "card_security",
            "greeter",
            "transactions",
        ]
        assert all(h.outcome == "accepted" for h in d.state.handoff_history)


# -- audit trail -----------------------------------------------------------------------------


async def test_audit_rows_match_every_decision_and_are_immutable(db: Database) -> None:
    async with desk(db) as d:
        await d.say("balance", ToolCall("transfer_to_balance"), "Verify first please.")  # rejected
        await d.verify(reply="Balance desk here.")  # accepted: continues to balance
        await hop(d, "transactions")  # accepted
        await hop(d, "balance")  # accepted
        await d.say("card", ToolCall("transfer_to_card_security"), "Not from here.")  # rejected
        await hop(d, "greeter")  # accepted
        await settle(d.state)
        rows = await db.handoff_audit(d.state.session_id)
        history = d.state.handoff_history
        assert [(r["seq"], r["from_agent"], r["to_agent"], r["outcome"]) for r in rows] == [
            (h.seq, h.from_agent, h.to_agent, h.outcome) for h in history
        ]
        assert [
            (r["from_agent"], r["to_agent"], r["outcome"], r["rejection_reason"]) for r in rows
        ] == [
            ("greeter", "balance", "rejected", "verification_required"),
            ("greeter", "balance", "accepted", None),
            ("balance", "transactions", "accepted", None),
            ("transactions", "balance", "accepted", None),
            ("balance", "card_security", "rejected", "edge_not_allowed"),
            ("balance", "greeter", "accepted", None),
        ]
        assert all(r["context_policy"] for r in rows)
        assert d.state.audit is not None and d.state.audit.pending == 0

        async with db.pool.acquire() as conn:
            for sql in (
                "UPDATE handoff_audit SET outcome = 'accepted' WHERE session_id = $1",
                "DELETE FROM handoff_audit WHERE session_id = $1",
                "UPDATE security_events SET kind = 'x' WHERE session_id = $1",
                "DELETE FROM security_events WHERE session_id = $1",
            ):
                with pytest.raises(asyncpg.InsufficientPrivilegeError):
                    await conn.execute(sql, d.state.session_id)
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute("TRUNCATE handoff_audit")
        assert len(await db.handoff_audit(d.state.session_id)) == len(rows)


async def test_audit_is_append_only_even_for_the_owner(db: Database, dsn: str) -> None:
    """The trigger refuses changes whoever asks, not only the restricted app role."""
    async with desk(db) as d:
        await d.verify()
        await hop(d, "balance")
        await settle(d.state)
    owner = await asyncpg.connect(dsn)
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await owner.execute(
                "DELETE FROM handoff_audit WHERE session_id = $1", d.state.session_id
            )
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await owner.execute(
                "UPDATE handoff_audit SET reason = 'x' WHERE session_id = $1", d.state.session_id
            )
    finally:
        await owner.close()
    assert len(await db.handoff_audit(d.state.session_id)) == 1


async def test_card_agent_first_context_is_brief_not_tool_data(db: Database) -> None:
    async with desk(db) as d:
        await _verified_at(d, "transactions")
        await d.say("recent?", ToolCall("get_transactions"), "Three recent ones.")
        await hop(d, "card_security", "Card security here.")
        ctx = d.llm.contexts[-1]
        assert type(d.session.current_agent) is CardSecurityAgent
        assert "[ref " not in all_text(ctx)  # listing lines stay with the transactions desk
        assert first_system_brief(ctx) is not None


def _barge_in(session: object) -> None:
    """What livekit's audio pipeline does when the caller starts talking over the agent
    (AgentActivity._interrupt_by_audio_activity): interrupt the current speech if it allows
    interruptions."""
    speech = getattr(session, "current_speech", None)
    if speech is not None and speech.allow_interruptions and not speech.interrupted:
        speech.interrupt(source="audio_activity")


async def test_barge_in_during_a_transfer_cannot_leave_the_call_half_switched(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The caller talks over the agent while the transfer tool runs, before livekit has
    committed the turn: the switch still happens, all or nothing, and the audit, the state
    and the live agent agree; the new desk speaks its one opening line."""
    async with desk(db) as d:
        await d.verify()
        real_decide = handoffs.transaction.decide_handoff

        async def decide_with_barge_in(*args: Any, **kwargs: Any) -> Any:
            _barge_in(d.session)
            await asyncio.sleep(0.05)  # let livekit see the interruption before we return
            return await real_decide(*args, **kwargs)

        monkeypatch.setattr(handoffs.transaction, "decide_handoff", decide_with_barge_in)
        result = await d.say(
            "balance please",
            ToolCall("transfer_to_balance", {"reason": "balance"}),
            "Balance desk here.",
        )
        assert assert_clean_hop(result, "balance") == "Balance desk here."
        assert type(d.session.current_agent) is BalanceAgent
        assert d.state.current_agent == "balance"
        await d.settle()
        audit = await db.handoff_audit(d.state.session_id)
        assert [(r["to_agent"], r["outcome"]) for r in audit][-1] == ("balance", "accepted")
