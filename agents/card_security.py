"""Card security: list, lock/unlock (with read-back and confirmation), lost/stolen, disputes."""

from __future__ import annotations

from typing import Any, Literal

from livekit.agents import RunContext, function_tool

from handoffs import CARD_SECURITY
from shared_state import HandoffBrief, Intent, PendingConfirmation, Principal, SessionState
from tools.db import Card, CardChange, Database, DatabaseUnavailable, NotFound, is_valid_id
from tools.db.models import CardStatus
from tools.outcomes import (
    AmbiguousCard,
    CardChanged,
    Cards,
    CardUnchanged,
    CardView,
    ChargeNotFound,
    DisputeNeedsConfirmation,
    DisputeOpened,
    NeedsConfirmation,
    Refused,
    Unavailable,
)

from .base import BankAgent, audit_refusal, refuse_unknown_transaction, require_principal
from .consent import Consent, Target, consent_for
from .prefetch import OpeningRead
from .render import card_view, fail, render, txn_view

Action = Literal["lock", "unlock", "lost", "stolen"]
_TARGET_STATUS: dict[Action, CardStatus] = {
    "lock": "locked",
    "unlock": "active",
    "lost": "lost",
    "stolen": "stolen",
}


class CardSecurityAgent(BankAgent):
    agent_id = CARD_SECURITY

    @classmethod
    def opening_read(cls, brief: HandoffBrief, slots: dict[str, Any]) -> OpeningRead | None:
        """A charge they don't recognise: the read-back of locking the card it was on (a
        read: nothing changes until the caller says yes on their next turn). Otherwise the
        caller's cards, which any card request starts from."""
        suspect = brief.suspect_transaction
        if brief.intent is Intent.SUSPICIOUS_CHARGE and suspect is not None:
            last_four = suspect.card_last_four
            return OpeningRead("lock_card", {"card_last_four": last_four} if last_four else {})
        if brief.intent is Intent.CARD_SECURITY:
            return OpeningRead("list_cards")
        return None

    @function_tool
    async def list_cards(self, ctx: RunContext[SessionState]) -> str:
        """List the verified caller's cards with their status (last four digits only)."""
        principal = require_principal(ctx, action="list_cards")
        cards = await _cards(ctx.userdata.db, principal)
        return render(Cards(cards=[card_view(c) for c in cards]))

    @function_tool
    async def lock_card(
        self,
        ctx: RunContext[SessionState],
        card_last_four: str | None = None,
        card_type: str | None = None,
        confirm: bool = False,
    ) -> str:
        """Temporarily lock one of the caller's cards. First call without confirm: it reads
        the card back. Call again with confirm=true only after the caller says yes.

        Args:
            card_last_four: last four digits of the card (optional if they have one card)
            card_type: the card as the caller named it, when they gave no digits: debit,
                credit, visa, mastercard or amex
            confirm: true only once the caller has confirmed the read-back
        """
        return await _card_action(ctx, "lock", card_last_four, confirm, card_type)

    @function_tool
    async def unlock_card(
        self,
        ctx: RunContext[SessionState],
        card_last_four: str | None = None,
        card_type: str | None = None,
        confirm: bool = False,
    ) -> str:
        """Unlock a locked card (needs a PIN-verified or app-signed-in caller). Confirm first,
        exactly like lock_card.

        Args:
            card_last_four: last four digits of the card
            card_type: debit, credit, visa, mastercard or amex, when no digits were given
            confirm: true only once the caller has confirmed the read-back
        """
        return await _card_action(ctx, "unlock", card_last_four, confirm, card_type)

    @function_tool
    async def report_card_lost_or_stolen(
        self,
        ctx: RunContext[SessionState],
        card_last_four: str | None = None,
        kind: Literal["lost", "stolen"] = "lost",
        card_type: str | None = None,
        confirm: bool = False,
    ) -> str:
        """Report a card lost or stolen: blocks it for good and orders a replacement.
        Confirm first, exactly like lock_card.

        Args:
            card_last_four: last four digits of the card
            kind: lost or stolen
            card_type: debit, credit, visa, mastercard or amex, when no digits were given
            confirm: true only once the caller has confirmed the read-back
        """
        return await _card_action(ctx, kind, card_last_four, confirm, card_type)

    @function_tool
    async def dispute_transaction(
        self,
        ctx: RunContext[SessionState],
        transaction_ref: int | None = None,
        merchant: str | None = None,
        reason: str = "caller does not recognise the charge",
        confirm: bool = False,
    ) -> str:
        """Open a dispute for a charge the caller does not recognise. Unless the caller
        asked for the dispute in their own words, it reads the charge back first; call
        again with confirm=true only after the caller says yes.

        Args:
            transaction_ref: the transaction's reference number (from the brief or a listing)
            merchant: the merchant name, if the reference is not known
            reason: the caller's reason, in a few words
            confirm: true only once the caller has confirmed the read-back
        """
        state = ctx.userdata
        principal = require_principal(ctx, action="dispute_transaction")
        db = state.db
        assert db is not None
        suspect = state.brief.suspect_transaction if state.brief else None
        # A blank merchant names no charge: ask which, never dispute the newest one.
        merchant = (merchant or "").strip() or None
        if transaction_ref is None and merchant is None and suspect is not None:
            transaction_ref = suspect.transaction_id
        if transaction_ref is not None and not is_valid_id(transaction_ref):
            # No row can have this id (zero, negative, past bigint): refuse before the DB.
            refuse_unknown_transaction(state, transaction_ref, action="dispute_transaction")
        try:
            if transaction_ref is not None:
                txn = await db.transaction_for_customer(principal.customer_id, transaction_ref)
            elif merchant:
                found = await db.transactions(
                    principal.customer_id, merchant=merchant[:60], limit=1
                )
                if not found:
                    raise fail(ChargeNotFound(merchant=merchant[:60]))
                txn = found[0]
            else:
                raise fail(ChargeNotFound())
            if txn.amount_cents >= 0:
                raise fail(Refused(reason="not_a_charge"))
            if consent_for(state, Target(action="dispute", merchant=txn.merchant)) is None:
                # No yes of the caller's own to this charge's dispute: read it back first.
                if confirm:
                    audit_refusal(state, kind="unconfirmed_dispute", detail=str(txn.id))
                return render(DisputeNeedsConfirmation(txn=txn_view(txn)))
            card = await db.card_for_account(principal.customer_id, txn.account_id)
            case = await db.open_case(
                principal.customer_id,
                "dispute",
                summary=f"{reason[:200]} ({txn.merchant})",
                idempotency_key=f"{state.session_id}:dispute:{txn.id}",
                card_id=card.id if card else None,
                transaction_id=txn.id,
            )
        except NotFound:
            if transaction_ref is None:
                raise fail(Refused(reason="unknown_transaction")) from None
            refuse_unknown_transaction(state, transaction_ref, action="dispute_transaction")
        except DatabaseUnavailable:
            raise fail(Unavailable()) from None
        return render(DisputeOpened(txn=txn_view(txn), case_id=case.id, created=case.created))


