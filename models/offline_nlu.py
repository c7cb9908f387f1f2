"""Deterministic understanding of plain-English banking requests, for the offline model.

What the caller wants comes from the intent table's classifier (models/intents.py): the
table is the one place an intent is defined, by its examples. Regular expressions are kept
only where a classifier must not guess: the slot grammars (credentials, digits, cards,
dates, counts, amounts, merchants, self-corrections), yes and no, negation, and the security
checks (prompt injection, someone else's account), which stay strict and sure. No keys, no
network, no downloads, and the same answer every time."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

from .intents import INTENTS, WORDS, classify
from .offline_text import NUMBER_WORDS, normalise, spoken_number


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
    CARD_HELP = "card_help"
    TRANSACTIONS = "transactions"
    BALANCE = "balance"
    BALANCE_WHY = "balance_why"  # "why is it different?": available vs current balance
    SOMETHING_ELSE = "something_else"
    THIRD_PARTY = "third_party"
    ACCOUNT_HELP = "account_help"
    GOODBYE = "goodbye"
    GREETING = "greeting"
    THANKS = "thanks"
    MORE = "more"  # "more", "older ones", "and before that?" after a listing
    REPEAT = "repeat"  # "say that again", "repeat that"
    ABOUT = "about"  # "are you a robot?", "who am I talking to"
    FORGOT_PIN = "forgot_pin"
    OUT_OF_SCOPE = "out_of_scope"  # the intent table's honest "not here" (extras["topic"])
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
    window: tuple[date, date | None] | None = None  # [from, until) dates: "last month"
    numbers: list[str] = field(default_factory=list)  # bare digit runs (4-12 digits)
    bare_numbers: bool = False  # the utterance is just numbers ("1003", "it's 2468")
    then: Ask | None = None  # what else the caller asked for alongside their credentials
    card_hint: str | None = None  # "visa", "credit", "the second one"...
    extras: dict[str, str] = field(default_factory=dict)


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


YES = _rx(
    r"^\W*(?:yes|yeah|yea|yep|yup|ya|yah|sure|ok(?:ay)?|k|alright|all right|please do|"
    r"do it|go ahead|go for it|confirm(?:ed)?|correct|right|exactly|that's right|"
    r"that is right|that's correct|that's the one|that one|absolutely|definitely|"
    r"of course|affirmative|please|sounds good|fine|i do|i would|yes i do)\b"
)
NO = _rx(
    r"^\W*(?:no|nope|nah|no way|don't|do not|dont|cancel|stop|never ?mind|nevermind|"
    r"not now|not yet|leave it|hold on|wait|negative|actually no|no thanks)\b|"
    r"\b(?:no wait|wait,? no|don'?t do (?:it|that)|never ?mind|cancel that|forget (?:it|that)|"
    r"scratch that|changed my mind|don'?t bother)\b|\b(?:don'?t|do not)\W*$"
)
# Someone else's money: "what's Ben's balance", "my wife's card", "his customer number".
THIRD_PARTY = _rx(
    r"\b(?:his|her|their|(?:wife|husband|partner|son|daughter|mom|mum|mother|dad|father|friend|"
    r"brother|sister|boss|roommate|grandma|grandpa|grandmother|grandfather)'?s|"
    r"(?!(?:what|it|that|there|here|who|let|today|yesterday|month|week|year|one|where|how|"
    r"he|she)'s)[a-z]+'s)\s+(?:\w+\s+)?(?:balances?|accounts?|cards?|transactions?|"
    r"statement|savings|checking|pin|customer number)\b|"
    r"\b(?:for|on|about) (?:my )?(?:wife|husband|partner|son|daughter|mom|mum|mother|dad|"
    r"father|friend|brother|sister)\b|\bsomeone else\b"
)
_ROLE_PREFIX = (
    r"^\W*(?:system|assistant|developer|admin(?:istrator)?|root|operator|tool|function|"
    r"instructions?)\s*(?:message|prompt|note|override|update)?\s*[:>\]|-]"
)
_ROLE_TAG = r"[\[<{]\s*/?\s*(?:system|assistant|developer|admin|inst|sys|im_start|tool)\b"
_IGNORE_RULES = (
    r"\b(?:ignore|disregard|forget|override|bypass|skip|drop)\s+(?:(?:all|your|the|any|these|"
    r"those|my|previous|prior|above|earlier|system|security|safety|of)\s+)*(?:instructions|"
    r"rules|prompts?|guidelines|polic(?:y|ies)|checks?|restrictions|guardrails|programming|"
    r"directives)\b"
)
_MODES = (
    r"\b(?:system prompt|developer mode|dev mode|admin(?:istrator)? (?:mode|access|override|"
    r"privileges?)|god mode|debug mode|maintenance mode|test mode|jailbreak|sudo|override)\b"
)
_ROLES = (
    r"admin|administrator|developer|supervisor|bank employee|employee of the bank|manager|"
    r"staff member|teller|auditor|fraud (?:supervisor|investigator|team|officer)|"
    r"security officer|police officer|law enforcement"
)
_CLAIMS = (
    rf"\b(?:as an? (?:{_ROLES})|i am (?:an? |the )?(?:{_ROLES})|i'm (?:an? |the )?(?:{_ROLES}))\b"
)
_EVERYONE = (
    r"\b(?:(?:unlock|lock|show|list|read|dump|give me|tell me|export)\s+(?:me\s+)?"
    r"(?:all|every(?:one's)?|other)\b(?!\s+(?:of\s+)?(?:my|our)\b).*"
    r"\b(?:cards|accounts|customers|balances)|"
    r"all (?:the )?customers|every customer|other customers?'?s?|another customer'?s|"
    r"someone else'?s|other people'?s|(?:dump|export) the \w+ (?:table|database))\b"
)
_SWITCH = (
    r"\b(?:pretend (?:to be|you are|you're)|you are now|you're now|from now on you|"
    r"act as (?:an?|the|if)|role-?play|let'?s play a game|new instructions|"
    r"principal (?:is|switched|changed|set|switch)|(?:switch|change) (?:the )?(?:principal|"
    r"identity|session|user|caller|customer) to|caller is (?:now )?(?:verified|authenticated)|"
    r"(?:verified|authenticated) as customer|mark (?:me|the caller|this call) as verified|"
    r"skip (?:the )?verification|without (?:a |my |the )?(?:pin|verification|verifying))\b"
)
INJECTION = _rx(
    "|".join((_ROLE_PREFIX, _ROLE_TAG, _IGNORE_RULES, _MODES, _CLAIMS, _EVERYONE, _SWITCH))
)
# "don't lock it, just dispute it": the lock is what the caller turns down, not the dispute.
NEGATED_LOCK = _rx(
    r"\b(?:don'?t|do not|not|no|without|never|no need to)\s+(?:\w+\s+){0,2}?"
    r"(?:lock|freez|block|cancel)\w*"
)
# A card action turned down is not asked for: it is left out before the classifier reads.
NEGATED_ACTION = _rx(
    r"\b(?:don'?t|do not|not|without|never|no need to)\s+(?:\w+\s+){0,2}?"
    r"(?:un)?(?:lock|freez|block|cancel|disput)\w*(?:\s+(?:it|that|them|this))?"
)
_NEGATION = _rx(r"\b(?:don'?t|do not|not|never|stop|leave)\b")
_CLAUSE = _rx(r"[,.;!?]+|\b(?:and|then|also|but|plus)\b")


class _Asks:
    """`BALANCE.search(text)`: does any clause of the text ask for this intent? The
    classifier's reading, behind the name the dialogue uses to spot a second request."""

    def __init__(self, *intents: str) -> None:
        self._intents = intents

    def search(self, text: str) -> bool:
        clauses = _CLAUSE.split(normalise(text))
        return any(_intent_of(c)[0] in self._intents for c in clauses)


