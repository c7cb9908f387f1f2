"""Typed rows returned by the data layer. Money is integer cents everywhere."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Literal

AccountKind = Literal["checking", "savings", "credit_card"]
CardStatus = Literal["active", "locked", "lost", "stolen"]
CaseKind = Literal["dispute", "replacement", "callback"]


@dataclass(frozen=True, slots=True)
class Customer:
    id: int
    customer_number: str
    full_name: str
    phone_e164: str | None

    @property
    def first_name(self) -> str:
        return self.full_name.split()[0]


@dataclass(frozen=True, slots=True)
class Account:
    id: int
    customer_id: int
    kind: AccountKind
    nickname: str
    number_last_four: str
    ledger_balance_cents: int
    available_balance_cents: int
    credit_limit_cents: int | None
    pending_cents: int  # sum of pending transactions (signed)

    @property
    def available_credit_cents(self) -> int | None:
        """For credit cards: limit minus what is owed (ledger balance is the amount owed)."""
        if self.credit_limit_cents is None:
            return None
        return self.credit_limit_cents - self.ledger_balance_cents


@dataclass(frozen=True, slots=True)
class Transaction:
    id: int
    account_id: int
    account_kind: AccountKind
    amount_cents: int
    merchant: str
    category: str
    status: Literal["pending", "posted"]
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class Card:
    id: int
    account_id: int
    last_four: str
    network: str
    kind: Literal["debit", "credit"]
    status: CardStatus


class CardChange(StrEnum):
    CHANGED = "changed"
    ALREADY = "already"  # card was already in the requested state: nothing written
    REPLAYED = "replayed"  # same idempotency key seen before: nothing written again
    NOT_ALLOWED = "not_allowed"  # e.g. unlocking a card reported lost


@dataclass(frozen=True, slots=True)
class CardActionResult:
    card: Card
    change: CardChange
    previous_status: CardStatus


@dataclass(frozen=True, slots=True)
class Case:
    id: int
    kind: CaseKind
    status: str
    card_id: int | None
    transaction_id: int | None
    summary: str
    created: bool  # False when an existing case was returned (idempotent replay/duplicate)


class VerificationStatus(StrEnum):
    VERIFIED = "verified"
    WRONG_PIN = "wrong_pin"
    UNKNOWN_CUSTOMER = "unknown_customer"
    LOCKED = "locked"


@dataclass(frozen=True, slots=True)
class VerificationResult:
    status: VerificationStatus
    customer: Customer | None = None
    attempts_left: int | None = None
    locked_until: datetime | None = None