async def _cards(db: Database | None, principal: Principal) -> list[Card]:
    assert db is not None
    try:
        return await db.cards(principal.customer_id)
    except DatabaseUnavailable:
        raise fail(Unavailable()) from None


def _views(cards: list[Card]) -> list[CardView]:
    return [card_view(c) for c in cards]


def _pick_card(
    state: SessionState,
    cards: list[Card],
    last_four: str | None,
    action: Action,
    card_type: str | None = None,
) -> Card:
    if last_four is not None:
        digits = "".join(ch for ch in str(last_four) if ch.isdigit())
        if len(digits) != 4:
            raise fail(AmbiguousCard(action=action, cards=_views(cards), why="bad_digits"))
        for card in cards:
            if card.last_four == digits:
                return card
        # Not one of the caller's cards (a mistake, or someone else's card): recorded either
        # way, and the caller hears the same words whether or not such a card exists.
        audit_refusal(state, kind="card_not_owned", detail=f"{action}:{digits}")
        raise fail(AmbiguousCard(action=action, cards=_views(cards), why="not_owned"))
    if not cards:
        raise NothingToChange(CardUnchanged(action=action, why="no_cards"))
    if card_type:
        # "Lock my credit card": that card, even if it is not in a state the action applies
        # to (then the caller hears "already locked"), never the one other card that is.
        cards = _of_type(cards, card_type, action)
        if len(cards) == 1:
            return cards[0]
    eligible = [c for c in cards if _eligible(c, action)]
    if not eligible:
        raise NothingToChange(
            CardUnchanged(action=action, why="none_eligible", cards=_views(cards))
        )
    if len(eligible) == 1:
        return eligible[0]
    raise fail(AmbiguousCard(action=action, cards=_views(eligible)))


_TYPE_WORDS = {
    "mastercard": "mastercard", "master card": "mastercard", "amex": "amex",
    "american express": "amex", "visa": "visa", "discover": "discover",
    "debit": "debit", "credit": "credit",
}  # fmt: skip
_SPOKEN = {"amex": "Amex", "visa": "Visa", "mastercard": "Mastercard", "discover": "Discover"}
_SPOKEN_ORDER = ["amex", "discover", "mastercard", "visa", "debit", "credit"]


