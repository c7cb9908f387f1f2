"""Deterministic understanding of plain-English banking requests, for the offline model.

What the caller wants is the intent table's classifier's reading (models/intents.py). Regexes,
built from the word lists of vocabulary.toml, are kept where a classifier must not guess: slot
grammars, yes and no, negation, and the security checks, which stay strict and sure."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

from .intents import INTENTS, TABLE, WORDS, classify
from .offline_text import NUMBER_WORDS, normalise, spoken_number, words

# What the caller asks for: an intent of the table (the value is its name; BALANCE_WHY is
# "why is available different from current?", MORE "older ones" after a listing), or what
# the grammar decides: a yes or a no, credentials (VERIFY), INJECTION, THIRD_PARTY (someone
# else's money), OUT_OF_SCOPE (the table's honest "not here", its topic in extras), UNKNOWN.
Ask = StrEnum(
    "Ask",
    "YES NO HUMAN INJECTION VERIFY SUSPICIOUS LOST STOLEN UNLOCK LOCK DISPUTE LIST_CARDS"
    " CARD_HELP TRANSACTIONS BALANCE BALANCE_WHY SOMETHING_ELSE THIRD_PARTY ACCOUNT_HELP"
    " GOODBYE GREETING THANKS MORE REPEAT ABOUT FORGOT_PIN OUT_OF_SCOPE UNKNOWN",
)


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


YES = _rx(rf"^\W*{words('yes')}\b")
NO = _rx(rf"^\W*{words('no')}\b|\b{words('take_backs')}\b|\b(?:don'?t|do not)\W*$")
# Someone else's money: "what's Ben's balance", "my wife's card", "his customer number".
_OWNER = (
    rf"(?:his|her|their|{words('relatives', 'other_owners')}'?s"
    rf"|(?!{words('not_owners')}'s)[a-z]+'s)"
)
THIRD_PARTY = _rx(
    rf"\b{_OWNER}\s+(?:\w+\s+)?{words('owned')}\b"
    rf"|\b(?:for|on|about) (?:my )?{words('relatives')}\b|\bsomeone else\b"
    r"|\b(?:customer|client|member)\s*(?:number\s*|no\.?\s*|#\s*)?\d{4,12}'s\b"  # "customer 1002's"
)
# A role's message or tag, "ignore your rules", a mode, a role claimed, another assistant or
# caller, everyone's data: strict and sure, never the classifier's guess.
_AN = r"(?:an? |the )?"
INJECTION = _rx(
    rf"(?:^|[.!?;]\s*)\W*{words('role_prefixes')}\s*(?:message|prompt|note|override|update)?\s*[:>\]|-]"
    rf"|[\[<{{]\s*/?\s*{words('role_tags')}\b"
    rf"|\b{words('ignore')}\s+(?:{words('ignore_which')}\s+)*{words('rules')}\b"
    rf"|\b(?:{words('modes')}|(?:as an? |i am {_AN}|i'm {_AN}){words('claimed_roles')}"
    rf"|{words('switches')}|(?:switch|change) (?:the )?{words('switched')} to"
    r"|without (?:a |my |the )?(?:pin|verification|verifying))\b"
    rf"|\b(?:{words('everyone_verbs')}\s+(?:me\s+)?(?:all|every(?:one's)?|other)\b"
    r"(?!\s+(?:of\s+)?(?:my|our)\b).*\b(?:cards|accounts|customers|balances)|"
    r"all (?:the )?customers|every customer|other customers?'?s?|another customer'?s|"
    r"someone else'?s|other people'?s|(?:dump|export) the \w+ (?:table|database))\b"
)
_NOT = r"(?:\w+\s+){0,2}?"  # "don't [want to] lock"
# "don't lock it, just dispute it": the lock is what the caller turns down, not the dispute.
NEGATED_LOCK = _rx(
    rf"\b(?:don'?t|do not|not|no|without|never|no need to)\s+{_NOT}(?:lock|freez|block|cancel)\w*"
)
# A card action turned down is not asked for: it is left out before the classifier reads.
NEGATED_ACTION = _rx(
    rf"\b(?:don'?t|do not|not|without|never|no need to)\s+{_NOT}"
    r"(?:un)?(?:lock|freez|block|cancel|disput)\w*(?:\s+(?:it|that|them|this))?"
)
_NEGATION = _rx(r"\b(?:don'?t|do not|not|never|stop|leave)\b")
_CLAUSE = _rx(r"[,.;!?]+|\b(?:and|then|also|but|plus)\b")


@dataclass(frozen=True)
class _Asks:
    """`BALANCE.search(text)`: does any clause of the text ask for this intent? The
    classifier's reading, behind the name the dialogue uses to spot a second request."""

    intent: str

    def search(self, text: str) -> bool:
        return any(_intent_of(c)[0] == self.intent for c in _CLAUSE.split(normalise(text)))


