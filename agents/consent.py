"""The caller's own consent to an irreversible write, judged in code from what the caller
said (and what they had just heard), never from the model's say-so (`confirm=true`).

A write runs only when, on the caller's turn that asks for it:
* the caller's words are a plain yes: an affirmative word, and no refusal or hesitation
  ("no", "wait", "hold on", "not sure", a question), no other card (other last-four
  digits, another card type) and no other action ("unlock" when locking);
* and the question they answered, the desk's last words before their turn, named this
  action and this target (the card's last four, or the charge's merchant), so a yes to
  something else ("want a new statement?") confirms nothing.
A dispute may also be asked for outright in the caller's words ("dispute the Uber charge",
"no, just dispute it"), with "dispute" not negated.

Another channel can confirm instead of words: the SIP keypad (`1` = yes, agents.keypad) and
the app's confirmation sheet, asked over LiveKit RPC of the linked participant only
(agents.app_confirm). Either records, in code, a yes to one read-back (`consent_key`)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from shared_state import SessionState


class Consent(StrEnum):
    WORDS = "words"  # the caller said yes to the question that named this write
    REQUEST = "request"  # the caller asked for this dispute outright
    KEYPAD = "keypad"  # the caller pressed 1 after the read-back (SIP)
    APP = "app"  # the caller tapped Confirm on the app's sheet (RPC to the linked participant)


@dataclass(frozen=True)
class Target:
    """What the write is about, as the caller would name it."""

    action: str  # lock | unlock | lost | stolen | dispute
    card_last_four: str | None = None
    card_words: frozenset[str] = frozenset()  # e.g. {"visa", "debit"}
    merchant: str | None = None


_YES = re.compile(
    r"\b(?:yes|yeah|yep|yup|yea|ya|sure|ok|okay|alright|all right|correct|confirm(?:ed)?|"
    r"go ahead|do it|please do|that'?s right|right|absolutely|definitely|affirmative|"
    r"of course|sounds good|please|i do|i confirm)\b"
)
_NOT_YES = re.compile(
    r"\?|\b(?:no|nope|nah|not|don'?t|do not|never|stop|cancel|wait|hold|hang on|actually|"
    r"but|hmm+|um+|uh+|er+m?|maybe|perhaps|unsure|think|later|instead|mistake|wrong)\b"
)
_CARD_TYPES = frozenset({"visa", "mastercard", "amex", "discover", "debit", "credit"})
_ACTION_WORDS: dict[str, frozenset[str]] = {
    "lock": frozenset({"lock", "block", "freeze", "locked", "frozen"}),
    "unlock": frozenset({"unlock", "unblock", "unfreeze", "unlocked"}),
    "lost": frozenset({"lost", "report", "reported", "block", "replace", "replacement"}),
    "stolen": frozenset({"stolen", "report", "reported", "block", "replace", "replacement"}),
    "dispute": frozenset({"dispute", "disputed", "claim", "refund"}),
}
_ALL_ACTION_WORDS = frozenset().union(*_ACTION_WORDS.values())
_OTHER_TOPICS = frozenset(
    {"balance", "transactions", "statement", "person", "human", "agent", "transfer", "address"}
)
_DISPUTE_ASKED = re.compile(r"\bdispute\b")
# "No, just dispute it" answers something else; "don't dispute it", "I don't want you to
# dispute it" and "I'd rather not dispute" are about the dispute: a negation anywhere in the
# clause before "dispute" (a leading "no" is an answer to something else).
_DISPUTE_NEGATED = re.compile(
    r"\b(?:not|never|\w+n't|dont|doesnt|didnt|wont|wouldnt|shouldnt|cant|cannot|stop|cancel|"
    r"rather|without|instead|hold off|no need)\b"
    r"|\bno\s+dispute"
)
# A question or a thought about disputing is no request to open one: "what happens if I
# dispute it?", "should I dispute the Uber charge", "maybe dispute it". A polite request
# ("can you dispute the Uber charge?") still is one.
_DISPUTE_WONDERED = re.compile(
    r"\b(?:if|whether|should|shall|what|how|why|when|maybe|perhaps|might|thinking|"
    r"considering|wondering|unsure|worth|option|possible|supposed|can i|could i|"
    r"do i|does|is it|would it|will it)\b"
)
_POLITE_REQUEST = re.compile(r"^(?:\w+\s+){0,2}(?:can|could|would|will)\s+you\b")
# Said after the request, these take it back ("dispute it... actually, hold on").
_TAKEN_BACK = re.compile(
    r"\b(?:wait|hold on|hang on|actually|never ?mind|cancel|scratch that|second thoughts?)\b"
)
_CLAUSES = re.compile(r"[,.;:!?]|\s(?:but|and then|then)\s")
_SENTENCES = re.compile(r"(?<=[.?!;:])\s+")
_HEARD_ACTION: dict[str, re.Pattern[str]] = {
    "lock": re.compile(r"(?<!un)lock"),
    "unlock": re.compile(r"unlock"),
    "lost": re.compile(r"lost"),
    "stolen": re.compile(r"stolen"),
    "dispute": re.compile(r"dispute"),
}


def normalise(text: str) -> str:
    """Lower case, compatibility forms folded, invisible characters dropped."""
    folded = unicodedata.normalize("NFKC", text or "")[:500]
    return "".join(ch for ch in folded if ch.isprintable()).lower().replace("\u2019", "'")


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z']+", text))


def said_yes(words: str, target: Target) -> bool:
    """A plain yes to this write, and to nothing else."""
    text = normalise(words).strip()
    if not text or not _YES.search(text) or _NOT_YES.search(text):
        return False
    said = _words(text)
    if said & (_ALL_ACTION_WORDS - _ACTION_WORDS[target.action]) or said & _OTHER_TOPICS:
        return False
    digits = set(re.findall(r"(?<!\d)\d{4}(?!\d)", text))
    if digits and digits != {target.card_last_four}:
        return False
    named_types = said & _CARD_TYPES
    return not (named_types and not named_types <= target.card_words)


def asked_for_dispute(words: str) -> bool:
    """The caller asked for a dispute outright ("dispute the Uber charge"): some clause
    asks for it, without a negation before "dispute" and without wondering about it."""
    text = normalise(words)
    question = "?" in text
    for clause in _CLAUSES.split(text):
        clause = clause.strip()
        found = _DISPUTE_ASKED.search(clause)
        if found is None:
            continue
        before = clause[: found.start()]
        if _DISPUTE_NEGATED.search(clause[: found.end()]) or _TAKEN_BACK.search(
            text[text.find(clause) :]
        ):
            return False  # "don't dispute it"; "dispute it, no wait"
        polite = _POLITE_REQUEST.match(clause) is not None
        if _DISPUTE_WONDERED.search(before) or (question and not polite):
            continue
        return True
    return False


def heard_question_about(heard: str, target: Target, answer: str = "") -> bool:
    """The desk's last words before the caller's turn named this action and target (for a
    charge: asked about it, unless the caller's `answer` names it themselves)."""
    text = normalise(heard)
    if not _HEARD_ACTION[target.action].search(text):
        return False
    if target.card_last_four is not None:
        return target.card_last_four in text
    if target.merchant:
        # One sentence names both the dispute and this charge ("open a dispute for the Uber
        # charge?"): a listing of several charges ending "Which one would you like to
        # dispute?" asked about none of them, so a bare yes to it disputes none; the caller
        # picking one of them by name ("the Uber one, please") does.
        first = normalise(target.merchant).split()
        if not first:
            return False
        if _names(normalise(answer), first[0]):
            return _names(text, first[0])
        return any(
            _HEARD_ACTION["dispute"].search(sentence) and _names(sentence, first[0])
            for sentence in _SENTENCES.split(text)
        )
    return False


def _names(text: str, word: str) -> bool:
    """`word` in `text` as a word of its own ("uber", not inside "tuber")."""
    return re.search(rf"(?<![a-z0-9]){re.escape(word)}(?![a-z0-9])", text) is not None


def consent_for(state: SessionState, target: Target) -> Consent | None:
    """How the caller consented to this write on their current turn, if they did."""
    if state.keypad_consent is not None and state.keypad_consent == _key(target):
        return Consent.KEYPAD
    if state.app_consent is not None and state.app_consent == _key(target):
        return Consent.APP
    if target.action == "dispute" and asked_for_dispute(state.caller_words):
        return Consent.REQUEST
    words = state.caller_words
    if said_yes(words, target) and heard_question_about(state.heard_before, target, words):
        return Consent.WORDS
    return None


def _key(target: Target) -> str:
    return f"{target.action}:{target.card_last_four or target.merchant or ''}"


def consent_key(action: str, card_last_four: str | None, merchant: str | None = None) -> str:
    """What `SessionState.keypad_consent` / `app_consent` holds after a yes to this read-back
    on that channel."""
    return _key(Target(action=action, card_last_four=card_last_four, merchant=merchant))
