"""Slots filled across turns, for the offline model: the customer number and PIN given over
several turns, which card the caller means ("the visa", "my credit card", "both"), and which
of the charges just read out ("the ZX one", "the 389 dollar one", "the second one").

Resolved only against what the tools read out, never against anything made up. Identity is
decided by verify_identity in code, card ownership by the card tools."""

from __future__ import annotations

import re
from dataclasses import dataclass

from agents.render import describe_transaction
from tools.outcomes import AnyOutcome, CardView, Refused, Transactions

from .offline_context import Context, args_of, outcome_of, wanted
from .offline_nlu import Ask, Understanding, corrected, understand
from .offline_text import normalise


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


NETWORKS = {"visa": "visa", "mastercard": "mastercard", "master card": "mastercard",
            "amex": "amex", "american express": "amex", "discover": "discover"}  # fmt: skip
NETWORK = _rx(r"\b(" + "|".join(NETWORKS) + r")\b")
_KIND = _rx(r"\b(debit|credit)\b")
_ORDINALS = {"first": 0, "1st": 0, "top": 0, "second": 1, "2nd": 1, "third": 2, "3rd": 2,
             "fourth": 3, "4th": 3, "fifth": 4, "5th": 4}  # fmt: skip
_ORDINAL = _rx(r"\b(" + "|".join(_ORDINALS) + r")\b")
_LAST_ONE = _rx(r"\b(?:last|bottom) one\b")
_ALL_CARDS = _rx(
    r"\b(?:both|all of them|all (?:of )?(?:the|my|our) cards|all cards|each of them|"
    r"every (?:single )?card|each card|every one of them|the two of them|all (?:two|three) of "
    r"them)\b|^\W*(?:all|all (?:two|three)|everything|all of it|every one)\W*(?:please)?\W*$"
)
_DIGITS = re.compile(r"(?<![\d$.])\d{4,12}(?!\d)")
CARD_ACTIONS = (Ask.LOCK, Ask.UNLOCK, Ask.LOST, Ask.STOLEN)


def _position(items: list[Listed] | list[CardView], text: str) -> int | None:
    """'The second one', 'the last one': an index into what was read out."""
    if m := _ORDINAL.search(text):
        index = _ORDINALS[m.group(1).lower()]
        return index if index < len(items) else None
    return len(items) - 1 if _LAST_ONE.search(text) else None


# -- cards ------------------------------------------------------------------------------------


def means_all_cards(text: str) -> bool:
    return bool(_ALL_CARDS.search(text))


def all_cards_requested(ctx: Context) -> bool:
    """The caller's latest card request, or an answer since, covers every card ("my wallet
    was stolen with all my cards in it", then "both")."""
    said = ctx.user_messages()
    for n in range(len(said) - 1, -1, -1):
        if wanted(ctx.heard[n]) in CARD_ACTIONS:
            return any(means_all_cards(text) for text in said[n:])
    return False


def cards_in(outcome: AnyOutcome | None) -> list[CardView]:
    found = getattr(outcome, "cards", None) or []
    card = getattr(outcome, "card", None)
    return [*found, card] if isinstance(card, CardView) else list(found)


def cards_mentioned(ctx: Context) -> list[CardView]:
    """Cards the card tools read out in this desk's context, newest first."""
    seen: dict[str, CardView] = {}
    for item in reversed(ctx.items):
        for card in cards_in(outcome_of(item)):
            seen.setdefault(card.last_four, card)
    return list(seen.values())


def choose_card(cards: list[CardView], u: Understanding, text: str) -> str | None:
    """The last four digits of the one card the caller's words point to, or None."""
    if not cards:
        return None
    text = corrected(normalise(text))  # "the debit card, no wait, the credit card"
    digits = [u.card_last_four] if u.card_last_four else []
    for number in digits + _DIGITS.findall(text):
        if found := next((c for c in cards if number.endswith(c.last_four)), None):
            return found.last_four
    candidates, network, kind = cards, NETWORK.search(text), _KIND.search(text)
    if network:
        candidates = [c for c in candidates if c.network == NETWORKS[network.group(1).lower()]]
    if kind:
        candidates = [c for c in candidates if c.kind == kind.group(1).lower()]
    if network or kind:  # named by network or kind (even the only card known): that one
        return candidates[0].last_four if len(candidates) == 1 else None
    index = _position(cards, text)
    return cards[index].last_four if index is not None else None


# -- credentials ------------------------------------------------------------------------------


@dataclass
class Credentials:
    customer_number: str | None = None
    pin: str | None = None
    ambiguous: bool = False  # two customers' numbers in one breath: ask again, guess nothing


_CUSTOMER_LABEL = _rx(r"\b(?:customer|client|member|account)\b")
_CORRECTION = _rx(
    r"\b(?:actually|sorry|i mean|i meant|no wait|correction|scratch that|instead|rather|oops)\b"
)