LOCK, BALANCE, TRANSACTIONS = _Asks("lock"), _Asks("balance"), _Asks("transactions")
LIST_CARDS, DISPUTE = _Asks("list_cards"), _Asks("dispute")

_ID = r"(?:customer|client|member|account)\s*(?:number|no\.?|#|id)?"
_CUSTOMER_NUMBER = _rx(
    rf"\b{_ID}(?:'s)?\s*(?:is|:|=)?\s*(\d[\d\s-]{{2,14}}\d)\b|\bi(?:'?m| am) customer\s*"
    r"(\d{4,12})\b|\bmy number(?:'s| is)?\s*(\d{4,12})\b|\bnumber(?:'s| is)\s*(\d{4,12})\b"
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
_N = rf"(\d{{1,3}}|{NUMBER_WORDS})"
_COUNT = _rx(
    rf"\b(?:last|latest|recent|past|previous|most recent|top)\s+{_N}(?=\s+{words('listing_nouns')}"
    rf"|\s*[?.!]?\s*$|\s+(?:please|on|at|from|over|for)\b)|\b{_N}\s+(?:most\s+)?"
    rf"(?:recent\s+|latest\s+|last\s+)?{words('listing_nouns')}"
)
_SINGLE = _rx(r"\b(?:last|latest|most recent)\s+(?:transaction|charge|purchase|payment)\b")
_DAYS = _rx(rf"\b(?:last|past|previous)\s+{_N}\s+days?\b")
_WEEKS = _rx(rf"\b(?:last|past|previous)\s+{_N}\s+weeks?\b")
_CARD_HINT = _rx(rf"\b({words('card_hints')})\b")
_MIN_AMOUNT = _rx(
    rf"\b{words('more_than')}\s*\$?\s*(\d[\d,]*(?:\.\d{{1,2}})?)\s*(?:dollars|bucks|usd)?"
)
_ACCOUNT_WORDS = (
    ("credit_card", _rx(r"\bcredit(?: card)?\b")),
    ("savings", _rx(r"\bsavings?\b")),
    ("checking", _rx(r"\bchecking|current account\b")),
)
_FILLER = _rx(rf"\b(?:um+|uh+|er+|{words('filler')})\b|[^\w\s]")
_CARD_CHOICE = _rx(
    r"\b(?:cards?|one|ending|visa|master ?card|amex|american express|discover)\b|\b\d{4}\b"
)
_FOLLOW_UP = _rx(r"^\W*(?:what about|how about|and|any|anything|only|just|show me)\b")
# "my PIN is 1234", "customer [number]": what gives credentials asks for nothing.
_CREDENTIALS = _rx(
    rf"\b(?:{_ID}|pin(?: code| number)?|passcode|password|security code|number)(?:'s)?\s*"
    r"(?:is|:|=)?\s*(?:\d[\d\s-]*|\[[^\]]*\])|\[(?:number|pin redacted)\]|(?<![\d$.])\d{4,12}(?!\d)"
)
_CORRECTED = _rx(rf"\b{words('corrections')}\b")
_ASKS = {a.value: a for a in Ask}
_KIND = {_ASKS.get(i.name): i.kind for i in TABLE if i.kind}  # None: `other`, small talk


def understand(text: str) -> Understanding:
    """Classify one caller utterance and pull out the slots a tool call needs."""
    t = normalise(text)
    u = Understanding(Ask.UNKNOWN, extras={"text": t})
    _slots(t, u)
    u.ask = _decide(t, u)
    if (after := corrected(t)) != t:
        # "Lock the debit card, no wait, the credit card": the card (or account) named after
        # the correction is the one meant; the request stays the one before it.
        _slots(after, tail := Understanding(Ask.UNKNOWN))
        if tail.card_hint or tail.card_last_four:
            u.card_hint, u.card_last_four = tail.card_hint, tail.card_last_four
        u.account = tail.account or u.account
    return u


def corrected(text: str) -> str:
    """The words after the caller's last self-correction ("the debit card, no wait, the
    credit card" -> "the credit card"); the whole text when there is none."""
    found = list(_CORRECTED.finditer(text))
    return text[found[-1].end() :] if found and found[-1].start() > 0 else text


def _intent_of(text: str) -> tuple[str | None, Ask | None]:
    """The table's intent for these words, when the classifier is sure of one."""
    guess = classify(text)
    if (intent := INTENTS.get(guess.intent)) is None or not guess.sure:
        return None, None
    # None: `other`, nothing this line does
    return intent.name, Ask.OUT_OF_SCOPE if intent.answer else _ASKS.get(intent.name)


_ASKED_ABOUT = _rx(
    r"^\W*(?:(?:ok(?:ay)?|so|and|um+)\W+)*(?:what|which|when|how much|tell me about)\b"
)
_SECRET = _rx(r"\b(?:pin|passcode|pass code|password|code|number|credentials|details)\b")


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
    if not _SECRET.search(t):  # "I don't remember taking that ride": nothing forgotten
        main = None if main is Ask.FORGOT_PIN else main
        clauses = [(n, a) for n, a in clauses if a is not Ask.FORGOT_PIN]
    if main is Ask.FORGOT_PIN or any(a is Ask.FORGOT_PIN for _, a in clauses):
        u.extras["forgot_pin"] = "yes"
    # A request in any clause comes before small talk around it; of several, the most urgent
    # ("my card was stolen, and my balance?"), then the first said. The dialogue takes up the
    # others after it.
    asks = [(n, a) for n, a in (*clauses, (name, main)) if n and _KIND.get(a) != "small_talk"]
    if len({a for _, a in asks}) > 1:
        name, main = max(asks, key=lambda ask: INTENTS[ask[0] or ""].urgency)
    elif asks:
        name, main = asks[-1]
    if main is Ask.OUT_OF_SCOPE and name:
        u.extras["topic"] = name
    if main is Ask.MORE and (u.merchant or u.days_back or u.count):
        return Ask.TRANSACTIONS  # "more uber charges"
    if (
        _KIND.get(main) == "small_talk"
        and (
            u.count
            or u.days_back
            or u.min_amount is not None
            or (u.merchant and _FOLLOW_UP.search(t))
        )
        or (main is None and u.merchant and _ASKED_ABOUT.search(t))
    ):  # "what was the hilton thing"
        return Ask.TRANSACTIONS  # "the last 5", "over 100?", "what about at Amazon"
    return main


def _decide(t: str, u: Understanding) -> Ask:
    if INJECTION.search(t):
        u.then = _intent(t, u)
        return Ask.INJECTION
    if THIRD_PARTY.search(t):
        return Ask.THIRD_PARTY
    main = _intent(t, u)
    # A customer number said with a request is part of it, not a log-in.
    if u.pin or (u.customer_number and _KIND.get(main) not in ("request", "card_write")):
        u.then = main
        return Ask.VERIFY
    if u.numbers and not _FILLER.sub(" ", _NUMBERS.sub(" ", t)).strip():
        u.bare_numbers = True
        return Ask.VERIFY
    if YES.search(t) and main is None:
        return Ask.YES
    # "No, the other card", "no, the credit one": a different card, not a no.
    card_choice = (u.card_hint or u.card_last_four) and _CARD_CHOICE.search(t)
    if (
        (NO.search(t) or NEGATED_ACTION.search(t))  # "I don't want to lock it"
        and not (main is None and card_choice)
        and (
            main in (None, Ask.GOODBYE)
            or (_KIND.get(main) == "card_write" and _NEGATION.search(t))
            or (len(t.split()) <= 3 and not re.search(r"\bcards?\b", t, re.IGNORECASE))
        )
    ):
        return Ask.NO
    return main or Ask.UNKNOWN


def _clamped(word: str, low: int, high: int, times: int = 1) -> int | None:
    n = spoken_number(word)
    return None if n is None else max(low, min(high, n * times))


def _slots(t: str, u: Understanding) -> None:
    if m := _CUSTOMER_NUMBER.search(t):
        u.customer_number = re.sub(r"\D", "", next(g for g in m.groups() if g))
    if m := _PIN.search(t):
        u.pin = re.sub(r"\D", "", m.group(1))
    u.numbers = numbers = _NUMBERS.findall(t)
    rest = [n for n in numbers if n not in (u.customer_number, u.pin)]  # the other one said
    if u.customer_number is None and u.pin is None and len(numbers) >= 2:
        u.customer_number, u.pin = numbers[0], numbers[1]
    elif u.customer_number and u.pin is None and rest and re.search(r"\bpin|and\b", t, re.I):
        u.pin = rest[0]
    elif u.pin and u.customer_number is None and rest:
        u.customer_number = rest[0]
    if m := _LAST_FOUR.search(t):
        u.card_last_four = next(g for g in m.groups() if g)
    u.account = next((name for name, rx in _ACCOUNT_WORDS if rx.search(t)), None)
    if m := _COUNT.search(t):
        u.count = _clamped(m.group(1) or m.group(2), 1, 20)
    elif _SINGLE.search(t):
        u.count = 1
    today, day = datetime.now(UTC).date(), timedelta(days=1)
    first = today.replace(day=1)
    if m := _DAYS.search(t) or _WEEKS.search(t):
        u.days_back = _clamped(m.group(1), 1, 366, times=7 if m.re is _WEEKS else 1)
    else:  # of several periods said, the first of these; a window is cut from whole days
        periods: tuple[tuple[str, int, tuple[date, date | None] | None], ...] = (
            (r"\b(?:last|past) (?:week|seven days)\b|\bthis week\b", 7, None),
            (r"\b(?:past|recent) month\b", 31, None),  # the last 31 days
            (r"\bthis month\b", 0, (first, None)),
            (r"\b(?:last|previous) month\b", 0, ((first - day).replace(day=1), first)),
            (r"\byesterday\b", 0, (today - day, today)),
            (r"\btoday\b", 0, (today, None)),
        )
        for pattern, days, window in periods:
            if re.search(pattern, t, re.IGNORECASE):
                # The tool reads whole days back from now; the listing is cut to the window.
                u.window, u.days_back = window, (today - window[0]).days + 1 if window else days
                break
    if m := _CARD_HINT.search(t):
        u.card_hint = m.group(1).lower().replace(" ", "")
    if m := _MIN_AMOUNT.search(t):
        u.min_amount = float(m.group(1).replace(",", ""))
    u.merchant = _merchant(t)


_MERCHANT_BEFORE = _rx(
    r"\b(?:the|that|this|an?|my)\s+([A-Za-z0-9&'][A-Za-z0-9&'.-]{1,30}"
    rf"(?:\s+[A-Za-z0-9&'.-]{{2,30}})?)\s+{words('merchant_nouns', 'picked_nouns')}\b"
)
_MERCHANT_AT = _rx(
    r"\b(?:at|from|with|to|by)\s+([A-Za-z0-9&'][A-Za-z0-9&' .-]{0,40}?)"
    rf"(?=\s+{words('merchant_ends')}\b|[?.!,;]|$)"
)
# "did I spend anything on uber": one word after "on", never an account, card or time.
_MERCHANT_ON = _rx(
    rf"\bon\s+(?!{words('not_on')}\b)([a-z][\w&'-]{{1,30}})"
    r"(?=\s*(?:recently|lately|this|last|today|yesterday|in the|over|since|\?|$|[.!,]))"
)
# "did I pay netflix this month": the one word paid, never a pronoun or a filler.
_MERCHANT_PAID = _rx(rf"\b(?:pay|paid)\s+(?!{words('not_paid')}\b)([a-z][\w&'-]{{1,30}})\b")
# "show me uber transactions", "any netflix charges": one word, checked last and against more
# words that describe transactions rather than name a merchant ("any five charges").
_MERCHANT_BARE = _rx(
    rf"(?:\b(?:me|any)\s+|^)([A-Za-z][A-Za-z0-9&'.-]{{1,30}})\s+{words('merchant_nouns')}\b"
)
_SOME = _rx(r"^(?:some|an?|the|one of those|one of the)\s+(?=\w+\s+(?:place|store|shop)\b)")
_LEADING_RECENCY = _rx(r"^(?:(?:last|latest|recent|most recent|newest)\s+)+")
_AMOUNT = _rx(r"\$?[\d\s.,]+(?:dollars?|bucks|usd)?")
_NOT_MERCHANTS = WORDS["not_merchants"] | WORDS["not_merchant_phrases"]
_ARTICLES, _VERBS, _PLACE_WORDS = WORDS["articles"], WORDS["verbs"], WORDS["place_words"]
_NOT_FIRST = _NOT_MERCHANTS | _VERBS
# Each grammar in the order tried, with the words its merchant never starts with.
_GRAMMARS = (
    (_MERCHANT_BEFORE, _NOT_FIRST),
    (_MERCHANT_AT, _NOT_FIRST),
    (_MERCHANT_ON, _NOT_FIRST),
    (_MERCHANT_PAID, _NOT_FIRST),
    (_MERCHANT_BARE, _NOT_FIRST | WORDS["not_bare_merchants"] | _ARTICLES),
)


def _merchant(t: str) -> str | None:
    for rx, not_first in _GRAMMARS:
        for m in rx.finditer(t):
            candidate = _SOME.sub("", _LEADING_RECENCY.sub("", m.group(1)).strip(" .'-"))
            said = candidate.lower().split()
            if (
                said
                and candidate.lower() not in _NOT_MERCHANTS
                and said[0] not in not_first  # "to check the payments"
                and said[-1] not in _ARTICLES  # "to dispute a charge"
                and not _AMOUNT.fullmatch(candidate)
                and spoken_number(candidate) is None  # "my last ten transactions": a count
            ):
                # The kind of place is not in the name ("the electronics store").
                kept = [w for w in candidate.split() if w.lower() not in _PLACE_WORDS]
                return (" ".join(kept) or candidate)[:40]
    return None
