"""Card-desk phrasing for the offline model: what to offer after reading the caller's cards
out, and saying plainly that a lock read-back was dropped when the caller chose a dispute.

Phrasing only: every change still goes through the card tools' own read-back and yes."""

from __future__ import annotations

import re

from tools.outcomes import AmbiguousCard, AnyOutcome, Cards

from .offline_context import Context
from .offline_frames import Frame
from .offline_nlu import LIST_CARDS
from .offline_text import normalise

_DECLINED = re.compile(
    r"\b(?:declined|rejected|refused|not working|isn'?t working|won'?t work|doesn'?t work|"
    r"didn'?t work|stopped working)\b",
    re.IGNORECASE,
)


def after_card_list(
    ctx: Context, outcome: AnyOutcome | None, listing: str
) -> tuple[str, Frame | None]:
    """The listing, plus the next step: unlock a locked card, or why a decline isn't a lock."""
    cards = outcome.cards if isinstance(outcome, Cards) else []
    locked = tuple(c for c in cards if c.status == "locked")
    said = normalise(ctx.last_of_role("user") or "")
    declined = bool(_DECLINED.search(said))
    if locked and ctx.has("unlock_card"):
        offer = Frame(kind="offer_unlock", cards=locked)
        if len(locked) > 1:
            return (
                f"{listing} Would you like me to unlock one of the locked cards? Tell me which.",
                offer,
            )
        card = locked[0]
        why = ", which is why payments on it are declined" if declined else ""
        return (
            f"{listing} Your {card.network.title()} {card.kind} card ending {card.last_four} is "
            f"locked{why}. Would you like me to unlock it?",
            offer,
        )
    if declined and cards and LIST_CARDS.search(said):
        return (
            f"{listing} None of them is locked, so a lock isn't why it was declined. It may "
            "be the merchant, or the funds available: say 'balance' and I'll check it, or ask "
            "for a person."
        ), None
    return listing, None


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
