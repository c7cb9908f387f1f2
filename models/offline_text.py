"""Text clean-up before the offline model reads a caller's words: invisible characters,
look-alike letters, and digits said as words ("one zero zero three" -> "1003")."""

from __future__ import annotations

import difflib
import functools
import re
import unicodedata

# Cyrillic and Greek letters that look like Latin ones (a classic way to dodge keyword rules).
_LOOKALIKES = str.maketrans(
    "аеорсхуіјѕкмтнвАЕОРСХУІКМТНВοαεικνρτΟΑΕΙΚΝΡΤ’‘“”",
    "aeopcxyijskmthbAEOPCXYIKMTHBoaeikvptOAEIKNPT''\"\"",
)
_DIGIT_WORDS = {
    "zero": "0", "oh": "0", "one": "1", "two": "2", "three": "3", "four": "4",
    "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9",
}  # fmt: skip
_DIGIT_TOKEN = r"(?:zero|oh|one|two|three|four|five|six|seven|eight|nine|\d)"
# Four or more single digits, as words or figures, separated by spaces, commas or dashes.
_SPELLED_RUN = re.compile(rf"\b{_DIGIT_TOKEN}(?:[\s,.-]+{_DIGIT_TOKEN}){{3,}}\b", re.IGNORECASE)
_DOUBLE = re.compile(rf"\b(double|triple)\s+({_DIGIT_TOKEN})\b", re.IGNORECASE)


def normalise(text: str) -> str:
    """One line of caller text, ready for the keyword rules."""
    text = unicodedata.normalize("NFKC", text)
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")  # zero-width etc.
    text = text.translate(_LOOKALIKES)
    text = _DOUBLE.sub(_expand_double, text)
    text = _SPELLED_RUN.sub(_join_digits, text)
    text = _WORD.sub(_fix_typo, text)
    return " ".join(text.split())


# Misspellings of the few words the rules key on ("balanse", "transactons", "chekcing"):
# each is snapped to the closest of these, and only when it is very close. Inflected forms
# are listed so they stay as they are.
_KEYWORDS = (
    "balance", "balances", "transaction", "transactions", "checking", "savings", "account",
    "accounts", "statement", "statements", "purchase", "purchases", "dispute", "disputed",
    "recognise", "recognize", "suspicious",
)  # fmt: skip
_REAL_WORDS = frozenset({"saving", "accountant", "balanced", "recognised", "recognized"})
_WORD = re.compile(r"\b[A-Za-z]{5,14}\b")


def _fix_typo(match: re.Match[str]) -> str:
    return _closest(match.group(0))


@functools.lru_cache(maxsize=4096)
def _closest(word: str) -> str:
    lower = word.lower()
    if lower in _KEYWORDS or lower in _REAL_WORDS:
        return word
    close = difflib.get_close_matches(lower, _KEYWORDS, n=1, cutoff=0.82)
    return close[0] if close else word


def _expand_double(match: re.Match[str]) -> str:
    times = 2 if match.group(1).lower() == "double" else 3
    return " ".join([match.group(2)] * times)


def _join_digits(match: re.Match[str]) -> str:
    tokens = re.split(r"[\s,.-]+", match.group(0))
    return "".join(_DIGIT_WORDS.get(t.lower(), t) for t in tokens)


_ONES = {
    w: n
    for n, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen "
        "fourteen fifteen sixteen seventeen eighteen nineteen".split()
    )
}
_TENS = {w: 10 * n for n, w in enumerate("_ _ twenty thirty forty fifty sixty seventy "
                                          "eighty ninety".split()) if n >= 2}  # fmt: skip
_SCALES = {"hundred": 100, "thousand": 1000}
# A number said in words ("five", "twenty five", "three hundred eighty-nine"): the pattern
# finds one, spoken_number reads it; a word outside these is no number at all.
NUMBER_WORDS = (
    r"(?:(?:" + "|".join([*_ONES, *_TENS, *_SCALES, "a", "and"]) + r")[\s-]+)*"
    r"(?:" + "|".join([*_ONES, *_TENS, *_SCALES]) + r")"
)
_NUMBER = re.compile(rf"\d+|{NUMBER_WORDS}", re.IGNORECASE)


def spoken_number(text: str) -> int | None:
    """'7', 'seven', 'twenty five', 'three hundred and eighty-nine' -> the number; None for
    anything else (an unknown word is never guessed into a number)."""
    text = text.strip().lower()
    if text.isdigit():
        return int(text)
    if not _NUMBER.fullmatch(text):
        return None
    total, part = 0, 0
    for word in re.split(r"[\s-]+", text):
        if word in _ONES:
            part += _ONES[word]
        elif word in _TENS:
            part += _TENS[word]
        elif word == "hundred":
            part = max(part, 1) * 100
        elif word == "thousand":
            total, part = total + max(part, 1) * 1000, 0
        elif word == "a":
            part = part or 1  # "a hundred"
    return total + part
