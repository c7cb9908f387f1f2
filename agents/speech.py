"""Caller-facing sentences built from typed rows. Tools return these, so a real LLM and the
offline model phrase answers from the same facts."""

from __future__ import annotations

from datetime import UTC, date, datetime

from tools.db import Account, Card, Transaction
from tools.money import speak_cents

_KIND_NAMES = {"checking": "checking", "savings": "savings", "credit_card": "credit card"}


def account_label(account: Account) -> str:
    return f"{_KIND_NAMES[account.kind]} account ending {account.number_last_four}"


def describe_account(account: Account) -> str:
    if account.kind == "credit_card":
        assert account.credit_limit_cents is not None
        text = (
            f"On your {account_label(account)}, you owe {speak_cents(account.ledger_balance_cents)}"
            f" and have {speak_cents(account.available_credit_cents or 0)} of available credit;"
            f" your credit limit is {speak_cents(account.credit_limit_cents)}."
        )
    else:
        text = (
            f"Your {account_label(account)} has an available balance of "
            f"{speak_cents(account.available_balance_cents)}"
        )
        if account.available_balance_cents != account.ledger_balance_cents:
            text += (
                f"; the current balance is {speak_cents(account.ledger_balance_cents)}, "
                f"with {speak_cents(abs(account.pending_cents))} in pending transactions"
            )
        text += "."
    return text


def spoken_date(when: datetime | date, today: date | None = None) -> str:
    day = when.astimezone(UTC).date() if isinstance(when, datetime) else when
    today = today or datetime.now(UTC).date()
    delta = (today - day).days
    if delta == 0:
        return "today"
    if delta == 1:
        return "yesterday"
    return f"on {day.strftime('%B')} {day.day}"


def describe_transaction(txn: Transaction) -> str:
    direction = "a payment of" if txn.amount_cents > 0 else "a charge of"
    if txn.amount_cents > 0:
        direction = "a deposit of"
    pending = " (pending)" if txn.status == "pending" else ""
    return (
        f"{direction} {speak_cents(abs(txn.amount_cents))} at {txn.merchant} "
        f"{spoken_date(txn.occurred_at)}{pending} [ref {txn.id}]"
    )


def describe_card(card: Card) -> str:
    status = {
        "active": "active",
        "locked": "locked",
        "lost": "reported lost",
        "stolen": "reported stolen",
    }[card.status]
    return f"{card.network.title()} {card.kind} card ending {card.last_four}, {status}"
