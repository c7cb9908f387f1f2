"""The specialists' tools answer from the database and write to it only when they should."""

from __future__ import annotations

from typing import Any

import asyncpg
from core_helpers import Desk, ToolCall, desk, first_system_brief, hop, said, settle

from agents import CardSecurityAgent
from agents.render import describe_transaction, txn_view
from tools.db import Database
from tools.money import format_cents
from tools.outcomes import Transactions, decode


def _out(result) -> object:  # type: ignore[no-untyped-def]
    outs = [e.item for e in result.events if e.type == "function_call_output"]
    assert len(outs) == 1, outs
    return outs[0]


async def _at(d: Desk, agent_id: str, customer: str = "1001") -> int:
    await d.verify(customer)
    await hop(d, agent_id)
    assert d.state.principal is not None
    return d.state.principal.customer_id


# -- balance ---------------------------------------------------------------------------------------


async def test_balance_is_read_live_from_the_db(db: Database, dsn: str) -> None:
    async with desk(db) as d:
        cid = await _at(d, "balance")
        result = await d.say("balances?", ToolCall("get_balance"), "Here are your balances.")
        result.expect.next_event().is_function_call(name="get_balance")
        out = result.expect.next_event().is_function_call_output(is_error=False).event().item
        result.expect.next_event().is_message(role="assistant")
        result.expect.no_more_events()
        accounts = await db.accounts(cid)
        assert [a.kind for a in accounts] == ["checking", "savings", "credit_card"]
        for a in accounts:
            assert a.number_last_four in said(out)
            if a.kind == "credit_card":
                assert format_cents(a.available_credit_cents or 0) in said(out)
            else:
                assert f"available balance of {format_cents(a.available_balance_cents)}" in said(
                    out
                )
        # pending makes checking's available differ from current: both are explained
        checking = accounts[0]
        assert f"current balance is {format_cents(checking.ledger_balance_cents)}" in said(out)

        # the next answer reflects the DB as it is now, not a cached figure
        owner = await asyncpg.connect(dsn)
        try:
            await owner.execute(
                "UPDATE accounts SET available_balance_cents = 123456, "
                "ledger_balance_cents = 129656 "
                "WHERE id = $1",
                checking.id,
            )
        finally:
            await owner.close()
        result = await d.say(
            "checking again?", ToolCall("get_balance", {"account": "checking"}), "OK."
        )
        out = _out(result)
        assert "$1,234.56" in said(out)
        assert "savings" not in said(out) and "credit" not in said(out)


async def test_balance_for_missing_account_kind_is_an_error(db: Database) -> None:
    async with desk(db) as d:
        await _at(d, "balance", "1002")  # Ben has only checking
        out = _out(
            await d.say("savings?", ToolCall("get_balance", {"account": "savings"}), "None.")
        )
        assert out.is_error and "no savings account" in said(out) and "checking" in said(out)


# -- transactions ----------------------------------------------------------------------------------


async def test_transactions_default_three_newest(db: Database) -> None:
    async with desk(db) as d:
        cid = await _at(d, "transactions")
        result = await d.say("recent transactions?", ToolCall("get_transactions"), "Here they are.")
        result.expect.next_event().is_function_call(name="get_transactions")
        out = result.expect.next_event().is_function_call_output(is_error=False).event().item
        result.expect.next_event().is_message(role="assistant")
        expected = await db.transactions(cid, limit=3)
        assert [t.merchant for t in expected] == [
            "Whole Foods Market",
            "Uber",
            "Blue Bottle Coffee",
        ]
        assert _refs(out) == [t.id for t in expected]  # newest first, in the outcome
        for t in expected:
            assert describe_transaction(txn_view(t)) in said(out)
        assert "(pending)" in said(out)  # Whole Foods is still pending
        assert "ref" not in said(out)  # references are for tool calls, never read aloud


async def test_transactions_merchant_filter(db: Database) -> None:
    async with desk(db) as d:
        cid = await _at(d, "transactions")
        out = _out(
            await d.say("any uber?", ToolCall("get_transactions", {"merchant": "uber"}), "One.")
        )
        uber = await db.transactions(cid, merchant="uber", limit=20)
        assert len(uber) == 1
        assert said(out).startswith("Your most recent transaction is")
        assert _refs(out) == [uber[0].id]
        assert "$23.10" in said(out)
        out = _out(
            await d.say(
                "any zx?", ToolCall("get_transactions", {"merchant": "ZX Electronics"}), "No."
            )
        )
        assert said(out) == "No transactions match that request."  # Ben's merchant, not Alice's


