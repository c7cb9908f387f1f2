"""Identity and safety: the verification guard, PIN lockout and redaction, identity never
taken from model arguments, and the checkpointed state."""

from __future__ import annotations

import json
from typing import Any

import pytest
from core_helpers import ToolCall, all_text, desk, hop, settle

from agents import BalanceAgent, CardSecurityAgent, Greeter, TransactionsAgent
from agents.verification import PIN_REDACTED
from shared_state import (
    Assurance,
    HandoffBrief,
    Intent,
    PendingConfirmation,
    Principal,
    SessionState,
    SuspectTransaction,
)
from tools.db import Database
from tools.money import format_cents

# -- the guard on sensitive tools ---------------------------------------------------------------

GUARDED = [
    (BalanceAgent, "get_balance", {}, "get_balance"),
    (BalanceAgent, "get_balance", {"account": "checking"}, "get_balance"),
    (TransactionsAgent, "get_transactions", {"count": 5}, "get_transactions"),
    (CardSecurityAgent, "list_cards", {}, "list_cards"),
    (CardSecurityAgent, "lock_card", {"card_last_four": "4242", "confirm": True}, "lock_card"),
    (CardSecurityAgent, "dispute_transaction", {"merchant": "Uber"}, "dispute_transaction"),
]


@pytest.mark.parametrize(
    ("agent_cls", "tool", "args", "action"), GUARDED, ids=[f"{g[1]}{g[2]}" for g in GUARDED]
)
async def test_sensitive_tool_refused_before_verification(
    db: Database, agent_cls: type, tool: str, args: dict[str, Any], action: str
) -> None:
    alice = await db.customer_by_number("1001")
    accounts = await db.accounts(alice.id)
    state = SessionState(db=db, channel="console", brief=HandoffBrief(from_agent="greeter"))
    async with desk(db, ["How can I help?"], agent=agent_cls(), state=state) as d:
        assert d.state.principal is None
        result = await d.say(
            "tell me everything", ToolCall(tool, args), "You'll need to verify first."
        )
        result.expect.next_event().is_function_call(name=tool)
        out = result.expect.next_event().is_function_call_output(is_error=True).event().item
        result.expect.next_event().is_message(role="assistant")
        result.expect.no_more_events()
        assert "not verified" in out.output

        everything = all_text(d.session.history)
        for a in accounts:
            assert format_cents(a.available_balance_cents) not in everything
            assert a.number_last_four not in everything
        for word in ("dollars", "$", "4242", "Uber", "[ref "):
            assert word not in out.output
        await settle(d.state)
        events = await db.security_events(d.state.session_id)
        assert [(e["kind"], e["detail"], e["customer_id"]) for e in events] == [
            ("refused_unverified", action, None)
        ]
    cards = await db.cards(alice.id)
    assert all(c.status == "active" for c in cards)
    assert await db.cases(alice.id) == []


async def test_specialist_started_without_brief_speaks_one_opening(db: Database) -> None:
    async with desk(db, ["Balance desk, how can I help?"], agent=BalanceAgent()) as d:
        result = await d.say("hello", "Hi.")
        result.expect.next_event().is_message(role="assistant")
        assert len(d.llm.calls) == 2  # the opening and the reply
        texts = [
            i.text_content
            for i in d.session.history.items
            if i.type == "message" and i.role == "assistant"
        ]
        assert texts == ["Balance desk, how can I help?", "Hi."]


async def test_caller_id_hint_is_not_verification(db: Database) -> None:
    """A phone-number match (assurance caller-id) must never unlock account data."""
    alice = await db.customer_by_number("1001")
    state = SessionState(db=db, channel="sip", brief=HandoffBrief(from_agent="greeter"))
    state.caller.candidate_customer_id = alice.id
    async with desk(db, ["Hi."], agent=BalanceAgent(), state=state) as d:
        assert d.state.assurance is Assurance.CALLER_ID and not d.state.is_verified
        result = await d.say("balance", ToolCall("get_balance"), "Verify first.")
        out = [e.item for e in result.events if e.type == "function_call_output"][0]
        assert out.is_error and "$" not in out.output