LOCK, BALANCE = _Asks("lock"), _Asks("balance")
TRANSACTIONS, LIST_CARDS = _Asks("transactions"), _Asks("list_cards")
DISPUTE = _Asks("dispute")

_CUSTOMER_NUMBER = _rx(
    r"\b(?:customer|client|member|account)\s*(?:number|no\.?|#|id)?(?:'s)?\s*"
    r"(?:is|:|=)?\s*(\d[\d\s-]{2,14}\d)\b|\bi'?m customer\s*(\d{4,12})\b|"
    r"\bi am customer\s*(\d{4,12})\b|\bmy number(?:'s| is)?\s*(\d{4,12})\b|"
    r"\bnumber(?:'s| is)\s*(\d{4,12})\b"
)
_PIN = _rx(
    r"\b(?:pin|passcode|pin code|pin number|security code|password)(?:'s)?\s*"
    r"(?:is|:|=|number is|code is)?\s*(\d[\d\s-]{2,10}\d)\b"
)
_NUMBERS = re.compile(r"(?<![\d$.])\d{4,12}(?![\d])")
_LAST_FOUR = _rx(
    r"\b(?:ending(?: in| with)?|ends (?:in|with)|last (?:four|4)(?: digits)?"
    r"(?: are| is| of)?)\s*(\d{4})\b|\bcard\s+(\d{4})\b|\b(\d{4})\s+card\b"
)
_N = r"(\d{1,3}|" + NUMBER_WORDS + r")"
_TXN_NOUN = r"(?:transactions?|charges?|purchases?|payments?|items?|debits?|entries)"
_COUNT = _rx(
    rf"\b(?:last|latest|recent|past|previous|most recent|top)\s+{_N}(?=\s+{_TXN_NOUN}|\s*[?.!]?"
    rf"\s*$|\s+(?:please|on|at|from|over|for)\b)|\b{_N}\s+(?:most\s+)?(?:recent\s+|latest\s+|"
    rf"last\s+)?{_TXN_NOUN}"
)
_SINGLE = _rx(r"\b(?:last|latest|most recent)\s+(?:transaction|charge|purchase|payment)\b")
_DAYS = _rx(r"\b(?:last|past|previous)\s+" + _N + r"\s+days?\b")
_WEEKS = _rx(r"\b(?:last|past|previous)\s+" + _N + r"\s+weeks?\b")
_WEEK = _rx(r"\b(?:last|past) (?:week|seven days)\b|\bthis week\b")
_LAST_MONTH = _rx(r"\b(?:last|previous) month\b")  # the previous calendar month
_PAST_MONTH = _rx(r"\b(?:past|recent) month\b")  # the last 31 days
_THIS_MONTH = _rx(r"\bthis month\b")
_TODAY = _rx(r"\btoday\b")
_YESTERDAY = _rx(r"\byesterday\b")
_CARD_HINT = _rx(
    r"\b(visa|master ?card|amex|american express|discover|debit|credit|first|second|other|"
    r"top|bottom|locked|active)\b"
)
_MIN_AMOUNT = _rx(
    r"\b(?:over|above|more than|at least|bigger than|larger than|greater than)\s*"
    r"\$?\s*(\d[\d,]*(?:\.\d{1,2})?)\s*(?:dollars|bucks|usd)?"
)
_MERCHANT_AT = _rx(
    r"\b(?:at|from|with|to|by)\s+([A-Za-z0-9&'][A-Za-z0-9&' .-]{0,40}?)"
    r"(?=\s+(?:charges?|transactions?|purchases?|payments?|in|on|over|this|last|"
    r"for|recently|lately|yesterday|today|i|that|which|who|was|is|isn't|wasn't|didn't|"
    r"please|and|but|because|one)\b|[?.!,;]|$)"
)
_MERCHANT_BEFORE = _rx(
    r"\b(?:the|that|this|an?|my)\s+([A-Za-z0-9&'][A-Za-z0-9&'.-]{1,30}"
    r"(?:\s+[A-Za-z0-9&'.-]{2,30})?)\s+(?:charges?|transactions?|purchases?|"
    r"payments?|debits?|one|rides?|trips?|orders?|subscriptions?|bills?|thing|place|store|"
    r"shop)\b"
)
# "did I pay netflix this month": the one word paid, never a pronoun or a filler.
_MERCHANT_PAID = _rx(
    r"\b(?:pay|paid)\s+(?!(?:for|my|the|it|them|anything|anyone|something|any|me|you|"
    r"back|off|with|in|by|on|at|to|a|an)\b)([a-z][\w&'-]{1,30})\b"
)
# "show me uber transactions", "any netflix charges", "amazon purchases this month": one
# word, checked last and against more words that describe transactions rather than name a
# merchant ("show me older transactions", "any five charges").
_MERCHANT_BARE = _rx(
    r"(?:\b(?:me|any)\s+|^)([A-Za-z][A-Za-z0-9&'.-]{1,30})\s+(?:charges?|transactions?|"
    r"purchases?|payments?|rides?|orders?|subscriptions?|bills?)\b"
)
_ACCOUNT_WORDS = (
    ("credit_card", _rx(r"\bcredit(?: card)?\b")),
    ("savings", _rx(r"\bsavings?\b")),
    ("checking", _rx(r"\bchecking|current account\b")),
)


