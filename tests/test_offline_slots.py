"""Slot grammars of the offline model: date windows, number words, merchants said the way
callers say them. Graded on what the tools were asked and on the database afterwards."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from models.offline_nlu import understand
from models.offline_text import spoken_number
from tests.offline_driver import OfflineCall
from tools.db import Database


def test_last_month_is_the_previous_calendar_month_and_this_month_since_the_first() -> None:
    today = datetime.now(UTC).date()
    first = today.replace(day=1)
    previous = (first - timedelta(days=1)).replace(day=1)
    last = understand("show me my transactions from last month")
    assert last.window == (previous, first) and last.merchant is None
    assert last.days_back == (today - previous).days + 1  # the tool reads whole days back
    this = understand("what did I spend this month")
    assert this.window == (first, None) and this.days_back == today.day
    assert understand("past month charges").days_back == 31  # the last 31 days, as said
    yesterday = understand("transactions from yesterday").window
    assert yesterday == (today - timedelta(days=1), today)


@pytest.mark.parametrize(
    ("said", "number"),
    [("7", 7), ("seven", 7), ("twenty five", 25), ("three hundred and eighty-nine", 389),
     ("a hundred", 100), ("zillion", None), ("several", None), ("banana", None)],
)  # fmt: skip
def test_number_words_are_read_and_unknown_words_are_no_number(
    said: str, number: int | None
) -> None:
    assert spoken_number(said) == number


def test_an_unknown_number_word_sets_no_count() -> None:
    assert understand("show the last zillion transactions").count is None
    assert understand("my last twelve purchases").count == 12
    assert understand("last twenty five transactions").count == 20  # the tool's limit
    assert understand("the past two weeks").days_back == 14


def test_the_kind_of_place_is_not_taken_for_the_merchant_name() -> None:
    assert understand("dispute the electronics store charge").merchant == "electronics"
    assert understand("there's a charge from some coffee place").merchant == "coffee"


async def test_last_month_reads_only_the_previous_calendar_month(db: Database) -> None:
    today = datetime.now(UTC).date()
    first = today.replace(day=1)
    async with OfflineCall(db) as call:
        await call.say("1001 1234")
        t = await call.say("show me my transactions from last month")
    alice = await db.customer_by_number("1001")
    expected = [
        r.merchant
        for r in await db.transactions(alice.id, limit=50)
        if (first - timedelta(days=1)).replace(day=1)
        <= r.occurred_at.astimezone(UTC).date()
        < first
    ]
    heard = [m for m in _MERCHANTS_1001 if m in t.text]
    assert sorted(heard) == sorted(expected), t.text
    if not expected:  # the demo data is relative to today: early in a month, none at all
        assert "no transactions in that period" in t.text


async def test_the_electronics_store_is_the_callers_zx_electronics_charge(db: Database) -> None:
    async with OfflineCall(db) as call:
        await call.say("1002 5678")
        t = await call.say("I want to dispute the electronics store charge")
        assert "ZX Electronics" in t.text and "couldn't find" not in t.text
        if "yes to confirm" in t.text.lower():
            await call.say("yes")
    ben = await db.customer_by_number("1002")
    assert [c.kind for c in await db.cases(ben.id)] == ["dispute"]


_MERCHANTS_1001 = (
    "Whole Foods Market", "Uber", "Blue Bottle Coffee", "Acme Corp Payroll",
    "Parkside Apartments", "PG&E", "Amazon", "Shell", "Netflix", "Transfer from Checking",
)  # fmt: skip


async def test_a_merchant_with_nothing_in_the_window_is_said_not_found(db: Database) -> None:
    """Ben (1002) has no Amazon charges: "last month at amazon" says so before it reads the
    period's other transactions, instead of reading them as if they were the answer."""
    async with OfflineCall(db) as call:
        await call.say("1002 5678")
        t = await call.say("what did I spend at amazon last month")
        assert "couldn't find anything from amazon" in t.text, t.text


async def test_an_electronics_store_said_with_an_article_is_the_zx_charge(db: Database) -> None:
    async with OfflineCall(db) as call:
        await call.say("1002 5678")
        t = await call.say("someone used my card at an electronics store")
        assert "ZX Electronics" in t.text and "Which one don't you recognise" not in t.text
