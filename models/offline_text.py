"""Text clean-up before the offline model reads a caller's words (invisible characters,
look-alike letters, typos, digits said as words: "one zero zero three" -> "1003"), and the
word lists its patterns are built from (vocabulary.toml)."""

from __future__ import annotations

import difflib
import functools
import re
import tomllib
import unicodedata
from pathlib import Path

_TOML = tomllib.loads(Path(__file__).with_name("vocabulary.toml").read_text(encoding="utf-8"))
# Each list in the order written ("_" joins a phrase's words): in a pattern, order decides.
VOCABULARY = {key: tuple(w.replace("_", " ") for w in v.split()) for key, v in _TOML.items()}


def words(*keys: str) -> str:
    """Vocabulary lists as one regex alternation, in the order written."""
    return "(?:" + "|".join(re.escape(w) for k in keys for w in VOCABULARY[k]) + ")"


# Cyrillic and Greek letters that look like Latin ones (a classic way to dodge keyword rules).
_LOOKALIKES = str.maketrans(
    "аеорсхуіјѕкмтнвАЕОРСХУІКМТНВοαεικνρτΟΑΕΙΚΝΡΤ’‘“”",
    "aeopcxyijskmthbAEOPCXYIKMTHBoaeikvptOAEIKNPT''\"\"",
)
_VALUES = {w: n for n, w in enumerate(VOCABULARY["ones"])}
_VALUES |= {w: 20 + 10 * n for n, w in enumerate(VOCABULARY["tens"])}
_SCALES = {"hundred": 100, "thousand": 1000}
_DIGITS = {w: str(n) for w, n in _VALUES.items() if n < 10} | {"oh": "0"}
_DIGIT = r"(?:zero|oh|one|two|three|four|five|six|seven|eight|nine|\d)"
# Four or more single digits, as words or figures, separated by spaces, commas or dashes.
_SPELLED_RUN = re.compile(rf"\b{_DIGIT}(?:[\s,.-]+{_DIGIT}){{3,}}\b", re.IGNORECASE)
_DOUBLE = re.compile(rf"\b(double|triple)\s+({_DIGIT})\b", re.IGNORECASE)
_WORD = re.compile(r"\b[A-Za-z]{5,14}\b")
_KEYWORDS, _REAL_WORDS = VOCABULARY["keywords"], frozenset(VOCABULARY["real_words"])


def normalise(text: str) -> str:
    """One line of caller text, ready for the keyword rules."""
    text = unicodedata.normalize("NFKC", text)
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")  # zero-width etc.
    text = text.translate(_LOOKALIKES)
    text = _DOUBLE.sub(lambda m: " ".join([m[2]] * (2 if m[1].lower() == "double" else 3)), text)
    text = _SPELLED_RUN.sub(
        lambda m: "".join(_DIGITS.get(t.lower(), t) for t in re.split(r"[\s,.-]+", m[0])), text
    )
    return " ".join(_WORD.sub(lambda m: _closest(m[0]), text).split())


@functools.lru_cache(maxsize=4096)
def _closest(word: str) -> str:
    """A misspelled keyword ("balanse", "chekcing") snapped to the keyword, when very close."""
    if (lower := word.lower()) in _KEYWORDS or lower in _REAL_WORDS:
        return word
    return next(iter(difflib.get_close_matches(lower, _KEYWORDS, n=1, cutoff=0.82)), word)


# A number said in words ("five", "twenty five", "three hundred eighty-nine"): the pattern
# finds one, spoken_number reads it; a word outside these is no number at all.
_NUMBER_WORD = "|".join([*_VALUES, *_SCALES])
NUMBER_WORDS = rf"(?:(?:{_NUMBER_WORD}|a|and)[\s-]+)*(?:{_NUMBER_WORD})"
_NUMBER = re.compile(rf"\d+|{NUMBER_WORDS}", re.IGNORECASE)


def spoken_number(text: str) -> int | None:
    """'7', 'seven', 'twenty five', 'three hundred and eighty-nine' -> the number; None for
    anything else (an unknown word is never guessed into a number)."""
    if (text := text.strip().lower()).isdigit():
        return int(text)
    if not _NUMBER.fullmatch(text):
        return None
    total, part = 0, 0
    for word in re.split(r"[\s-]+", text):
        if word in _SCALES:  # "a hundred", "two thousand and five"
            part = max(part, 1) * _SCALES[word]
            total, part = (total + part, 0) if word == "thousand" else (total, part)
        else:
            part = (part or 1) if word == "a" else part + _VALUES.get(word, 0)  # "and": 0
    return total + part