def collect_credentials(ctx: Context) -> Credentials:
    """The customer number and PIN the caller has given since the last verification try,
    in any order and over any number of turns ("1003", then "2468")."""
    found = Credentials()
    # After "don't match", the number already given is kept: "sorry, try 2222" is the PIN.
    tried = ctx.last_outcome(("verify_identity",))
    carried = None
    if tried is not None and isinstance(tried[1], Refused):
        if tried[1].reason == "credentials_mismatch":
            number = args_of(tried[0]).get("customer_number")
            carried = found.customer_number = str(number or "") or None
    for text in ctx.user_messages_since_call("verify_identity"):
        u = understand(text)
        if u.ask is Ask.INJECTION:
            continue
        numbers = [n for n in u.numbers if n != u.card_last_four]
        if len(numbers) >= 3 and len(_CUSTOMER_LABEL.findall(text)) != 1:
            if _CORRECTION.search(text) and len(numbers) >= 4:  # "1001 1234, sorry, 1002 5678"
                found = Credentials(numbers[-2], numbers[-1])
            else:
                found = Credentials(ambiguous=True)
            continue
        if numbers:
            found.ambiguous = False  # a fresh, single answer
        found.customer_number = u.customer_number or found.customer_number
        found.pin = u.pin or found.pin
        if u.bare_numbers and len(numbers) >= 2:  # a fresh pair
            found.customer_number, found.pin = numbers[-2], numbers[-1]
        elif u.bare_numbers and carried is not None and found.pin is None and len(numbers) == 1:
            if numbers[0] != carried:  # the number itself again: they are starting over
                found.pin = numbers[0]
        elif u.bare_numbers:
            for number in u.numbers:
                if found.customer_number is None:
                    found.customer_number = number
                elif found.pin is None:
                    found.pin = number
                else:  # a fresh pair: the caller is starting over
                    found.customer_number, found.pin = number, None
    return found


# -- the charges just read out ----------------------------------------------------------------


@dataclass(frozen=True)
class Listed:
    ref: int
    merchant: str
    cents: int  # positive magnitude
    is_charge: bool
    text: str  # as read out, without its reference


_THE_LAST = _rx(r"\bthe last\b")
_BIG = _rx(r"\b(?:big(?:gest)?|large(?:st)?|huge|most expensive|expensive|highest|massive)\b")
_SMALL = _rx(r"\b(?:small(?:est)?|little|cheap(?:est)?|lowest|tiny)\b")
_AMOUNT = re.compile(r"(?<![\w.])\$?(\d{1,3}(?:,\d{3})*|\d+)(?:\.(\d{1,2}))?(?![\d])")
_GENERIC = frozenset(
    "the and of online market inc co corp store shop from transfer payroll coffee hotels air "
    "lines apartments city".split()
)


def parse_listing(outcome: AnyOutcome | None) -> list[Listed]:
    """The charges a get_transactions outcome holds, in the order they were read."""
    if not isinstance(outcome, Transactions):
        return []
    return [
        Listed(t.ref, t.merchant, abs(t.amount_cents), t.amount_cents < 0, describe_transaction(t))
        for t in outcome.items
    ]


def refs_before(ctx: Context, end: object) -> set[int]:
    """The refs of every transaction read out before the item `end`."""
    refs: set[int] = set()
    for item in ctx.items:
        if item is end:
            break
        refs |= {x.ref for x in parse_listing(outcome_of(item))}
    return refs


def last_listing(ctx: Context) -> list[Listed]:
    """The charges this desk read out last; after "more", only those not read before."""
    found = ctx.last_outcome(("get_transactions",))
    if found is None:
        return []
    listed = parse_listing(found[1])
    earlier = refs_before(ctx, found[0])
    return [x for x in listed if x.ref not in earlier] or listed


def pick_charge(listed: list[Listed], text: str, *, by_position: bool = True) -> Listed | None:
    """The one listed transaction the caller's words point to, or None."""
    lowered = text.lower()
    by_name = [x for x in listed if _names(x.merchant, lowered)]
    if len(by_name) == 1:
        return by_name[0]
    said = [_cents(m) for m in _AMOUNT.finditer(lowered)]
    by_amount = [x for x in listed if any(_same_amount(x.cents, c) for c in said)]
    if len(by_amount) == 1:
        return by_amount[0]
    if not by_position or not listed:
        return None
    if (index := _position(listed, lowered)) is not None or _ORDINAL.search(lowered):
        return listed[index] if index is not None else None
    if _THE_LAST.search(lowered):
        return listed[-1]
    charges = [x for x in listed if x.is_charge]
    if charges and _BIG.search(lowered):
        return max(charges, key=lambda x: x.cents)
    return min(charges, key=lambda x: x.cents) if charges and _SMALL.search(lowered) else None


def _names(merchant: str, lowered: str) -> bool:
    name = merchant.lower()
    words = [w for w in re.findall(r"[a-z0-9&']+", name) if w not in _GENERIC and len(w) >= 2]
    return name in lowered or any(
        re.search(rf"(?<![\w']){re.escape(w)}(?![\w'])", lowered) for w in words
    )


def _cents(m: re.Match[str]) -> int:
    return int(m.group(1).replace(",", "")) * 100 + int((m.group(2) or "0").ljust(2, "0"))


def _same_amount(listed_cents: int, said_cents: int) -> bool:
    if said_cents % 100:  # "389.99": exact
        return listed_cents == said_cents
    # "389 dollars" or "390 dollars" for $389.99
    return listed_cents // 100 == said_cents // 100 or round(listed_cents / 100) * 100 == said_cents