_FILLER = _rx(
    r"\b(?:yes|yeah|yep|ok(?:ay)?|sure|so|um+|uh+|er+|oh|it'?s|it is|that'?s|that is|my|"
    r"the|number|no\.|customer|client|member|account|id|is|and|then|here|you go|go|sorry|"
    r"i mean|try|again|maybe|oops|how about|instead|"
    r"right|fine|thanks?|thank you|please|pin|code|passcode)\b|[^\w\s]"
)
_CARD_ACTIONS = {Ask.LOCK, Ask.UNLOCK, Ask.LOST, Ask.STOLEN, Ask.DISPUTE}
_FOLLOW_UP = _rx(r"^\W*(?:what about|how about|and|any|anything|only|just|show me)\b")
# "my PIN is 1234", "customer [number]": what gives credentials asks for nothing.
_CREDENTIALS = _rx(
    r"\b(?:(?:customer|client|member|account)\s*(?:number|no\.?|#|id)?|pin(?: code| number)?|"
    r"passcode|password|security code|number)(?:'s)?\s*(?:is|:|=)?\s*(?:\d[\d\s-]*|\[[^\]]*\])|"
    r"\[(?:number|pin redacted)\]|(?<![\d$.])\d{4,12}(?!\d)"
)
_SMALL_TALK = {
    None, Ask.GREETING, Ask.THANKS, Ask.ABOUT, Ask.REPEAT, Ask.SOMETHING_ELSE, Ask.FORGOT_PIN,
    Ask.ACCOUNT_HELP,
}  # fmt: skip
_ASKS = {a.value: a for a in Ask}
_DATA_ASKS = {
    Ask.HUMAN, Ask.SUSPICIOUS, Ask.STOLEN, Ask.LOST, Ask.UNLOCK, Ask.LIST_CARDS, Ask.LOCK,
    Ask.DISPUTE, Ask.BALANCE, Ask.TRANSACTIONS, Ask.CARD_HELP,
}  # fmt: skip


