"""Irreversible writes need the caller's own yes on the confirming turn, judged in code:
a model calling with confirm=true after "no", "wait", silence, a different card, or a yes
to some other question writes nothing. Disputes need the caller's yes (or their own
request) too. A yes said to the read-back, as heard, does write."""

from __future__ import annotations

from typing import Any

import pytest
from core_helpers import Desk, ToolCall, desk, hop
from offline_driver import OfflineCall

from agents.consent import Target, asked_for_dispute, said_yes
from tools.db import Database

READ_BACK = "To confirm: report as stolen the Visa debit card ending 4242?"
STOLEN = {"card_last_four": "4242", "kind": "stolen"}


async def _read_back(d: Desk) -> None:
    await d.verify("1001")
    await hop(d, "card_security")
    await d.say("my card was stolen", ToolCall("report_card_lost_or_stolen", STOLEN), READ_BACK)
    assert d.state.pending_confirmation is not None


async def _status(db: Database, last_four: str = "4242") -> str:
    alice = await db.customer_by_number("1001")
    return {c.last_four: c.status for c in await db.cards(alice.id)}[last_four]


@pytest.mark.parametrize(
    "caller",
    [
        "No! Do not block it.",
        "wait",
        "hold on, let me check my wallet",
        "yes... actually no",
        "hmm, is that the right card?",
        "yes, the one ending 5454",
        "yes, my credit card",
        "yes, lock it",  # a yes to another action
        "yes, and tell me my balance",
        "",
    ],
)
async def test_confirm_without_the_callers_yes_writes_nothing(db: Database, caller: str) -> None:
    async with desk(db) as d:
        await _read_back(d)
        await d.say(
            caller or " ",
            ToolCall("report_card_lost_or_stolen", {**STOLEN, "confirm": True}),
            "Done.",
        )
        assert await _status(db) == "active"
        await d.settle()
        kinds = [e["kind"] for e in await db.security_events(d.state.session_id)]
        assert "unconfirmed_card_write" in kinds


async def test_silence_confirms_nothing(db: Database) -> None:
    """No caller turn after the read-back: the model confirms on its own in the same reply."""
    async with desk(db) as d:
        await d.verify("1001")
        await hop(d, "card_security")
        await d.say(
            "my card was stolen",
            ToolCall("report_card_lost_or_stolen", STOLEN),
            ToolCall("report_card_lost_or_stolen", {**STOLEN, "confirm": True}),
            "Done.",
        )
        assert await _status(db) == "active"


async def test_a_yes_to_another_question_confirms_nothing(db: Database) -> None:
    """The model read the card back to itself, then asked the caller something else."""
    async with desk(db) as d:
        await d.verify("1001")
        await hop(d, "card_security")
        await d.say(
            "my card was stolen",
            ToolCall("report_card_lost_or_stolen", STOLEN),
            "Would you like us to send you a paper statement?",
        )
        await d.say(
            "yes please",
            ToolCall("report_card_lost_or_stolen", {**STOLEN, "confirm": True}),
            "Done.",
        )
        assert await _status(db) == "active"


@pytest.mark.parametrize("caller", ["yes", "Yes please, go ahead.", "yeah, report it stolen"])
async def test_the_callers_yes_to_the_read_back_writes(db: Database, caller: str) -> None:
    async with desk(db) as d:
        await _read_back(d)
        await d.say(
            caller,
            ToolCall("report_card_lost_or_stolen", {**STOLEN, "confirm": True}),
            "Done.",
        )
        assert await _status(db) == "stolen"


async def _at_card_security(d: Desk) -> None:
    await d.verify("1001")
    await hop(d, "card_security")


async def _cases(db: Database) -> list[Any]:
    alice = await db.customer_by_number("1001")
    return await db.cases(alice.id)


async def test_dispute_needs_the_callers_yes(db: Database) -> None:
    async with desk(db) as d:
        await _at_card_security(d)
        # The model disputes on its own: read back, nothing opened.
        await d.say("hmm", ToolCall("dispute_transaction", {"merchant": "Uber"}), "Dispute Uber?")
        assert await _cases(db) == []
        # The caller says no; the model confirms anyway: nothing opened.
        await d.say(
            "no",
            ToolCall("dispute_transaction", {"merchant": "Uber", "confirm": True}),
            "Okay.",
        )
        assert await _cases(db) == []
        # Read back again, and the caller's yes opens it.
        await d.say(
            "about that uber charge",
            ToolCall("dispute_transaction", {"merchant": "Uber"}),
            "To confirm: open a dispute for the Uber charge?",
        )
        await d.say(
            "yes", ToolCall("dispute_transaction", {"merchant": "Uber", "confirm": True}), "Done."
        )
        assert [c.kind for c in await _cases(db)] == ["dispute"]


async def test_dispute_the_caller_asked_for_outright(db: Database) -> None:
    async with desk(db) as d:
        await _at_card_security(d)
        await d.say(
            "please dispute the Uber charge",
            ToolCall("dispute_transaction", {"merchant": "Uber"}),
            "Done.",
        )
        assert [c.kind for c in await _cases(db)] == ["dispute"]


