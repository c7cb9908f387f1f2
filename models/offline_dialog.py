"""Slot filling across turns for the offline model: a customer number and PIN given over
several turns, and which card the caller means when they say "the visa" or "my credit card".

Only routing and phrasing use this. Identity is decided by verify_identity in code; card
ownership by the card tools."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass

from tools.outcomes import AmbiguousCard, CardView, Refused

from .offline_context import Context, outcome_of
from .offline_nlu import Ask, Understanding, corrected, understand
from .offline_text import normalise

_NETWORKS = {
    "visa": "visa",
    "mastercard": "mastercard",
    "master card": "mastercard",
    "amex": "amex",
    "american express": "amex",
    "discover": "discover",
}
_NETWORK_WORDS = re.compile(r"\b(" + "|".join(_NETWORKS) + r")\b", re.IGNORECASE)
_KIND_WORDS = re.compile(r"\b(debit|credit)\b", re.IGNORECASE)
_ORDINALS = {"first": 0, "1st": 0, "top": 0, "second": 1, "2nd": 1, "third": 2, "3rd": 2}
_ORDINAL_WORDS = re.compile(r"\b(" + "|".join(_ORDINALS) + r")\b", re.IGNORECASE)
_LAST_ONE = re.compile(r"\b(?:last|bottom) one\b", re.IGNORECASE)
_ALL_CARDS = re.compile(
    r"\b(?:both|all of them|all (?:of )?(?:the|my|our) cards|all cards|each of them|"
    r"every (?:single )?card|each card|every one of them|the two of them|all (?:two|three) of "
    r"them)\b|^\W*(?:all|all (?:two|three)|everything|all of it|every one)\W*(?:please)?\W*$",
    re.IGNORECASE,
)
_CARD_ACTIONS = (Ask.LOCK, Ask.UNLOCK, Ask.LOST, Ask.STOLEN)


def means_all_cards(text: str) -> bool:
    return bool(_ALL_CARDS.search(text))


def all_cards_requested(ctx: Context) -> bool:
    """The caller's latest card request, or an answer since, covers every card ("my wallet
    was stolen with all my cards in it", then "both")."""
    said = ctx.user_messages()
    for n in range(len(said) - 1, -1, -1):
        u = understand(said[n])
        ask = u.then if u.ask is Ask.VERIFY and u.then is not None else u.ask
        if ask in _CARD_ACTIONS:
            return any(means_all_cards(text) for text in said[n:])
    return False


@dataclass(frozen=True)
class Card:
    network: str
    kind: str
    last_four: str


@dataclass
class Credentials:
    customer_number: str | None = None
    pin: str | None = None
    ambiguous: bool = False  # two customers' numbers in one breath: ask again, guess nothing


_CUSTOMER_LABEL = re.compile(r"\b(?:customer|client|member|account)\b", re.IGNORECASE)
_CORRECTION = re.compile(
    r"\b(?:actually|sorry|i mean|i meant|no wait|correction|scratch that|instead|rather|oops)\b",
    re.IGNORECASE,
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
            args = json.loads(tried[0].arguments or "{}")
            carried = found.customer_number = str(args.get("customer_number") or "") or None
    for text in ctx.user_messages_since_call("verify_identity"):
        u = understand(text)
        if u.ask is Ask.INJECTION:
            continue
        numbers = [n for n in u.numbers if n != u.card_last_four]
        labels = len(_CUSTOMER_LABEL.findall(text))
        if len(numbers) >= 3 and labels != 1:  # one labelled number: that one, as before
            if _CORRECTION.search(text) and len(numbers) >= 4:  # "1001 1234, sorry, 1002 5678"
                found = Credentials(numbers[-2], numbers[-1])
            else:
                found = Credentials(ambiguous=True)
            continue
        if numbers:
            found.ambiguous = False  # a fresh, single answer
        if u.customer_number:
            found.customer_number = u.customer_number
        if u.pin:
            found.pin = u.pin
        if u.bare_numbers and len(numbers) >= 2:  # a fresh pair
            found.customer_number, found.pin = numbers[-2], numbers[-1]
            continue
        if u.bare_numbers and carried is not None and found.pin is None and len(numbers) == 1:
            if numbers[0] != carried:  # the number itself again: they are starting over
                found.pin = numbers[0]
            continue
        if u.bare_numbers:
            for number in u.numbers:
                if found.customer_number is None:
                    found.customer_number = number
                elif found.pin is None:
                    found.pin = number
                else:  # a fresh pair: the caller is starting over
                    found.customer_number, found.pin = number, None
    return found


def request_with_credentials(ctx: Context) -> Understanding | None:
    """What the caller asked for in the same turns as their credentials, if anything
    ("customer 1002, PIN 5678, there's a charge from ZX I didn't make")."""
    for text in reversed(ctx.user_messages_since_call("verify_identity", before_latest=True)):
        u = understand(text)
        if u.ask is Ask.VERIFY and u.then is not None:
            u.ask = u.then
        if u.ask in _ACTIONABLE:
            return u
    return None


_ACTIONABLE = {
    Ask.HUMAN, Ask.SUSPICIOUS, Ask.STOLEN, Ask.LOST, Ask.UNLOCK, Ask.LIST_CARDS, Ask.LOCK,
    Ask.DISPUTE, Ask.BALANCE, Ask.TRANSACTIONS, Ask.CARD_HELP,
}  # fmt: skip


def cards_mentioned(ctx: Context) -> list[Card]:
    """Cards the card tools read out in this desk's context, newest first."""
    seen: dict[str, Card] = {}
    for item in reversed(ctx.items):
        for card in _cards_in(outcome_of(item)):
            seen.setdefault(card.last_four, card)
    return list(seen.values())


def _cards_in(outcome: object) -> list[Card]:
    views = []
    for name in ("cards", "card"):
        value = getattr(outcome, name, None)
        views += value if isinstance(value, list) else [value] if value is not None else []
    return cards_of_views(views)


def cards_of_views(views: Iterable[CardView]) -> list[Card]:
    return [Card(v.network, v.kind, v.last_four) for v in views]


def cards_of(outcome: AmbiguousCard) -> list[Card]:
    """The cards a 'which card?' outcome lists, in its order (for "the first one")."""
    return _cards_in(outcome)


def choose_card(cards: list[Card], u: Understanding, text: str) -> str | None:
    """The last four digits of the one card the caller's words point to, or None."""
    if not cards:
        return None
    text = corrected(normalise(text))  # "the debit card, no wait, the credit card"
    digits = [u.card_last_four] if u.card_last_four else []
    digits += re.findall(r"(?<![\d$.])\d{4,12}(?!\d)", text)
    for number in digits:
        for card in cards:
            if number and number.endswith(card.last_four):
                return card.last_four
    candidates = cards
    if m := _NETWORK_WORDS.search(text):
        network = _NETWORKS[m.group(1).lower()]
        candidates = [c for c in candidates if c.network == network]
    if m := _KIND_WORDS.search(text):
        candidates = [c for c in candidates if c.kind == m.group(1).lower()]
    if candidates != cards and len(candidates) == 1:
        return candidates[0].last_four
    if candidates == cards:
        if m := _ORDINAL_WORDS.search(text):
            index = _ORDINALS[m.group(1).lower()]
            return cards[index].last_four if index < len(cards) else None
        if _LAST_ONE.search(text):
            return cards[-1].last_four
    return None
