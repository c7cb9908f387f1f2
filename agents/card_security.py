"""Card security: list, lock/unlock (with read-back and confirmation), lost/stolen, disputes."""

from __future__ import annotations

from typing import Literal

from livekit.agents import RunContext, ToolError, function_tool

from handoffs import CARD_SECURITY
from shared_state import PendingConfirmation, Principal, SessionState
from tools.db import Card, CardChange, Database, DatabaseUnavailable, NotFound, is_valid_id
from tools.db.models import CardStatus
from tools.money import speak_cents

from .base import (
    UNAVAILABLE,
    BankAgent,
    audit_refusal,
    refuse_unknown_transaction,
    require_principal,
)
from .speech import describe_card, spoken_date

Action = Literal["lock", "unlock", "lost", "stolen"]
_TARGET_STATUS: dict[Action, CardStatus] = {
    "lock": "locked",
    "unlock": "active",
    "lost": "lost",
    "stolen": "stolen",
}
_VERB = {"lock": "lock", "unlock": "unlock", "lost": "report as lost", "stolen": "report as stolen"}


class CardSecurityAgent(BankAgent):
    agent_id = CARD_SECURITY

    @function_tool
    async def list_cards(self, ctx: RunContext[SessionState]) -> str:
        """List the verified caller's cards with their status (last four digits only)."""
        principal = require_principal(ctx, action="list_cards")
        cards = await _cards(ctx.userdata.db, principal)
        if not cards:
            return "The caller has no cards."
        return "Cards: " + _listing(cards) + "."

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
    ) -> str:
        """Open a dispute for a charge the caller does not recognise.

        Args:
            transaction_ref: the transaction's reference number (from the brief or a listing)
            merchant: the merchant name, if the reference is not known
            reason: the caller's reason, in a few words
        """
        state = ctx.userdata
        principal = require_principal(ctx, action="dispute_transaction")
        db = state.db
        assert db is not None
        suspect = state.brief.suspect_transaction if state.brief else None
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
                    principal.customer_id, merchant=merchant.strip()[:60], limit=1
                )
                if not found:
                    raise ToolError(
                        f"I couldn't find a charge from {merchant[:60]} to dispute. Which charge "
                        "do you mean? Tell me the merchant name as it appears."
                    )
                txn = found[0]
            else:
                raise ToolError("Which charge should be disputed? Ask for the merchant.")
            if txn.amount_cents >= 0:
                raise ToolError("That is a deposit, not a charge, so it can't be disputed.")
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
                raise ToolError("I couldn't find that charge on your accounts.") from None
            refuse_unknown_transaction(state, transaction_ref, action="dispute_transaction")
        except DatabaseUnavailable:
            raise ToolError(UNAVAILABLE) from None
        what = (
            f"the {speak_cents(abs(txn.amount_cents))} charge at {txn.merchant} "
            f"{spoken_date(txn.occurred_at)}"
        )
        if not case.created:
            return f"There is already an open dispute for {what}; its case number is {case.id}."
        return (
            f"I've opened a dispute for {what}; your case number is {case.id}. "
            "We'll be in touch within five business days."
        )


async def _cards(db: Database | None, principal: Principal) -> list[Card]:
    assert db is not None
    try:
        return await db.cards(principal.customer_id)
    except DatabaseUnavailable:
        raise ToolError(UNAVAILABLE) from None


_STATUS_WORD = {"locked": "locked", "active": "active", "lost": "reported lost",
                "stolen": "reported stolen"}


def _listing(cards: list[Card]) -> str:
    """'Visa debit card ending 4242, active; ...': how every card message names the cards."""
    return "; ".join(describe_card(c) for c in cards)


def _name(card: Card) -> str:
    return f"{card.network.title()} {card.kind} card ending {card.last_four}"


def _pick_card(
    state: SessionState,
    cards: list[Card],
    last_four: str | None,
    action: Action,
    card_type: str | None = None,
) -> Card:
    # Messages are caller-facing: a real LLM relays them, the offline model speaks them.
    if last_four is not None:
        digits = "".join(ch for ch in str(last_four) if ch.isdigit())
        if len(digits) != 4:
            raise ToolError("Please tell me just the last four digits of the card.")
        for card in cards:
            if card.last_four == digits:
                return card
        # Not one of the caller's cards (a mistake, or someone else's card): recorded either
        # way, and the caller hears the same words whether or not such a card exists.
        audit_refusal(state, kind="card_not_owned", detail=f"{action}:{digits}")
        raise ToolError(
            "None of your cards ends in those digits. Your cards are: "
            + _listing(cards)
            + ". Which one do you mean? Please tell me its last four digits."
        )
    if not cards:
        raise ToolError("I can't find any cards on your accounts.")
    if card_type:
        # "Lock my credit card": that card, even if it is not in a state the action applies
        # to (then the caller hears "already locked"), never the one other card that is.
        cards = _of_type(cards, card_type)
        if len(cards) == 1:
            return cards[0]
    eligible = [c for c in cards if _eligible(c, action)]
    if not eligible:
        raise NothingToChange(_nothing_to_change(cards, action))
    if len(eligible) == 1:
        return eligible[0]
    raise ToolError(
        "Which card do you mean? Your cards are: "
        + _listing(eligible)
        + ". Please tell me the last four digits."
    )