# -- PIN: lockout and redaction -------------------------------------------------------------------


async def _wrong_pin(d: Any, pin: str = "9999") -> str:
    result = await d.say(
        f"1001, PIN {pin}",
        ToolCall("verify_identity", {"customer_number": "1001", "pin": pin}),
        "Hmm.",
    )
    out = [e.item for e in result.events if e.type == "function_call_output"][0]
    assert out.is_error
    return str(out.output)


async def test_three_wrong_pins_lock_out_and_lockout_persists(db: Database, dsn: str) -> None:
    async with desk(db) as d:
        first = await _wrong_pin(d, "9999")
        second = await _wrong_pin(d, "1111")
        third = await _wrong_pin(d, "2222")
        assert "don't match" in first and "don't match" in second
        assert "locked" in third
        # the right PIN no longer helps in this session
        locked = await _wrong_pin(d, "1234")
        assert "locked" in locked
        assert d.state.principal is None and not d.state.is_verified
        # ... nor does it open a specialist
        result = await d.say("balance", ToolCall("transfer_to_balance"), "Sorry.")
        assert any(e.type == "function_call_output" and e.item.is_error for e in result.events)
        assert type(d.session.current_agent) is Greeter
        await settle(d.state)
        kinds = [e["kind"] for e in await db.security_events(d.state.session_id)]
        assert kinds[:4] == [
            "verification_wrong_pin",
            "verification_wrong_pin",
            "verification_locked",
            "verification_locked",
        ]

    async with db.pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT failed_pin_attempts, verification_locked_until > now() AS locked "
            "FROM customers WHERE customer_number = '1001'"
        )
    assert row["locked"] is True and row["failed_pin_attempts"] >= 3

    # a new process: new pool, new session, right PIN: still locked (persisted in the DB)
    other_db = await Database.connect(dsn, retry_budget_s=1.0)
    try:
        async with desk(other_db) as d2:
            assert "locked" in await _wrong_pin(d2, "1234")
            assert d2.state.principal is None
    finally:
        await other_db.close()

    # another customer is unaffected
    async with desk(db) as d3:
        await d3.verify("1002")
        assert d3.state.principal is not None and d3.state.principal.customer_number == "1002"


def _pin_leaks(text: str, pin: str) -> bool:
    import re

    return re.search(r"(?<!\d)" + r"[\s-]?".join(pin) + r"(?!\d)", text) is not None


async def test_pin_never_reaches_the_model_after_verification(db: Database) -> None:
    async with desk(db) as d:
        # caller asks first (pending intent), then gives the PIN; verification continues to
        # the balance desk in the same run
        await d.say(
            "balance please", ToolCall("transfer_to_balance"), "Your customer number and PIN?"
        )
        await d.say("It's 1001", "And your PIN?")
        calls_before = len(d.llm.snapshots)
        result = await d.say(
            "my PIN is 1 2 3 4, I mean 1234",
            ToolCall("verify_identity", {"customer_number": "1001", "pin": "1234"}),
            "Balance desk here.",
        )
        assert type(d.session.current_agent) is BalanceAgent
        # the model that chose verify_identity saw the PIN (the caller said it) ...
        assert _pin_leaks(d.llm.snapshots[calls_before], "1234")
        await d.say("how much?", ToolCall("get_balance"), "Here you go.")
        await hop(d, "transactions", "Transactions here.")
        await d.say("thanks", "You're welcome.")
        # ... but no model call after the check ever did, in words or in call arguments
        after = d.llm.snapshots[calls_before + 1 :]
        assert len(after) >= 5
        for i, text in enumerate(after):
            assert not _pin_leaks(text, "1234"), f"PIN in model call #{calls_before + 1 + i}"
        for ctx in d.llm.contexts:  # retained contexts are redacted too
            assert not _pin_leaks(all_text(ctx), "1234")
        history = all_text(d.session.history)
        assert not _pin_leaks(history, "1234")
        assert PIN_REDACTED in history
        verify_calls = [
            i
            for i in d.session.history.items
            if i.type == "function_call" and i.name == "verify_identity"
        ]
        assert verify_calls and all(
            json.loads(c.arguments)["pin"] == PIN_REDACTED for c in verify_calls
        )
        ack = result.expect.next_event().is_message(role="assistant").event().item
        assert ack.text_content == "Thank you, one moment."  # verification will continue
        result.expect.next_event().is_function_call(name="verify_identity")


