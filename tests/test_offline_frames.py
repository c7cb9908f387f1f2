"""The offline model keeps its dialogue state as typed data, never as its own sentences.

A reply that asks something carries a typed frame (models/offline_context.py); the handoff
brief reaches the next desk as typed fields (HandoffBrief.typed). So rewording every
sentence the tools produce, and every transfer reason, changes nothing the model does:
checked here on whole calls, graded on the database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from livekit.agents import llm

import agents.render
from handoffs.context import BRIEF_KEY
from models.offline_context import FRAME_KEY, Frame, frame_of
from tests.offline_driver import OfflineCall
from tools.db import Database
from tools.outcomes import AnyOutcome


async def _card_status(db: Database, number: str, last_four: str) -> str:
    customer = await db.customer_by_number(number)
    return next(c.status for c in await db.cards(customer.id) if c.last_four == last_four)


async def _disputes(db: Database, number: str) -> list[str]:
    customer = await db.customer_by_number(number)
    return [c.kind for c in await db.cases(customer.id) if c.kind == "dispute"]


@pytest.fixture
def reworded(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every tool sentence reworded beyond recognition: no known phrase survives."""
    original = agents.render.say

    def scrambled(outcome: AnyOutcome) -> str:
        words = original(outcome).replace("?", ".").split()
        return "Reworded: " + " ".join(reversed(words))

    monkeypatch.setattr(agents.render, "say", scrambled)
    yield


def _frames(call: OfflineCall) -> list[Frame]:
    items = call.session.history.items
    return [f for i in items if isinstance(i, llm.ChatMessage) if (f := frame_of(i.extra))]


@pytest.mark.usefixtures("reworded")
async def test_a_reworded_read_back_still_takes_the_callers_yes(db: Database) -> None:
    async with OfflineCall(db) as call:
        await call.say("1001 1234")
        t = await call.say("lock my debit card")
        assert "Reworded" in t.text and "Please say yes" not in t.text
        assert await _card_status(db, "1001", "4242") == "active"  # nothing before the yes
        await call.say("yes")
    assert await _card_status(db, "1001", "4242") == "locked"


@pytest.mark.usefixtures("reworded")
async def test_a_reworded_which_card_question_still_takes_the_answer(db: Database) -> None:
    async with OfflineCall(db) as call:
        await call.say("1001 1234")
        await call.say("lock my card")  # two cards: which one?
        assert _frames(call)[-1].kind == "which_card"
        assert {c.last_four for c in _frames(call)[-1].cards} == {"4242", "5454"}
        await call.say("the mastercard")
        assert _frames(call)[-1].kind == "confirm_card"
        await call.say("yes")
    assert await _card_status(db, "1001", "5454") == "locked"
    assert await _card_status(db, "1001", "4242") == "active"


@pytest.mark.usefixtures("reworded")
async def test_a_reworded_card_list_still_offers_the_unlock(db: Database) -> None:
    async with OfflineCall(db) as call:
        await call.say("1003 2468")
        await call.say("my card got declined at the store, is it blocked?")
        offer = _frames(call)[-1]
        assert offer.kind == "offer_unlock" and [c.last_four for c in offer.cards] == ["3737"]
        await call.say("yes")
        assert await _card_status(db, "1003", "3737") == "locked"  # the read-back first
        await call.say("yes")
    assert await _card_status(db, "1003", "3737") == "active"


@pytest.mark.usefixtures("reworded")
async def test_a_no_to_a_reworded_read_back_changes_nothing(db: Database) -> None:
    async with OfflineCall(db) as call:
        await call.say("1001 1234")
        await call.say("lock my debit card")
        t = await call.say("no, cancel that")
        assert "haven't changed anything" in t.text
        t = await call.say("yes")  # a yes after the cancel answers no read-back
    assert await _card_status(db, "1001", "4242") == "active"


async def test_the_suspicious_charge_journey_with_every_reason_reworded(db: Database) -> None:
    """The transfer reasons are the model's own words to the next desk: the desks act on
    the brief's typed fields, so a scrambled reason changes nothing."""
    async with OfflineCall(db) as call:
        await call.say("customer 1002, PIN 5678")
        t = await call.say("there's a charge from ZX Electronics I didn't make")
        assert t.agent == "card_security" and "ZX Electronics Online" in t.text
        brief = next(
            i.extra[BRIEF_KEY]
            for i in reversed(call.session.current_agent.chat_ctx.items)
            if isinstance(i, llm.ChatMessage) and BRIEF_KEY in i.extra
        )
        assert brief["verified_as"] == "Ben" and brief["suspect_transaction"]["merchant"]
        assert "5678" not in str(brief)
        await call.say("yes")
    # The read-back was for the lock; the card is the charge's own.
    customer = await db.customer_by_number("1002")
    assert any(c.status == "locked" for c in await db.cards(customer.id))


