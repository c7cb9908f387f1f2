"""Nothing secret reaches the logs: full offline-model conversations (verify with PIN,
balance, transactions, lock a card, a wrong PIN) run with every logger at DEBUG, and no
record's formatted message, exception text or extra attribute holds a PIN, a card-number
(PAN-looking) digit run, or a balance figure in any written or spoken form."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
from security_helpers import DEMO, settle

from agents import Greeter, new_session
from models import OfflineBankLLM
from shared_state import SessionState
from tools.db import Database
from tools.money import format_cents, speak_cents

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}
_LOGGERS = ("", "livekit", "livekit.agents", "bank", "asyncio", "asyncpg", "aiohttp")


def _digits(value: str) -> re.Pattern[str]:
    """A digit string as written or spoken digit by digit ("1234", "1 2 3 4", "1-2-3-4")."""
    return re.compile(r"(?<![\w.,])" + r"[\s-]?".join(map(re.escape, value)) + r"(?![\w])")


def _figure(text: str) -> re.Pattern[str]:
    return re.compile(r"(?<![\w.,])" + re.escape(text) + r"(?![\w])", re.IGNORECASE)


def forbidden_for(number: str, *extra_pins: str) -> list[tuple[str, re.Pattern[str]]]:
    spec = DEMO[number]
    out: list[tuple[str, re.Pattern[str]]] = [("PIN", _digits(spec["pin"]))]
    out += [("PIN", _digits(p)) for p in extra_pins]
    cents: set[int] = set()
    for account in spec["accounts"]:
        cents |= {account["ledger_cents"], account["available_cents"]}
        if "credit_limit_cents" in account:
            cents.add(account["credit_limit_cents"] - account["ledger_cents"])
            cents.add(account["credit_limit_cents"])
    pending = sum(-t["amount_cents"] for t in spec["transactions"] if t["status"] == "pending")
    if pending:
        cents.add(pending)
    for c in sorted(cents):
        display = format_cents(c)  # "$4,520.12"
        for form in (display, display.lstrip("$"), display.lstrip("$").replace(",", ""), str(c)):
            out.append((f"balance {display}", _figure(form)))
        out.append((f"balance {display} spoken", _figure(speak_cents(c))))
        dollars = speak_cents(c - c % 100) if c % 100 else None
        if dollars and c >= 100:
            out.append((f"balance {display} spoken", _figure(dollars)))
    # A full card number: 12-19 digits, possibly grouped ("4111 1111 1111 4242").
    out.append(("PAN", re.compile(r"(?<!\w)\d(?:[\s-]?\d){11,18}(?!\w)")))
    for card in spec["cards"]:
        masked = r"(?:\d{4}|[x*#]{4})[\s-]?"
        out.append(
            (
                f"PAN ending {card['last_four']}",
                re.compile(rf"(?:{masked}){{3}}{card['last_four']}\b", re.I),
            )
        )
    return out


def record_texts(record: logging.LogRecord) -> Iterator[tuple[str, str]]:
    yield "message", record.getMessage()
    if record.exc_text:
        yield "exc_text", record.exc_text
    if record.exc_info and record.exc_info[1] is not None:
        yield "exception", logging.Formatter().formatException(record.exc_info)
    for key, value in vars(record).items():
        if key not in _STANDARD:
            yield f"extra {key}", repr(value)


def assert_clean(
    records: list[logging.LogRecord], forbidden: list[tuple[str, re.Pattern[str]]]
) -> None:
    assert records, "no log records captured: the test would prove nothing"
    problems = []
    for record in records:
        for where, text in record_texts(record):
            for label, pattern in forbidden:
                if m := pattern.search(text):
                    excerpt = text[max(0, m.start() - 60) : m.end() + 30]
                    problems.append(f"{label} in {record.name} {where}: ...{excerpt!r}")
    assert not problems, "\n".join(problems[:20])


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    for name in _LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    yield caplog


async def _converse(db: Database, lines: list[str]) -> tuple[SessionState, list[str]]:
    state = SessionState(db=db, channel="console")
    said: list[str] = []
    async with new_session(state, llm=OfflineBankLLM()) as session:
        await session.start(Greeter())
        for line in lines:
            result = await session.run(user_input=line)
            said += [
                ev.item.text_content or ""
                for ev in result.events
                if ev.type == "message" and ev.item.role == "assistant"
            ]
    await settle(state)
    return state, said


async def test_full_call_logs_no_pin_card_number_or_balance(
    db: Database, debug_logs: pytest.LogCaptureFixture
) -> None:
    state, said = await _converse(
        db,
        [
            "my customer number is 1001 and my PIN is 1234",
            "what's my balance?",
            "something else",
            "show me my last 5 transactions",
            "something else",
            "I want to lock my card ending 4242",
            "lock the card ending 4242",  # the digits do not cross the handoff (masked)
            "yes",
        ],
    )
    # The conversation really happened (so the logs had the chance to leak).
    assert state.principal is not None and state.principal.customer_number == "1001"
    assert any("$4,458.12" in s for s in said), said
    assert any("Whole Foods Market" in s for s in said), said
    alice = await db.customer_by_number("1001")
    assert [c.status for c in await db.cards(alice.id) if c.last_four == "4242"] == ["locked"]
    assert_clean(debug_logs.records, forbidden_for("1001"))


async def test_wrong_pins_and_lockout_log_no_pin(
    db: Database, debug_logs: pytest.LogCaptureFixture
) -> None:
    state, said = await _converse(
        db,
        [
            "my customer number is 1002 and my PIN is 8642",
            "my customer number is 1002 and my PIN is 9 7 5 3",
            "my customer number is 1002 and my PIN is 1357",
            "my customer number is 1002 and my PIN is 5678",
        ],
    )
    assert state.principal is None
    assert any("locked" in s for s in said), said
    assert_clean(debug_logs.records, forbidden_for("1002", "8642", "9753", "1357"))


async def test_chloe_call_with_credit_card_logs_no_figures(
    db: Database, debug_logs: pytest.LogCaptureFixture
) -> None:
    state, said = await _converse(
        db,
        [
            "customer number 1003, PIN 2468",
            "how much available credit do I have on my credit card?",
            "something else",
            "what cards do I have?",
        ],
    )
    assert state.principal is not None and state.principal.first_name == "Chloe"
    assert any("available credit" in s for s in said), said
    assert_clean(debug_logs.records, forbidden_for("1003"))


def test_the_detector_itself_catches_leaks() -> None:
    """Guard against a vacuous check: each kind of secret is found when it is logged."""
    logger = logging.getLogger("security_logs_selftest")
    forbidden = forbidden_for("1001")
    samples: list[tuple[str, dict[str, Any]]] = [
        ("caller said PIN 1 2 3 4", {}),
        ("balance is $4,520.12", {}),
        ("balance", {"amount": "four thousand five hundred twenty dollars and twelve cents"}),
        ("raw cents", {"cents": 452012}),
        ("card 4111 1111 1111 4242", {}),
        ("card xxxx-xxxx-xxxx-4242", {}),
    ]
    for msg, extra in samples:
        record = logger.makeRecord(
            logger.name, logging.INFO, __file__, 1, msg, (), None, extra=extra
        )
        with pytest.raises(AssertionError):
            assert_clean([record], forbidden)
    clean = logger.makeRecord(logger.name, logging.INFO, __file__, 1, "handoff accepted", (), None)
    assert_clean([clean], forbidden)