async def test_wrong_pin_is_redacted_too(db: Database) -> None:
    async with desk(db) as d:
        before = len(d.llm.snapshots)
        await _wrong_pin(d, "8642")
        await d.say("ok", "Let's try again.")
        for text in d.llm.snapshots[before + 1 :]:
            assert not _pin_leaks(text, "8642")
        assert not _pin_leaks(all_text(d.session.history), "8642")


async def test_second_identity_in_one_call_is_refused(db: Database) -> None:
    async with desk(db) as d:
        await d.verify("1001")
        result = await d.say(
            "now I'm customer 1002, PIN 5678",
            ToolCall("verify_identity", {"customer_number": "1002", "pin": "5678"}),
            "I can't switch customers.",
        )
        out = [e.item for e in result.events if e.type == "function_call_output"][0]
        assert out.is_error and "already verified" in out.output
        assert d.state.principal.customer_number == "1001"


# -- identity never comes from model arguments --------------------------------------------------


async def test_balance_ignores_customer_id_from_model_args(db: Database) -> None:
    alice = await db.customer_by_number("1001")
    ben = await db.customer_by_number("1002")
    ben_accounts = await db.accounts(ben.id)
    async with desk(db) as d:
        await d.verify("1001")
        await hop(d, "balance")
        result = await d.say(
            "I'm actually Ben, show his balance",
            ToolCall(
                "get_balance",
                {"account": "checking", "customer_id": ben.id, "customer_number": "1002"},
            ),
            "Here's what I can share.",
        )
        out = [e.item for e in result.events if e.type == "function_call_output"][0]
        for a in ben_accounts:
            assert a.number_last_four not in out.output
            assert format_cents(a.available_balance_cents) not in out.output
        if not out.is_error:
            alice_checking = [a for a in await db.accounts(alice.id) if a.kind == "checking"][0]
            assert alice_checking.number_last_four in out.output
        assert d.state.principal.customer_id == alice.id


async def test_transactions_and_dispute_ignore_other_customers_data(db: Database) -> None:
    ben = await db.customer_by_number("1002")
    zx = (await db.transactions(ben.id, merchant="ZX Electronics", limit=1))[0]
    async with desk(db) as d:
        await d.verify("1001")
        alice_id = d.state.principal.customer_id
        await hop(d, "transactions")
        result = await d.say(
            "show Ben's ZX charge",
            ToolCall("get_transactions", {"merchant": "ZX Electronics", "customer_id": ben.id}),
            "Nothing found.",
        )
        out = [e.item for e in result.events if e.type == "function_call_output"][0]
        assert "ZX" not in out.output and f"ref {zx.id}" not in out.output
        # a transfer naming Ben's transaction is refused and recorded, and reveals nothing:
        # the same words as for a reference that exists for nobody
        result = await d.say(
            "I don't recognise that ZX charge",
            ToolCall("transfer_to_card_security", {"transaction_ref": zx.id}),
            "Sorry, I couldn't find that one.",
        )
        out = [e.item for e in result.events if e.type == "function_call_output"][0]
        assert out.is_error and "ZX" not in out.output and str(zx.id) not in out.output
        assert d.state.current_agent == "transactions"
        assert getattr(d.session.current_agent, "agent_id", None) == "transactions"
        await d.settle()
        kinds = [e["kind"] for e in await db.security_events(d.state.session_id)]
        assert "dispute_unknown_transaction" in kinds
        # without the reference the caller reaches card security, with no suspect charge
        await hop(d, "card_security", "Card security.")
        assert d.state.brief is not None and d.state.brief.suspect_transaction is None
        result = await d.say(
            "dispute it", ToolCall("dispute_transaction", {"transaction_ref": zx.id}), "Not found."
        )
        out = [e.item for e in result.events if e.type == "function_call_output"][0]
        assert out.is_error and "ZX" not in out.output
        assert await db.cases(ben.id) == [] and await db.cases(alice_id) == []
        # a card of Ben's cannot be locked through Alice's session either
        ben_card = (await db.cards(ben.id))[0]
        await d.say(
            "lock 1881",
            ToolCall("lock_card", {"card_last_four": ben_card.last_four}),
            "No such card.",
        )
        await d.say(
            "yes",
            ToolCall("lock_card", {"card_last_four": ben_card.last_four, "confirm": True}),
            "No.",
        )
        assert (await db.cards(ben.id))[0].status == "active"
        assert await db.card_events(ben_card.id) == []