def understand(text: str) -> Understanding:
    """Classify one caller utterance and pull out the slots a tool call needs."""
    t = normalise(text)
    u = Understanding(Ask.UNKNOWN)
    u.extras["text"] = t
    _slots(t, u)
    u.ask = _decide(t, u)
    _self_correction(t, u)
    return u


_CORRECTED = _rx(r"\b(?:no wait|wait,? no|no,? sorry|sorry,? i mean|i mean|i meant|make that|"
                 r"or rather|no,? actually)\b")  # fmt: skip


def corrected(text: str) -> str:
    """The words after the caller's last self-correction ("the debit card, no wait, the
    credit card" -> "the credit card"); the whole text when there is none."""
    found = list(_CORRECTED.finditer(text))
    return text[found[-1].end() :] if found and found[-1].start() > 0 else text


def _self_correction(t: str, u: Understanding) -> None:
    """'Lock the debit card, no wait, the credit card': the card (or account) named after
    the correction is the one meant; the request stays the one before it."""
    if (after := corrected(t)) == t:
        return
    tail = Understanding(Ask.UNKNOWN)
    _slots(after, tail)
    if tail.card_hint or tail.card_last_four:
        u.card_hint, u.card_last_four = tail.card_hint, tail.card_last_four
    if tail.account:
        u.account = tail.account


def _intent_of(text: str) -> tuple[str | None, Ask | None]:
    """The table's intent for these words, when the classifier is sure of one."""
    guess = classify(text)
    intent = INTENTS.get(guess.intent)
    if intent is None or not guess.sure:
        return None, None
    if intent.answer:
        return intent.name, Ask.OUT_OF_SCOPE
    return intent.name, _ASKS.get(intent.name)  # None: `other`, nothing this line does


