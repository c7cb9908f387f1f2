"""Card-desk phrasing for the offline model: what to offer after reading the caller's cards
out, and saying plainly that a lock read-back was dropped when the caller chose a dispute.

Phrasing only: every change still goes through the card tools' own read-back and yes."""

from __future__ import annotations

import re

from tools.outcomes import AmbiguousCard, AnyOutcome, Cards

from .offline_context import Context
from .offline_dialog import CARD_MENTION
from .offline_nlu import LIST_CARDS
from .offline_text import normalise

UNLOCK_OFFER = "Would you like me to unlock"
_DECLINED = re.compile(
    r"\b(?:declined|rejected|refused|not working|isn'?t working|won'?t work|doesn'?t work|"
    r"didn'?t work|stopped working)\b",
    re.IGNORECASE,
)


def _listed_with_status(text: str) -> list[tuple[str, str, str, str]]:
    """(network, kind, last four, status) of each card a listing reads out with its status."""
    return [card for card in CARD_MENTION.findall(text) if card[3]]


def after_card_list(ctx: Context, outcome: AnyOutcome | None, listing: str) -> str:
    """The listing, plus the next step: unlock a locked card, or why a decline isn't a lock."""
    views = outcome.cards if isinstance(outcome, Cards) else []
    cards = [(c.network.title(), c.kind, c.last_four, c.status) for c in views]
    locked = [c for c in cards if c[3] == "locked"]
    said = normalise(ctx.last_of_role("user") or "")
    declined = bool(_DECLINED.search(said))
    if len(locked) == 1 and ctx.has("unlock_card"):
        network, kind, last_four, _ = locked[0]
        why = ", which is why payments on it are declined" if declined else ""
        return (
            f"{listing} Your {network} {kind} card ending {last_four} is locked{why}. "
            f"{UNLOCK_OFFER} it?"
        )
    if len(locked) > 1 and ctx.has("unlock_card"):
        return f"{listing} {UNLOCK_OFFER} one of the locked cards? Tell me which."
    if declined and cards and LIST_CARDS.search(said):
        return (
            f"{listing} None of them is locked, so a lock isn't why it was declined. It may "
            "be the merchant, or the funds available: say 'balance' and I'll check it, or ask "
            "for a person."
        )
    return listing


def offered_unlock(ctx: Context) -> str | None:
    """The last four digits of the card the desk just offered to unlock, if it did."""
    last = ctx.last_of_role("assistant") or ""
    if UNLOCK_OFFER not in last:
        return None
    locked = [c for c in _listed_with_status(last) if c[3].lower() == "locked"]
    return locked[0][2] if len(locked) == 1 else None


def declined_lock_prefix(ctx: Context) -> str:
    """'No, don't lock it, just dispute it': say the card was left alone, before the dispute."""
    if "To confirm: lock" in (ctx.last_of_role("assistant") or ""):
        return "Okay, I haven't locked your card. "
    return ""


_NETWORK_NAMES = {
    "visa": "Visa", "mastercard": "Mastercard", "master card": "Mastercard", "amex": "Amex",
    "american express": "Amex", "discover": "Discover",
}  # fmt: skip
_NETWORK = re.compile(r"\b(" + "|".join(_NETWORK_NAMES) + r")\b", re.IGNORECASE)
_MASKED = "[number]"  # digits the handoff masked in carried turns (never passed between desks)


def which_card_prefix(ctx: Context, outcome: AnyOutcome | None, request: str) -> str:
    """Why the desk asks 'which card?' when the caller thought they had said: a card network
    they don't have ('my Discover card'), or digits given at another desk."""
    if not isinstance(outcome, AmbiguousCard) or outcome.why not in ("which", "not_owned"):
        return ""
    if m := _NETWORK.search(request):
        name = _NETWORK_NAMES[m.group(1).lower()]
        if name.lower() not in {c.network for c in outcome.cards}:
            return f"You don't have {'an' if name[0] in 'AEIOU' else 'a'} {name} card with us. "
    if _MASKED in request:
        return (
            "For your security, card digits given to another desk aren't passed on to me, "
            "so let me check: "
        )
    return ""
