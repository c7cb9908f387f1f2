"""The offline model's dialogue state, typed.

A desk's reply that asks the caller something carries a `Frame`: what it asked, about which
card, charge or tool. It rides on the reply itself (livekit keeps a generation's `extra` on
the assistant message it stores), so the next turn reads what was asked as data, never by
reading the desk's own sentence back. Rewording a line cannot change what a yes does."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from tools.outcomes import (
    AmbiguousCard,
    AnyOutcome,
    CardView,
    ChargeNotFound,
    DisputeNeedsConfirmation,
    NeedsConfirmation,
    Refused,
    Unavailable,
)

FRAME_KEY = "bank.offline_frame"

FrameKind = Literal[
    "confirm_card",  # a card write read back: yes runs it, no leaves the card alone
    "confirm_dispute",  # a dispute read back
    "which_card",  # which card the pending card action is for
    "which_charge",  # which charge to dispute (card security asks for the merchant)
    "pick_charge",  # which of the charges just read out (the transactions desk)
    "offer_unlock",  # unlock the locked card just listed
    "offer_dispute",  # open a dispute for the charge the caller is worried about
    "offer_also",  # the other half of "my balance and my transactions"
    "offer_person",  # a person, where accepting works
    "credentials",  # the customer number and/or PIN
    "menu",  # balance, transactions or a card
]
YES_NO: frozenset[FrameKind] = frozenset(
    {"confirm_card", "confirm_dispute", "offer_unlock", "offer_dispute", "offer_also",
     "offer_person"}
)  # fmt: skip


class Frame(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: FrameKind
    tool: str | None = None  # the card (or dispute) tool the answer goes to
    cards: tuple[CardView, ...] = ()  # which_card: in the order read; offer_unlock: the card
    merchant: str | None = None  # offer_dispute: the charge's merchant
    purpose: Literal["suspicious", "dispute"] | None = None  # pick_charge
    then: Literal["balance", "transactions"] | None = None  # offer_also
    question: str = ""  # the question as said, to ask again word for word (never parsed)

    @property
    def yes_no(self) -> bool:
        return self.kind in YES_NO

    def extra(self) -> dict[str, Any]:
        return {FRAME_KEY: self.model_dump(mode="json")}


def frame_of(extra: dict[str, Any]) -> Frame | None:
    data = extra.get(FRAME_KEY)
    if data is None:
        return None
    try:
        return Frame.model_validate(data)
    except ValidationError:
        return None


def frame_for_outcome(tool: str, outcome: AnyOutcome | None) -> Frame | None:
    """The question a tool's sentence asks, from its typed outcome (the words asked are
    taken from the whole reply when it is made, OfflineBankLLM.chat)."""
    match outcome:
        case NeedsConfirmation(card=card):
            return Frame(kind="confirm_card", tool=tool, cards=(card,))
        case DisputeNeedsConfirmation():
            return Frame(kind="confirm_dispute", tool=tool)
        case AmbiguousCard(cards=cards):
            return Frame(kind="which_card", tool=tool, cards=tuple(cards))
        case ChargeNotFound():
            return Frame(kind="which_charge", tool=tool)
        case Unavailable():
            return Frame(kind="offer_person")
        case Refused(reason="credentials_mismatch" | "invalid_credentials"):
            return Frame(kind="credentials")
    return None


def last_question(text: str) -> str:
    """The last sentence of a line that ends on a question (to ask it again as said)."""
    text = text.strip()
    if not text.endswith("?"):
        return ""
    start = max(text.rfind(". ", 0, len(text) - 1), text.rfind("! ", 0, len(text) - 1))
    return text[start + 2 :] if start >= 0 else text