async def test_transactions_min_amount_lists_charges_only(db: Database) -> None:
    # "Anything over $100" is spending over $100: the $3,250 payroll deposit and the $500
    # transfer into savings are money in, so the caller does not hear them.
    async with desk(db) as d:
        cid = await _at(d, "transactions")
        out = _out(
            await d.say(
                "over 100?", ToolCall("get_transactions", {"min_amount": 100, "count": 10}), "OK."
            )
        )
        everything = await db.transactions(cid, limit=20)
        charges = [t for t in everything if t.amount_cents <= -10000]
        assert {t.merchant for t in charges} == {"Amazon", "Parkside Apartments"}
        assert sorted(_refs(out)) == sorted(t.id for t in charges)
        deposits = [t for t in everything if t.amount_cents >= 10000]
        assert {t.merchant for t in deposits} == {"Acme Corp Payroll", "Transfer from Checking"}
        for t in deposits:
            assert t.merchant not in said(out) and format_cents(t.amount_cents) not in said(out)
        for small in ("Uber", "Whole Foods", "Blue Bottle", "Netflix", "Shell", "PG&E"):
            assert small not in said(out)


async def test_transactions_reject_bad_arguments(db: Database) -> None:
    async with desk(db) as d:
        await _at(d, "transactions")
        out = _out(
            await d.say("all of them", ToolCall("get_transactions", {"count": 500}), "Too many.")
        )
        assert out.is_error and _refs(out) == []


# -- card lock / unlock ----------------------------------------------------------------------------


async def _card(db: Database, cid: int, last_four: str):  # type: ignore[no-untyped-def]
    return {c.last_four: c for c in await db.cards(cid)}[last_four]


async def test_lock_needs_read_back_then_writes_once(db: Database) -> None:
    async with desk(db) as d:
        cid = await _at(d, "card_security")
        card = await _card(db, cid, "4242")
        assert card.status == "active"

        out = _out(
            await d.say(
                "lock my debit card",
                ToolCall("lock_card", {"card_last_four": "4242"}),
                "To confirm: lock the Visa debit card ending 4242?",  # the caller hears it
            )
        )
        assert not out.is_error and said(out).startswith(
            "To confirm: lock the Visa debit card ending 4242"
        )
        assert d.state.pending_confirmation is not None
        assert d.state.pending_confirmation.card_id == card.id
        assert (await _card(db, cid, "4242")).status == "active"  # nothing written yet
        assert await db.card_events(card.id) == []

        result = await d.say(
            "yes", ToolCall("lock_card", {"card_last_four": "4242", "confirm": True}), "Locked."
        )
        result.expect.next_event().is_function_call(name="lock_card")
        out = result.expect.next_event().is_function_call_output(is_error=False).event().item
        assert "is now locked" in said(out)
        assert d.state.pending_confirmation is None
        assert (await _card(db, cid, "4242")).status == "locked"
        assert (await _card(db, cid, "5454")).status == "active"  # only that card
        events = await db.card_events(card.id)
        assert len(events) == 1
        assert (events[0]["from_status"], events[0]["to_status"]) == ("active", "locked")
        assert events[0]["actor"] == "agent:card_security"

        # locking again: says it's already locked, writes nothing (with or without confirm)
        out = _out(
            await d.say(
                "lock it again", ToolCall("lock_card", {"card_last_four": "4242"}), "Already."
            )
        )
        assert "locked" in said(out) and "nothing needed changing" in said(out).lower()
        out = _out(
            await d.say(
                "yes lock",
                ToolCall("lock_card", {"card_last_four": "4242", "confirm": True}),
                "Already.",
            )
        )
        assert "nothing needed changing" in said(out).lower()
        assert len(await db.card_events(card.id)) == 1

        # and unlock: read-back, confirm, one more event
        out = _out(
            await d.say(
                "unlock it", ToolCall("unlock_card", {"card_last_four": "4242"}), "Unlock 4242?"
            )
        )
        assert said(out).startswith("To confirm: unlock")
        assert (await _card(db, cid, "4242")).status == "locked"
        out = _out(
            await d.say(
                "yes", ToolCall("unlock_card", {"card_last_four": "4242", "confirm": True}), "Done."
            )
        )
        assert "unlocked" in said(out)
        assert (await _card(db, cid, "4242")).status == "active"
        events = await db.card_events(card.id)
        assert [(e["from_status"], e["to_status"]) for e in events] == [
            ("active", "locked"),
            ("locked", "active"),
        ]