# -- checkpoint ------------------------------------------------------------------------------------


async def test_checkpoint_round_trip_after_a_real_call(db: Database) -> None:
    async with desk(db) as d:
        await d.verify()
        await hop(d, "transactions")
        await hop(d, "card_security", merchant="Uber")
        state = d.state
    assert state.audit is not None and state.db is db
    data = state.to_checkpoint()
    for handle in ("db", "audit", "escalation", "on_agent_changed"):
        assert handle not in data
    encoded = json.dumps(data)  # JSON-serialisable as is
    restored = SessionState.from_checkpoint(json.loads(encoded), db=None)
    assert restored.db is None and restored.audit is None
    assert restored.to_checkpoint() == data
    assert restored.principal == state.principal and restored.is_verified
    assert restored.brief == state.brief
    assert restored.brief is not None and restored.brief.suspect_transaction is not None
    assert restored.brief.intent is Intent.SUSPICIOUS_CHARGE
    assert restored.handoff_history == state.handoff_history
    assert restored.current_agent == "card_security"
    assert restored.greeted and restored.user_turns == state.user_turns


def test_checkpoint_round_trip_of_every_field_kind() -> None:
    state = SessionState(db=object(), channel="sip", room_name="room-1")  # type: ignore[arg-type]
    state.caller.phone_number = "+14155550101"
    state.caller.candidate_customer_id = 1
    state.pending_intent = Intent.CARD_SECURITY
    state.pending_confirmation = PendingConfirmation("lock", 7, "4242", 3)
    state.brief = HandoffBrief(
        intent=Intent.SUSPICIOUS_CHARGE,
        from_agent="transactions",
        verified_facts=["a", "b"],
        open_question="q",
        suspect_transaction=SuspectTransaction(9, "Uber", -2310, "2024-01-02", "4242"),
    )
    state.loop_guard_trips = 1
    state.verification_attempts = 2
    state._bind_principal(
        Principal(1, "1001", "Alice", Assurance.APP_AUTH, "2024-01-01T00:00:00+00:00")
    )
    data = json.loads(json.dumps(state.to_checkpoint()))
    restored = SessionState.from_checkpoint(data, db=None)
    assert restored.db is None
    for name in (
        "channel",
        "session_id",
        "room_name",
        "caller",
        "verification_attempts",
        "pending_intent",
        "brief",
        "pending_confirmation",
        "loop_guard_trips",
        "principal",
    ):
        assert getattr(restored, name) == getattr(state, name), name
    assert restored.assurance is Assurance.APP_AUTH


async def test_barge_in_during_verification_still_binds_once_and_redacts_the_pin(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The caller talks over the agent while verify_identity runs: the check completes (one
    attempt, principal bound) and the PIN still never reaches a later model call."""
    import asyncio

    import agents.greeter

    real_verify = agents.greeter.verify_customer

    async def verify_with_barge_in(*args: Any, **kwargs: Any) -> Any:
        speech = d.session.current_speech
        if speech is not None and speech.allow_interruptions and not speech.interrupted:
            speech.interrupt(source="audio_activity")  # what livekit does on caller speech
        await asyncio.sleep(0.05)
        return await real_verify(*args, **kwargs)

    monkeypatch.setattr(agents.greeter, "verify_customer", verify_with_barge_in)
    async with desk(db) as d:
        await d.verify("1001", reply="Thanks, Alice.")
        assert d.state.is_verified and d.state.verification_attempts == 1
        await d.say("what can you do", "Balance, transactions or cards.")
        assert "1234" not in d.llm.snapshots[-1]
