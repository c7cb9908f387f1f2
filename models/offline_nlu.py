"""Deterministic understanding of plain-English banking requests, for the offline model.

Small, explicit regular expressions instead of an ML model: the offline model must run with
no keys, no network and no downloads, and behave the same way every time."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum


class Ask(StrEnum):
    YES = "yes"
    NO = "no"
    HUMAN = "human"
    INJECTION = "injection"
    VERIFY = "verify"
    SUSPICIOUS = "suspicious"
    LOST = "lost"
    STOLEN = "stolen"
    UNLOCK = "unlock"
    LOCK = "lock"
    DISPUTE = "dispute"
    LIST_CARDS = "list_cards"
    TRANSACTIONS = "transactions"
    BALANCE = "balance"
    SOMETHING_ELSE = "something_else"
    GOODBYE = "goodbye"
    GREETING = "greeting"
    UNKNOWN = "unknown"


@dataclass
class Understanding:
    ask: Ask
    customer_number: str | None = None
    pin: str | None = None
    card_last_four: str | None = None
    account: str | None = None  # checking | savings | credit_card
    count: int | None = None
    days_back: int | None = None
    merchant: str | None = None
    min_amount: float | None = None
    extras: dict[str, str] = field(default_factory=dict)


_WORD_NUMBERS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "fifteen": 15,
    "twenty": 20,
}


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


YES = _rx(
    r"^\s*(?:yes|yeah|yep|yup|sure|ok(?:ay)?|please do|do it|go ahead|confirm(?:ed)?|"
    r"correct|that's right|that is right|absolutely|definitely|please)\b"
)
NO = _rx(r"^\s*(?:no|nope|nah|don't|do not|cancel|stop|never mind|not now|leave it)\b")
HUMAN = _rx(
    r"\b(?:human|real person|a person|someone real|representative|operator|advisor|"
    r"adviser|speak to (?:someone|somebody|an? agent)|talk to (?:someone|somebody|an? "
    r"agent)|live agent|customer service agent)\b"
)
INJECTION = _rx(
    r"\b(?:ignore (?:all |your |the |any )?(?:previous |prior )?(?:instructions|rules|"
    r"prompt)|system prompt|developer mode|jailbreak|as an? (?:admin|administrator|"
    r"developer|supervisor|bank employee|manager)|i am (?:an? )?(?:admin|"
    r"administrator|developer)|(?:unlock|lock|show) (?:all|every(?:one's)?) "
    r"(?:the )?(?:cards|accounts|customers)|all customers|override|sudo|"
    r"pretend (?:to be|you are)|you are now)\b"
)
SUSPICIOUS = _rx(
    r"\b(?:don'?t recogni[sz]e|do not recogni[sz]e|didn'?t (?:make|authori[sz]e|buy)|"
    r"did not (?:make|authori[sz]e)|not mine|wasn'?t me|was not me|fraud(?:ulent)?|"
    r"suspicious|unauthori[sz]ed|never made|unknown charge|weird charge|strange "
    r"charge|no idea what)\b"
)
STOLEN = _rx(r"\b(?:stolen|stole|theft|pickpocket(?:ed)?|robbed)\b")
LOST = _rx(r"\b(?:lost|lose|missing|can'?t find|cannot find|misplaced)\b")
UNLOCK = _rx(
    r"\b(?:unlock|unfreeze|unblock|reactivate|re-activate|turn (?:it |my card )?back on)\b"
)
LOCK = _rx(
    r"\b(?:lock|freeze|block|suspend|turn off|disable|stop)\b.*\b(?:card|it)\b|"
    r"\b(?:lock|freeze|block)\b"
)
DISPUTE = _rx(r"\b(?:dispute|chargeback|charge back|refund)\b")
LIST_CARDS = _rx(
    r"\b(?:my cards|which cards|what cards|card status|cards? (?:do i|i) have|"
    r"status of my card|is my card (?:locked|active|blocked))\b"
)
TRANSACTIONS = _rx(
    r"\b(?:transactions?|charges?|spent|spend|spending|purchases?|payments?|"
    r"activity|statement|history|deposits?|paid|bought|debits?)\b"
)
BALANCE = _rx(
    r"\b(?:balances?|how much (?:money )?(?:do i have|is in|have i got)|available|"
    r"credit limit|available credit|owe|funds|money in)\b"
)
SOMETHING_ELSE = _rx(
    r"\b(?:something else|another (?:thing|question)|other (?:thing|question)|"
    r"different (?:thing|question)|go back|main menu|start over|front desk)\b"
)
GOODBYE = _rx(
    r"\b(?:bye|goodbye|that'?s all|that is all|that'?s it|nothing else|no thanks|"
    r"no thank you|all good|i'?m done|i am done|we'?re done|have a good)\b"
)
GREETING = _rx(r"^\s*(?:hi|hello|hey|good (?:morning|afternoon|evening))\b")

_CUSTOMER_NUMBER = _rx(
    r"\b(?:customer|client|member|account)\s*(?:number|no\.?|#|id)?\s*"
    r"(?:is|:|=)?\s*(\d[\d\s-]{2,14}\d)\b|\bi'?m customer\s*(\d{4,12})\b|"
    r"\bi am customer\s*(\d{4,12})\b"
)
_PIN = _rx(
    r"\b(?:pin|passcode|pin code|pin number)\s*(?:is|:|=|number is)?\s*(\d[\d\s-]{2,10}\d)"
    r"\b"
)
_NUMBERS = re.compile(r"(?<![\d$.])\d{4,12}(?![\d])")
_LAST_FOUR = _rx(
    r"\b(?:ending(?: in| with)?|ends (?:in|with)|last (?:four|4)(?: digits)?"
    r"(?: are| is| of)?)\s*(\d{4})\b|\bcard\s+(\d{4})\b|\b(\d{4})\s+card\b"
)
_COUNT = _rx(
    r"\b(?:last|latest|recent|past|previous|most recent)\s+(\d{1,2}|"
    + "|".join(_WORD_NUMBERS)
    + r")\s+(?:transactions?|charges?|purchases?|payments?|items?)"
)
_SINGLE = _rx(r"\b(?:last|latest|most recent)\s+(?:transaction|charge|purchase|payment)\b")
_DAYS = _rx(r"\b(?:last|past|previous)\s+(\d{1,3}|" + "|".join(_WORD_NUMBERS) + r")\s+days?\b")
_WEEK = _rx(r"\b(?:this|last|past) week\b")
_MONTH = _rx(r"\b(?:this|last|past) month\b")
_TODAY = _rx(r"\btoday\b")
_MIN_AMOUNT = _rx(
    r"\b(?:over|above|more than|at least|bigger than|larger than|greater than)\s*"
    r"\$?\s*(\d[\d,]*(?:\.\d{1,2})?)\s*(?:dollars|bucks|usd)?"
)
_MERCHANT_AT = _rx(
    r"\b(?:at|from|with|to|by)\s+([A-Za-z0-9&'][A-Za-z0-9&' .-]{0,40}?)"
    r"(?=\s+(?:charges?|transactions?|purchases?|payments?|in|on|over|this|last|"
    r"for|recently|lately|yesterday|today)\b|[?.!,;]|$)"
)
_MERCHANT_BEFORE = _rx(
    r"\b(?:the|that|this|an?|my)\s+([A-Za-z0-9&'][A-Za-z0-9&'.-]{1,30}"
    r"(?:\s+[A-Za-z0-9&'.-]{2,30})?)\s+(?:charges?|transactions?|purchases?|"
    r"payments?|debits?)\b"
)
_NOT_MERCHANTS = {
    "recent",
    "last",
    "latest",
    "my",
    "the",
    "a",
    "an",
    "any",
    "big",
    "large",
    "suspicious",
    "pending",
    "that",
    "this",
    "credit",
    "card",
    "debit",
    "weird",
    "strange",
    "unknown",
    "new",
    "all",
    "those",
    "these",
    "some",
    "me",
    "you",
    "it",
    "them",
    "least",
    "most",
    "first",
    "checking",
    "savings",
    "account",
    "recent card",
    "credit card",
    "debit card",
    "one",
    "person",
    "someone",
    "agent",
    "human",
    "the front desk",
    "greeter",
    "something",
    "odd",
    "small",
    "huge",
    "online",
    "other",
    "second",
    "third",
}
_ACCOUNT_WORDS = (
    ("credit_card", _rx(r"\bcredit(?: card)?\b")),
    ("savings", _rx(r"\bsavings?\b")),
    ("checking", _rx(r"\bchecking|current account\b")),
)


def understand(text: str) -> Understanding:
    """Classify one caller utterance and pull out the slots a tool call needs."""
    t = " ".join(text.strip().split())
    u = Understanding(Ask.UNKNOWN)
    _slots(t, u)
    u.ask = _classify(t, u)
    return u


def _classify(t: str, u: Understanding) -> Ask:
    if INJECTION.search(t):
        return Ask.INJECTION
    if YES.search(t) and len(t) < 40 and not (LOCK.search(t) and "?" in t):
        return Ask.YES
    if NO.search(t) and len(t) < 40:
        return Ask.NO
    if HUMAN.search(t):
        return Ask.HUMAN
    if u.pin or (u.customer_number and not (TRANSACTIONS.search(t) or BALANCE.search(t))):
        return Ask.VERIFY
    if SUSPICIOUS.search(t):
        return Ask.SUSPICIOUS
    if STOLEN.search(t):
        return Ask.STOLEN
    if LOST.search(t) and re.search(r"\bcard|wallet|purse\b", t, re.IGNORECASE):
        return Ask.LOST
    if UNLOCK.search(t):
        return Ask.UNLOCK
    if LIST_CARDS.search(t):
        return Ask.LIST_CARDS
    if LOCK.search(t) and re.search(r"\bcards?\b|\bit\b", t, re.IGNORECASE):
        return Ask.LOCK
    if DISPUTE.search(t):
        return Ask.DISPUTE
    if BALANCE.search(t) and not re.search(r"\btransactions?\b", t, re.IGNORECASE):
        return Ask.BALANCE
    if TRANSACTIONS.search(t):
        return Ask.TRANSACTIONS
    if SOMETHING_ELSE.search(t):
        return Ask.SOMETHING_ELSE
    if GOODBYE.search(t):
        return Ask.GOODBYE
    if GREETING.search(t):
        return Ask.GREETING
    if LOCK.search(t):
        return Ask.LOCK
    return Ask.UNKNOWN


def _to_int(word: str) -> int:
    return int(word) if word.isdigit() else _WORD_NUMBERS.get(word.lower(), 3)


def _slots(t: str, u: Understanding) -> None:
    if m := _CUSTOMER_NUMBER.search(t):
        raw = next(g for g in m.groups() if g)
        u.customer_number = re.sub(r"\D", "", raw)
    if m := _PIN.search(t):
        u.pin = re.sub(r"\D", "", m.group(1))
    numbers = _NUMBERS.findall(t)
    if u.customer_number is None and u.pin is None and len(numbers) >= 2:
        u.customer_number, u.pin = numbers[0], numbers[1]
    elif u.customer_number and u.pin is None:
        rest = [n for n in numbers if n != u.customer_number]
        if rest and re.search(r"\bpin|and\b", t, re.IGNORECASE):
            u.pin = rest[0]
    elif u.pin and u.customer_number is None:
        rest = [n for n in numbers if n != u.pin]
        if rest:
            u.customer_number = rest[0]
    if m := _LAST_FOUR.search(t):
        u.card_last_four = next(g for g in m.groups() if g)
    for name, rx in _ACCOUNT_WORDS:
        if rx.search(t):
            u.account = name
            break
    if m := _COUNT.search(t):
        u.count = max(1, min(20, _to_int(m.group(1))))
    elif _SINGLE.search(t):
        u.count = 1
    if m := _DAYS.search(t):
        u.days_back = max(1, min(366, _to_int(m.group(1))))
    elif _WEEK.search(t):
        u.days_back = 7
    elif _MONTH.search(t):
        u.days_back = 31
    elif _TODAY.search(t):
        u.days_back = 1
    if m := _MIN_AMOUNT.search(t):
        u.min_amount = float(m.group(1).replace(",", ""))
    u.merchant = _merchant(t)


def _merchant(t: str) -> str | None:
    for rx in (_MERCHANT_BEFORE, _MERCHANT_AT):
        for m in rx.finditer(t):
            candidate = m.group(1).strip(" .'-")
            words = candidate.lower().split()
            if not words or candidate.lower() in _NOT_MERCHANTS or words[0] in _NOT_MERCHANTS:
                continue
            if re.fullmatch(r"[\d\s$.,]+", candidate):
                continue
            return candidate[:40]
    return None