async def test_lock_with_confirm_on_first_call_does_not_write(db: Database) -> None:
    async with desk(db) as d:
        cid = await _at(d, "card_security")
        card = await _card(db, cid, "4242")
        out = _out(
            await d.say(
                "lock 4242",
                ToolCall("lock_card", {"card_last_four": "4242", "confirm": True}),
                "Confirm?",
            )
        )
        assert said(out).startswith("To confirm:")  # treated as the read-back
        assert (await _card(db, cid, "4242")).status == "active"
        assert await db.card_events(card.id) == []
        await settle(d.state)
        kinds = [e["kind"] for e in await db.security_events(d.state.session_id)]
        assert "unconfirmed_card_write" in kinds


async def test_confirmation_must_come_on_the_very_next_turn(db: Database) -> None:
    async with desk(db) as d:
        cid = await _at(d, "card_security")
        card = await _card(db, cid, "4242")
        await d.say("lock 4242", ToolCall("lock_card", {"card_last_four": "4242"}), "Confirm?")
        await d.say("wait, what's the weather?", "I can only help with cards.")
        out = _out(
            await d.say(
                "ok yes",
                ToolCall("lock_card", {"card_last_four": "4242", "confirm": True}),
                "Confirm again?",
            )
        )
        assert said(out).startswith("To confirm:")
        assert (await _card(db, cid, "4242")).status == "active"
        assert await db.card_events(card.id) == []


async def test_confirmation_is_bound_to_the_card_read_back(db: Database) -> None:
    async with desk(db) as d:
        cid = await _at(d, "card_security")
        await d.say("lock 4242", ToolCall("lock_card", {"card_last_four": "4242"}), "Confirm?")
        out = _out(
            await d.say(
                "yes",
                ToolCall("lock_card", {"card_last_four": "5454", "confirm": True}),
                "Confirm?",
            )
        )
        assert said(out).startswith("To confirm: lock the Mastercard credit card ending 5454")
        for last_four in ("4242", "5454"):
            card = await _card(db, cid, last_four)
            assert card.status == "active" and await db.card_events(card.id) == []


async def test_unlock_an_already_locked_card(db: Database) -> None:
    async with desk(db) as d:
        cid = await _at(d, "card_security", "1003")  # Chloe: amex 3737 locked
        amex = await _card(db, cid, "3737")
        assert amex.status == "locked"
        await d.say(  # the one locked card, read back to the caller
            "unlock my amex", ToolCall("unlock_card"), "Unlock the Amex ending 3737?"
        )
        assert d.state.pending_confirmation is not None
        assert d.state.pending_confirmation.card_last_four == "3737"
        await d.say("yes", ToolCall("unlock_card", {"confirm": True}), "Done.")
        assert (await _card(db, cid, "3737")).status == "active"
        assert len(await db.card_events(amex.id)) == 1
        assert (await _card(db, cid, "7070")).status == "active"


# -- suspicious charge: transactions -> card security with a brief ---------------------------------