async def test_continuing_after_verification_is_a_typed_fact(db: Database) -> None:
    async with OfflineCall(db) as call:
        await call.say("what's my balance")  # refused: verify first
        t = await call.say("1001 1234")
        assert t.agent == "balance" and "Thank you, Alice, you're verified" in t.text
        brief = next(
            i.extra[BRIEF_KEY]
            for i in reversed(call.session.current_agent.chat_ctx.items)
            if isinstance(i, llm.ChatMessage) and BRIEF_KEY in i.extra
        )
        assert brief["continuing"] is True and brief["need"] == "balance"
        t = await call.say("and my savings?")
        assert "verified" not in t.text  # said once, on the turn it happened


def test_a_frame_is_data_on_the_message() -> None:
    frame = Frame(kind="offer_dispute", merchant="Uber", question="Dispute it?")
    message = llm.ChatMessage(role="assistant", content=["anything"], extra=frame.extra())
    assert frame_of(message.extra) == frame
    assert frame_of({FRAME_KEY: {"kind": "not a kind"}}) is None  # bad data: no frame
    assert frame.yes_no and not Frame(kind="which_card").yes_no


async def test_a_second_request_in_the_sentence_is_queued_not_dropped(db: Database) -> None:
    """'Lock my card and dispute the Chipotle charge': both are done, each on the caller's
    own words (the dispute named outright, the lock read back for its yes)."""
    async with OfflineCall(db) as call:
        await call.say("customer number 1002 pin 5678")
        t = await call.say("can you lock my card and also dispute the chipotle charge")
        assert "Chipotle" in t.text and "lock the Visa debit card ending 1881" in t.text
        assert await _card_status(db, "1002", "1881") == "active"  # read back, not yet done
        t = await call.say("yes")
        assert "now locked" in t.text and "haven't locked" not in t.text
    assert await _card_status(db, "1002", "1881") == "locked"
    assert await _disputes(db, "1002") == ["dispute"]


async def test_switching_to_a_card_not_yet_read_out_by_its_type(db: Database) -> None:
    async with OfflineCall(db) as call:
        await call.say("1001 1234")
        await call.say("I'd like to freeze my credit card please")
        t = await call.say("actually no, the debit one")
        assert "lock the Visa debit card ending 4242" in t.text
        assert "didn't catch" not in t.text  # a switch was understood, not a re-ask
        await call.say("yes do it")
    assert await _card_status(db, "1001", "4242") == "locked"
    assert await _card_status(db, "1001", "5454") == "active"


async def test_naming_the_card_read_back_reads_it_back_again(db: Database) -> None:
    async with OfflineCall(db) as call:
        await call.say("1003 2468")
        await call.say("unlock my card")  # the one locked card, read back
        t = await call.say("the amex")
        assert "unlock the Amex credit card ending 3737?" in t.text and "which card" not in t.text
        await call.say("yes")
    assert await _card_status(db, "1003", "3737") == "active"


async def test_a_why_question_of_its_own_is_a_request_not_a_re_ask(db: Database) -> None:
    async with OfflineCall(db) as call:
        await call.say("1003 2468")  # the menu question is pending
        t = await call.say("why was my card declined yesterday")
        assert "3737 is locked, which is why payments on it are declined" in t.text


async def test_a_queued_lock_waits_for_the_charge_the_dispute_needs(db: Database) -> None:
    """'Lock my card and dispute the uber one' where no Uber charge exists: the desk asks
    which charge (a bare "yes" asks again), opens that dispute, then reads the lock back."""
    async with OfflineCall(db) as call:
        await call.say("1002 5678")
        t = await call.say("lock my card and dispute the uber one")
        assert "couldn't find a charge from uber" in t.text
        t = await call.say("yes")
        assert "Which charge do you mean" in t.text
        await call.say("chipotle")
        t = await call.say("yes")
        assert "opened a dispute" in t.text and "lock the Visa debit card ending 1881" in t.text
        await call.say("yes")
    assert await _card_status(db, "1002", "1881") == "locked"
    assert await _disputes(db, "1002") == ["dispute"]


async def test_no_to_an_offer_is_not_a_goodbye_and_a_second_no_is(db: Database) -> None:
    async with OfflineCall(db) as call:
        await call.say("1001 1234")
        t = await call.say("what's my balance and my recent transactions")
        assert "balance too?" in t.text
        t = await call.say("no")
        assert "anything else" in t.text and t.agent == "transactions"
        t = await call.say("no")
        assert "Goodbye" in t.text and t.agent == "greeter"