@pytest.mark.parametrize(
    "caller",
    [
        "I don't want you to dispute the Uber charge",
        "what happens if I dispute the Uber charge?",
        "should I dispute the Uber charge",
        "I'd rather not dispute the Uber charge",
        "maybe dispute the Uber charge",
        "dispute the Uber charge, actually wait",
        "can I dispute the Uber charge?",
        "no dispute for the Uber charge please",
    ],
)
async def test_a_dispute_wondered_about_or_refused_is_read_back(db: Database, caller: str) -> None:
    """Only a request opens a dispute without a read-back: a question about disputing, a
    thought, or a dispute the caller says they don't want opens nothing, even when the
    model calls the tool (with or without confirm=true)."""
    async with desk(db) as d:
        await _at_card_security(d)
        await d.say(
            caller,
            ToolCall("dispute_transaction", {"merchant": "Uber", "confirm": True}),
            "Done.",
        )
        assert await _cases(db) == []


async def test_a_yes_to_a_listing_disputes_none_of_its_charges(db: Database) -> None:
    """A listing of several charges that ends "Which one would you like to dispute?" asked
    about none of them: a bare yes confirms no dispute, whichever the model picks."""
    async with desk(db) as d:
        await _at_card_security(d)
        await d.say(
            "dispute one of my charges",
            "Your recent charges are: $62.00 at Whole Foods Market today; $23.10 at Uber "
            "yesterday. Which one would you like to dispute?",
        )
        await d.say(
            "yes",
            ToolCall("dispute_transaction", {"merchant": "Whole Foods", "confirm": True}),
            "Done.",
        )
        assert await _cases(db) == []
        # Read back as one question about one charge, the caller's yes opens it.
        await d.say(
            "uber",
            ToolCall("dispute_transaction", {"merchant": "Uber"}),
            "To confirm: open a dispute for the $23.10 charge at Uber yesterday?",
        )
        await d.say(
            "yes", ToolCall("dispute_transaction", {"merchant": "Uber", "confirm": True}), "Done."
        )
        assert [c.kind for c in await _cases(db)] == ["dispute"]


async def test_offline_model_opens_no_dispute_the_caller_does_not_want(db: Database) -> None:
    async with OfflineCall(db) as call:
        await call.say("customer 1001 pin 1234")
        for line in ("I don't want you to dispute the uber charge",
                     "what happens if I dispute the uber charge?"):  # fmt: skip
            await call.say(line)
            assert await _cases(db) == [], line


def test_the_judge() -> None:
    card = Target("lock", "4242", frozenset({"visa", "debit"}))
    for yes in ("yes", "Yes.", "yeah go ahead", "ok", "yes lock it", "correct, the visa",
                "yes, 4242", "Ｙｅｓ"):  # fmt: skip
        assert said_yes(yes, card), yes
    for no in ("no", "yes no", "wait yes", "yes?", "not yet", "yes unlock it", "yes 5454",
               "yes the credit card", "", "sure, but not that one", "I think so"):  # fmt: skip
        assert not said_yes(no, card), no
    assert asked_for_dispute("no, just dispute it")
    assert asked_for_dispute("can you dispute the Uber charge")
    assert not asked_for_dispute("no, don't dispute it")
    assert not asked_for_dispute("yes")
    assert asked_for_dispute("please dispute the Uber charge, I don't recognise it")
    assert asked_for_dispute("don't lock it, just dispute it")
    assert not asked_for_dispute("I don't want you to dispute it")
    assert not asked_for_dispute("how do I dispute a charge")


async def test_keypad_one_confirms_and_two_cancels(db: Database) -> None:
    """SIP keypad: 1 after the read-back is the caller's yes, and the write runs in code
    (no model is asked to call the tool again); 2 is no. (With the offline model:
    tests/test_keypad.py.)"""
    from agents.keypad import confirm_by_keypad
    from telephony.dtmf import key_of

    class Key:
        def __init__(self, digit: str, identity: str) -> None:
            self.digit = digit
            self.participant = type("P", (), {"identity": identity})()

    assert key_of(Key("1", "sip_other"), "sip_caller") is None
    assert key_of(Key("1", "sip_caller"), "sip_caller") == "1"
    async with desk(db) as d:
        await _read_back(d)
        assert await confirm_by_keypad(d.session, d.state, "5") is None
        d.push("Done.")  # the desk speaks the outcome of the write made in code
        handle = await confirm_by_keypad(d.session, d.state, "1")
        assert handle is not None
        await handle
        assert d.llm.remaining == 0
        assert await _status(db) == "stolen"
    async with desk(db) as d:
        await d.verify("1001")
        await hop(d, "card_security")
        await d.say("lock it", ToolCall("lock_card", {"card_last_four": "5454"}), "Lock 5454?")
        handle = await confirm_by_keypad(d.session, d.state, "2")
        assert handle is not None
        await handle
        assert d.state.pending_confirmation is None
        # a model confirming anyway after the 2 writes nothing
        await d.say("ok", ToolCall("lock_card", {"card_last_four": "5454", "confirm": True}), "Hm.")
        assert await _status(db, "5454") == "active"