async def test_suspicious_charge_brief_and_dispute(db: Database) -> None:
    async with desk(db) as d:
        cid = await _at(d, "transactions")
        uber = (await db.transactions(cid, merchant="Uber", limit=1))[0]
        debit = await _card(db, cid, "4242")

        result = await d.say(
            "I don't recognise that Uber charge",
            ToolCall(
                "transfer_to_card_security", {"reason": "unrecognised charge", "merchant": "Uber"}
            ),
            "I see the Uber charge. Shall I dispute it?",
        )
        result.expect.next_event().is_message(role="assistant")  # the acknowledgement
        result.expect.next_event().is_function_call(name="transfer_to_card_security")
        result.expect.next_event().is_function_call_output()
        result.expect.next_event().is_agent_handoff(new_agent_type=CardSecurityAgent)
        # on entry the desk read back locking the card the charge was on (nothing changed)
        result.expect.next_event().is_function_call(
            name="lock_card", arguments={"card_last_four": "4242"}
        )
        result.expect.next_event().is_function_call_output(is_error=False)
        result.expect.next_event().is_message(role="assistant")
        result.expect.no_more_events()
        assert (await _card(db, cid, "4242")).status == debit.status

        brief = d.state.brief
        assert brief is not None and brief.suspect_transaction is not None
        st = brief.suspect_transaction
        assert (st.transaction_id, st.merchant, st.amount_cents) == (
            uber.id,
            "Uber",
            uber.amount_cents,
        )
        assert st.card_last_four == "4242"
        assert brief.intent is not None and brief.intent.value == "suspicious_charge"

        first_ctx = d.llm.contexts[-1]
        text = first_system_brief(first_ctx)
        assert text is not None and text.startswith("Handoff brief:")
        assert f"suspect_transaction_ref={uber.id}" in text
        assert f"suspect_transaction_ref={uber.id}" in d.llm.snapshots[-1]

        result = await d.say(
            "yes, dispute it", ToolCall("dispute_transaction"), "Done, case opened."
        )
        result.expect.next_event().is_function_call(name="dispute_transaction")
        out = result.expect.next_event().is_function_call_output(is_error=False).event().item
        cases = await db.cases(cid)
        assert len(cases) == 1
        case = cases[0]
        assert (case.kind, case.status, case.transaction_id, case.card_id) == (
            "dispute",
            "open",
            uber.id,
            debit.id,
        )
        assert f"case number is {case.id}" in said(out) and "Uber" in said(out)

        # disputing again does not open a second case
        out = _out(await d.say("dispute it again", ToolCall("dispute_transaction"), "Yes."))
        assert "already an open dispute" in said(out)
        assert len(await db.cases(cid)) == 1


async def test_ben_suspicious_zx_charge(db: Database) -> None:
    async with desk(db) as d:
        cid = await _at(d, "transactions", "1002")
        zx = (await db.transactions(cid, merchant="ZX", limit=1))[0]
        await hop(d, "card_security", "Card security.", merchant="ZX Electronics Online")
        assert d.state.brief.suspect_transaction.transaction_id == zx.id
        await d.say("dispute", ToolCall("dispute_transaction"), "Opened.")
        assert [(c.kind, c.transaction_id) for c in await db.cases(cid)] == [("dispute", zx.id)]


async def test_deposit_cannot_be_disputed(db: Database) -> None:
    async with desk(db) as d:
        cid = await _at(d, "card_security")
        out = _out(
            await d.say(
                "dispute payroll", ToolCall("dispute_transaction", {"merchant": "Acme"}), "No."
            )
        )
        assert out.is_error and "deposit" in said(out)
        assert await db.cases(cid) == []


async def test_card_type_picks_the_named_card_and_refuses_one_they_do_not_have(
    db: Database,
) -> None:
    """card_type narrows to the caller's matching card (even one the action no longer
    applies to), and a type they don't hold is said back with their real cards."""
    async with desk(db) as d:
        await d.verify("1003")
        await hop(d, "card_security")
        d.push(ToolCall("lock_card", {"card_type": "credit"}), "ok")
        await d.session.run(user_input="lock my credit card")
        assert "3737" in _outputs(d)[-1] and "already locked" in _outputs(d)[-1]
        d.push(ToolCall("lock_card", {"card_type": "discover"}), "ok")
        await d.session.run(user_input="lock my discover card")
        assert "don't have a Discover card" in _outputs(d)[-1]


def _outputs(d: Desk) -> list[str]:
    return [said(i) for i in d.session.history.items if i.type == "function_call_output"]


def _refs(out: Any) -> list[int]:
    """The transaction references a get_transactions outcome carries."""
    envelope = decode(str(out.output))
    outcome = envelope.outcome if envelope is not None else None
    return [t.ref for t in outcome.items] if isinstance(outcome, Transactions) else []