def _of_type(cards: list[Card], card_type: str, action: Action) -> list[Card]:
    """The caller's cards matching a spoken description ("credit", "the amex", "visa debit");
    a description that matches none of them is said back with their real cards. Words
    that name no card type narrow nothing."""
    described = card_type.lower()
    wanted = {word for phrase, word in _TYPE_WORDS.items() if phrase in described}
    if not wanted:
        return cards
    matching = [c for c in cards if wanted <= {c.kind.lower(), c.network.lower()}]
    if not matching:
        said = " ".join(_SPOKEN.get(w, w) for w in sorted(wanted, key=_SPOKEN_ORDER.index))
        raise fail(
            AmbiguousCard(action=action, cards=_views(cards), why="no_such_type", asked=said)
        )
    return matching


class NothingToChange(Exception):
    """No card of the caller's is in a state the action applies to (say so in one step)."""

    def __init__(self, outcome: CardUnchanged) -> None:
        super().__init__(outcome.why)
        self.outcome = outcome


def _eligible(card: Card, action: Action) -> bool:
    if action == "unlock":
        return card.status == "locked"
    return (
        card.status in ("active", "locked")
        if action in ("lost", "stolen")
        else (card.status == "active")
    )


async def _card_action(
    ctx: RunContext[SessionState],
    action: Action,
    last_four: str | None,
    confirm: bool,
    card_type: str | None = None,
) -> str:
    state = ctx.userdata
    principal = require_principal(ctx, action=f"{action}_card")
    try:
        card = _pick_card(state, await _cards(state.db, principal), last_four, action, card_type)
    except NothingToChange as nothing:
        state.pending_confirmation = None
        return render(nothing.outcome)
    target = _TARGET_STATUS[action]
    if card.status == target:
        state.pending_confirmation = None
        return render(CardUnchanged(action=action, why="already", card=card_view(card)))
    if card.status in ("lost", "stolen") and action in ("lock", "unlock"):
        return render(CardUnchanged(action=action, why="blocked", card=card_view(card)))
    pending = state.pending_confirmation
    about = Target(
        action=action,
        card_last_four=card.last_four,
        card_words=frozenset({card.network.lower(), card.kind.lower()}),
    )
    consent = consent_for(state, about)
    confirmed = (
        confirm
        and pending is not None
        and pending.action == action
        and pending.card_id == card.id
        and (
            # the caller pressed 1, or tapped Confirm in the app, after this read-back
            consent in (Consent.KEYPAD, Consent.APP)
            or (
                pending.asked_on_turn == state.user_turns - 1  # the caller's very next turn
                # ... and what they said on it: their own yes to this read-back, in code.
                and consent is not None
            )
        )
    )
    if not confirmed:
        if confirm:
            audit_refusal(state, kind="unconfirmed_card_write", detail=action)
        state.pending_confirmation = PendingConfirmation(
            action=action,
            card_id=card.id,
            card_last_four=card.last_four,
            asked_on_turn=state.user_turns,
        )
        return render(NeedsConfirmation(action=action, card=card_view(card)))
    assert pending is not None
    state.pending_confirmation = None
    state.keypad_consent = None
    db = state.db
    assert db is not None
    key = f"{state.session_id}:{action}:{card.id}:{pending.asked_on_turn}"
    try:
        result = await db.set_card_status(
            principal.customer_id,
            card.id,
            target,
            # The audit row says which channel confirmed: words, keypad or app.
            reason=f"caller request via {state.channel}, confirmed by {consent}",
            actor=f"agent:{CARD_SECURITY}",
            idempotency_key=key,
        )
        case_id = None
        if action in ("lost", "stolen") and result.change is not CardChange.NOT_ALLOWED:
            case = await db.open_case(
                principal.customer_id,
                "replacement",
                summary=f"card ending {card.last_four} reported {action}",
                idempotency_key=f"{key}:replacement",
                card_id=card.id,
            )
            case_id = case.id
    except NotFound:
        raise fail(AmbiguousCard(action=action, cards=[], why="not_owned")) from None
    except DatabaseUnavailable:
        raise fail(Unavailable()) from None
    if result.change is CardChange.NOT_ALLOWED:
        return render(CardUnchanged(action=action, why="blocked", card=card_view(result.card)))
    return render(
        CardChanged(
            action=action,
            card=card_view(card),
            from_status=card.status,
            to_status=target,
            case_id=case_id,
        )
    )