_TYPE_WORDS = {
    "mastercard": "mastercard", "master card": "mastercard", "amex": "amex",
    "american express": "amex", "visa": "visa", "discover": "discover",
    "debit": "debit", "credit": "credit",
}  # fmt: skip
_SPOKEN = {"amex": "Amex", "visa": "Visa", "mastercard": "Mastercard", "discover": "Discover"}
_SPOKEN_ORDER = ["amex", "discover", "mastercard", "visa", "debit", "credit"]


def _of_type(cards: list[Card], card_type: str) -> list[Card]:
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
        listing = _listing(cards)
        raise ToolError(
            f"You don't have {'an' if said[0] in 'AEIOU' else 'a'} {said} card with us. "
            f"Your cards are: {listing}. "
            "Which one do you mean? Please tell me its last four digits, or say "
            "which one, like 'the debit card'."
        )
    return matching


class NothingToChange(Exception):
    """No card of the caller's is in a state the action applies to (say so in one step)."""


def _nothing_to_change(cards: list[Card], action: Action) -> str:
    listing = _listing(cards)
    if action == "unlock":
        lead = "None of your cards is locked, so there's nothing to unlock"
    elif action == "lock":
        lead = "None of your cards is active, so there's nothing to lock"
    else:
        lead = "None of your cards can be reported: they are already blocked"
    return f"{lead}. Your cards are: {listing}."


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
        card = _pick_card(
            state, await _cards(state.db, principal), last_four, action, card_type
        )
    except NothingToChange as nothing:
        state.pending_confirmation = None
        return str(nothing)
    target = _TARGET_STATUS[action]
    if card.status == target:
        state.pending_confirmation = None
        return f"Your {_name(card)} is already {_STATUS_WORD[target]}, so nothing needed changing."
    if card.status in ("lost", "stolen") and action in ("lock", "unlock"):
        return (
            f"Your {_name(card)} was reported {card.status}, so it stays blocked for good; "
            "a replacement card is the way forward."
        )
    pending = state.pending_confirmation
    confirmed = (
        confirm
        and pending is not None
        and pending.action == action
        and pending.card_id == card.id
        and pending.asked_on_turn == state.user_turns - 1  # the caller's very next turn
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
        extra = (
            " This blocks it for good and orders a replacement."
            if action in ("lost", "stolen")
            else ""
        )
        return (
            f"To confirm: {_VERB[action]} the {card.network.title()} {card.kind} card ending "
            f"{card.last_four}?{extra} Please say yes to confirm, or no to cancel."
        )
    assert pending is not None
    state.pending_confirmation = None
    db = state.db
    assert db is not None
    key = f"{state.session_id}:{action}:{card.id}:{pending.asked_on_turn}"
    try:
        result = await db.set_card_status(
            principal.customer_id,
            card.id,
            target,
            reason=f"caller request via voice ({state.channel})",
            actor=f"agent:{CARD_SECURITY}",
            idempotency_key=key,
        )
        replacement_note = ""
        if action in ("lost", "stolen") and result.change is not CardChange.NOT_ALLOWED:
            case = await db.open_case(
                principal.customer_id,
                "replacement",
                summary=f"card ending {card.last_four} reported {action}",
                idempotency_key=f"{key}:replacement",
                card_id=card.id,
            )
            replacement_note = f" A replacement card is on its way; your case number is {case.id}."
    except NotFound:
        raise ToolError("That card is not on the caller's accounts.") from None
    except DatabaseUnavailable:
        raise ToolError(UNAVAILABLE) from None
    if result.change is CardChange.NOT_ALLOWED:
        card = result.card
        return f"Your {_name(card)} was reported {card.status}, so it can't be changed."
    done = {
        "lock": "is now locked. You can unlock it any time by calling us",
        "unlock": "is unlocked and ready to use",
        "lost": "is blocked and reported lost",
        "stolen": "is blocked and reported stolen",
    }
    return (
        f"Done: your {card.network.title()} {card.kind} card ending {card.last_four} "
        f"{done[action]}.{replacement_note}"
    )