def _intent(t: str, u: Understanding) -> Ask | None:
    """What the caller wants, read by the classifier, leaving out credentials and the card
    actions the caller turned down ("don't lock it, just dispute it")."""
    text = NEGATED_ACTION.sub(" ", t)
    while (m := YES.search(text)) is not None and m.end() > 0:
        text = text[m.end() :]  # "yes, dispute it": the yes is grammar, the rest a request
    if (bare := _CREDENTIALS.sub(" ", text)) != text and not _FILLER.sub(" ", bare).strip():
        return None  # only credentials ("my PIN is 1234", "sorry, try 2222")
    text = bare
    tail = corrected(text)  # "balance, no wait, transactions"; "lock it... no wait, don't"
    if NO.search(tail) or _intent_of(tail)[0]:
        text = tail  # what the caller corrected to replaces what came before
    name, main = _intent_of(text)
    # A clause that is only a yes or a no ("hold on", "cancel that") is grammar, not a request.
    clauses = [_intent_of(c) for c in _CLAUSE.split(text) if YES.sub("", NO.sub("", c)).strip()]
    if main is Ask.FORGOT_PIN or any(a is Ask.FORGOT_PIN for _, a in clauses):
        u.extras["forgot_pin"] = "yes"
    # A request in any clause comes before small talk around it; of several, the most urgent
    # ("my card was stolen, and my balance?"), then the first said. The dialogue takes up the
    # others after it.
    asks = [(n, a) for n, a in (*clauses, (name, main)) if n and a not in _SMALL_TALK]
    if len({a for _, a in asks}) > 1:  # several: the most urgent, then the first said
        name, main = max(asks, key=lambda ask: INTENTS[ask[0] or ""].urgency)
    elif asks:
        name, main = asks[-1]
    if main is Ask.OUT_OF_SCOPE and name:
        u.extras["topic"] = name
    if main is Ask.MORE and (u.merchant or u.days_back or u.count):
        return Ask.TRANSACTIONS  # "more uber charges"
    if main in _SMALL_TALK and (
        u.count or u.days_back or u.min_amount is not None or (u.merchant and _FOLLOW_UP.search(t))
    ):
        return Ask.TRANSACTIONS  # "the last 5", "over 100?", "what about at Amazon"
    return main


def _decide(t: str, u: Understanding) -> Ask:
    if INJECTION.search(t):
        u.then = _intent(t, u)
        return Ask.INJECTION
    if THIRD_PARTY.search(t):
        return Ask.THIRD_PARTY
    main = _intent(t, u)
    if u.pin or (u.customer_number and main not in _DATA_ASKS):
        u.then = main
        return Ask.VERIFY
    if u.numbers and not _FILLER.sub(" ", _NUMBERS.sub(" ", t)).strip():
        u.bare_numbers = True
        return Ask.VERIFY
    if YES.search(t) and main is None:
        return Ask.YES
    if (
        (NO.search(t) or NEGATED_ACTION.search(t))  # "I don't want to lock it"
        and not (main is None and _card_choice(t, u))
        and (
            main in (None, Ask.GOODBYE)
            or (main in _CARD_ACTIONS - {Ask.DISPUTE} and _NEGATION.search(t))
            or (len(t.split()) <= 3 and not re.search(r"\bcards?\b", t, re.IGNORECASE))
        )
    ):
        return Ask.NO
    return main or Ask.UNKNOWN


def _card_choice(t: str, u: Understanding) -> bool:
    """'No, the other card', 'no, the credit one': a different card, not a no."""
    return bool(
        (u.card_hint or u.card_last_four)
        and re.search(r"\b(?:cards?|one|ending)\b|\b\d{4}\b", t, re.IGNORECASE)
    )


def _clamped(word: str, low: int, high: int, times: int = 1) -> int | None:
    n = spoken_number(word)
    return None if n is None else max(low, min(high, n * times))


