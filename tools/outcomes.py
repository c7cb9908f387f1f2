"""Typed tool outcomes: the one contract between the desks' tools and any model.

Every tool returns (or raises, as a ToolError) exactly one of these, encoded by
`agents.render.render` as JSON holding the spoken sentence (`say`) and the outcome itself.
A real LLM reads both; the offline model decodes the outcome and never reads prose, so
rewording a sentence cannot change any control flow. Pydantic does the (de)serialisation:
one discriminated union instead of a hand-written parser."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

CardAction = Literal["lock", "unlock", "lost", "stolen"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class CardView(_Frozen):
    last_four: str
    network: str
    kind: str  # debit | credit
    status: str  # active | locked | lost | stolen


class AccountView(_Frozen):
    kind: str  # checking | savings | credit_card
    last_four: str
    available_cents: int
    ledger_cents: int
    pending_cents: int = 0
    credit_limit_cents: int | None = None
    available_credit_cents: int | None = None


class TxnView(_Frozen):
    ref: int
    merchant: str
    amount_cents: int
    on: str  # ISO date
    pending: bool = False


class Verified(_Frozen):
    type: Literal["verified"] = "verified"
    first_name: str


class Balance(_Frozen):
    type: Literal["balance"] = "balance"
    accounts: list[AccountView]


class NoSuchAccount(_Frozen):
    type: Literal["no_such_account"] = "no_such_account"
    asked: str
    have: list[str]


class Transactions(_Frozen):
    type: Literal["transactions"] = "transactions"
    items: list[TxnView]
    more: bool = False  # the listing stopped at the count asked for: older ones may exist


class Cards(_Frozen):
    type: Literal["cards"] = "cards"
    cards: list[CardView]


class NeedsConfirmation(_Frozen):
    type: Literal["needs_confirmation"] = "needs_confirmation"
    action: CardAction
    card: CardView


AmbiguityReason = Literal["which", "not_owned", "no_such_type", "bad_digits"]


class AmbiguousCard(_Frozen):
    type: Literal["ambiguous_card"] = "ambiguous_card"
    action: CardAction
    cards: list[CardView]
    why: AmbiguityReason = "which"
    asked: str = ""  # the card type the caller named, when none of theirs matches


class CardChanged(_Frozen):
    type: Literal["card_changed"] = "card_changed"
    action: CardAction
    card: CardView
    from_status: str
    to_status: str
    case_id: int | None = None  # the replacement case of a lost or stolen card


UnchangedReason = Literal["already", "blocked", "none_eligible", "no_cards"]


class CardUnchanged(_Frozen):
    type: Literal["card_unchanged"] = "card_unchanged"
    action: CardAction
    why: UnchangedReason
    card: CardView | None = None
    cards: list[CardView] = []


class DisputeOpened(_Frozen):
    type: Literal["dispute_opened"] = "dispute_opened"
    txn: TxnView
    case_id: int
    created: bool = True


class DisputeNeedsConfirmation(_Frozen):
    """A dispute read back: it opens only on the caller's own yes (agents/consent.py)."""

    type: Literal["dispute_needs_confirmation"] = "dispute_needs_confirmation"
    txn: TxnView


class ChargeNotFound(_Frozen):
    type: Literal["charge_not_found"] = "charge_not_found"
    merchant: str | None = None


class Escalated(_Frozen):
    type: Literal["escalated"] = "escalated"
    ok: bool
    message: str


RefusalReason = Literal[
    "unverified",
    "forged_argument",
    "unknown_transaction",
    "not_a_charge",
    "invalid_argument",
    "credentials_mismatch",
    "credentials_locked",
    "too_many_attempts",
    "invalid_credentials",
    "other_customer",
    "verification_unavailable",
    "verification_required",
    "edge_not_allowed",
    "same_agent",
    "one_handoff_per_turn",
    "interrupted",
    "not_transferred",
]


class Refused(_Frozen):
    type: Literal["refused"] = "refused"
    reason: RefusalReason
    subject: str = ""  # the desk a refused transfer was for, or the invalid credential
    detail: str = ""  # sanitised extra words for the sentence (argument names, limits)


class Unavailable(_Frozen):
    type: Literal["unavailable"] = "unavailable"


AnyOutcome = (
    Verified | Balance | NoSuchAccount | Transactions | Cards | NeedsConfirmation
    | AmbiguousCard | CardChanged | CardUnchanged | DisputeOpened | ChargeNotFound
    | Escalated | Refused | Unavailable | DisputeNeedsConfirmation
)  # fmt: skip
Outcome = Annotated[AnyOutcome, Field(discriminator="type")]


class Envelope(_Frozen):
    """What a tool's output holds: the sentence to say, and the typed outcome."""

    say: str
    outcome: Outcome


_ENVELOPE = TypeAdapter(Envelope)


def encode(outcome: AnyOutcome, say: str) -> str:
    return Envelope(say=say, outcome=outcome).model_dump_json()


def decode(output: str) -> Envelope | None:
    """The envelope of a tool output; None for anything else (an error livekit raised on its
    own, such as an unknown tool or a crash inside a tool)."""
    if not output.startswith("{"):
        return None
    try:
        return _ENVELOPE.validate_json(output)
    except ValidationError:
        return None