def _slots(t: str, u: Understanding) -> None:
    if m := _CUSTOMER_NUMBER.search(t):
        raw = next(g for g in m.groups() if g)
        u.customer_number = re.sub(r"\D", "", raw)
    if m := _PIN.search(t):
        u.pin = re.sub(r"\D", "", m.group(1))
    numbers = _NUMBERS.findall(t)
    u.numbers = numbers
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
        u.count = _clamped(m.group(1) or m.group(2), 1, 20)
    elif _SINGLE.search(t):
        u.count = 1
    today = datetime.now(UTC).date()
    if m := _DAYS.search(t):
        u.days_back = _clamped(m.group(1), 1, 366)
    elif m := _WEEKS.search(t):
        u.days_back = _clamped(m.group(1), 1, 366, times=7)
    elif _WEEK.search(t):
        u.days_back = 7
    elif _PAST_MONTH.search(t):
        u.days_back = 31
    elif _THIS_MONTH.search(t):
        u.window = (today.replace(day=1), None)
    elif _LAST_MONTH.search(t):
        first = today.replace(day=1)
        u.window = ((first - timedelta(days=1)).replace(day=1), first)
    elif _YESTERDAY.search(t):
        u.window = (today - timedelta(days=1), today)
    elif _TODAY.search(t):
        u.window = (today, None)
    if u.window is not None:
        # The tool reads whole days back from now; the listing is cut to the window after.
        u.days_back = (today - u.window[0]).days + 1
    if m := _CARD_HINT.search(t):
        u.card_hint = m.group(1).lower().replace(" ", "")
    if m := _MIN_AMOUNT.search(t):
        u.min_amount = float(m.group(1).replace(",", ""))
    u.merchant = _merchant(t)


_SOME = _rx(r"^(?:some|an?|the|one of those|one of the)\s+(?=\w+\s+(?:place|store|shop)\b)")
_LEADING_RECENCY = _rx(r"^(?:(?:last|latest|recent|most recent|newest)\s+)+")
# "did I spend anything on uber": one word after "on", never an account, card or time.
_MERCHANT_ON = _rx(
    r"\bon\s+(?!(?:my|the|a|an|it|that|this|checking|savings|credit|debit|card|account|"
    r"today|yesterday|weekends?|sunday|saturday|monday|tuesday|wednesday|thursday|friday|"
    r"hold|file|time|purpose)\b)([a-z][\w&'-]{1,30})(?=\s*(?:recently|lately|this|last|"
    r"today|yesterday|\?|$|[.!,]))"
)


_NOT_MERCHANTS = WORDS["not_merchants"] | WORDS["not_merchant_phrases"]
_ARTICLES, _VERBS, _PLACE_WORDS = WORDS["articles"], WORDS["verbs"], WORDS["place_words"]


def _distinctive(candidate: str) -> str:
    words = candidate.split()
    kept = [w for w in words if w.lower() not in _PLACE_WORDS]
    return " ".join(kept) if kept else candidate


def _merchant(t: str) -> str | None:
    for rx in (_MERCHANT_BEFORE, _MERCHANT_AT, _MERCHANT_ON, _MERCHANT_PAID):
        for m in rx.finditer(t):
            candidate = _LEADING_RECENCY.sub("", m.group(1)).strip(" .'-")
            candidate = _SOME.sub("", candidate)  # "from some coffee place"
            words = candidate.lower().split()
            if not words or candidate.lower() in _NOT_MERCHANTS or words[0] in _NOT_MERCHANTS:
                continue
            if words[-1] in _ARTICLES or words[0] in _VERBS:
                continue  # "to dispute a charge", "to check the payments"
            if re.fullmatch(r"\$?[\d\s.,]+(?:dollars?|bucks|usd)?", candidate, re.IGNORECASE):
                continue
            if spoken_number(candidate) is not None:
                continue  # "my last ten transactions": a count, not a merchant
            return _distinctive(candidate)[:40]
    for m in _MERCHANT_BARE.finditer(t):
        word = m.group(1).strip(" .'-").lower()
        if (
            word
            and word not in _NOT_MERCHANTS
            and word not in WORDS["not_bare_merchants"]
            and spoken_number(word) is None
            and word not in _ARTICLES
            and word not in _VERBS
        ):
            return m.group(1).strip(" .'-")[:40]
    return None
