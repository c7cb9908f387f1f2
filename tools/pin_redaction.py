"""`PinRedactor`: the PINs of one call (held in memory only, never checkpointed) and one
scrub that removes every spoken or typed form of them from a piece of text.

Forms: digits ("1234", and any script's digits: fullwidth "１２３４" reads the same to a
model), digit words ("one two three four", "oh" for zero), any separators ("1.2.3.4",
"1, 2, 3, 4", "1-2 3/4", "1 ... 2 ... 3 ... 4"), mixes ("one 2 three 4"), two-digit words
("twelve thirty-four") and a four-digit PIN said as one number ("twelve hundred thirty-four",
"one thousand two hundred and thirty-four"). A longer number that merely contains the PIN
("12345") is not it.

Linear: each PIN is one regular expression without nested unbounded repetition (at most
six separator characters between digits), and the input is bounded before it is scanned."""

from __future__ import annotations

import re
import unicodedata

PIN_REDACTED = "[PIN redacted]"
MIN_PIN, MAX_PIN = 4, 8
# The longest text scrubbed in one go; longer text is cut first (model-written strings are
# cut to a few hundred characters where they are stored anyway).
MAX_SCRUB_CHARS = 20_000

_ONES = ("(?:zero|oh|o)", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_TEENS = ("ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
          "eighteen", "nineteen")  # fmt: skip
_TENS = {2: "twenty", 3: "thirty", 4: "forty", 5: "fifty", 6: "sixty", 7: "seventy",
         8: "eighty", 9: "ninety"}  # fmt: skip
_SEP = r"[\W_]{0,6}"
# "PIN is 1 2 3 4", "passcode: one two three four": a PIN named as one, before any check.
_NAMED_PIN = re.compile(
    r"\b(?:pin|passcode|pin code|pin number|security code)\b\W{0,6}(?:is\W{1,4}|was\W{1,4})?"
    r"((?:(?:\d|(?:zero|oh|one|two|three|four|five|six|seven|eight|nine)\b)[\W_]{0,3}){4,8})",
    re.IGNORECASE,
)
_WORD_DIGIT = {w: str(i) for i, w in enumerate(_ONES[1:], start=1)} | {
    "zero": "0", "oh": "0", "o": "0"
}  # fmt: skip
_OTHER_DIGIT = re.compile(r"(?![0-9])\d")  # a decimal digit of another script
_TOKEN = re.compile(r"\d|[a-z]+", re.IGNORECASE)


def _digit(d: str) -> str:
    return rf"(?:{d}|\b{_ONES[int(d)]}\b)"


def _pair(a: str, b: str) -> str | None:
    """Two digits said as one number: "12" twelve, "34" thirty-four, "40" forty."""
    tens, ones = int(a), int(b)
    if tens == 1:
        return rf"\b{_TEENS[ones]}\b"
    if tens >= 2:
        word = _TENS[tens] if ones == 0 else rf"{_TENS[tens]}[\s-]?{_ONES[ones]}"
        return rf"\b{word}\b"
    return None


def _tens_words(a: str, b: str) -> str | None:
    """The last two digits of a number said in words: "34" thirty-four, "05" five, "00"
    nothing (None)."""
    if a == "0":
        return None if b == "0" else rf"\b{_ONES[int(b)]}\b"
    return _pair(a, b)


def _as_one_number(digits: str) -> str | None:
    """A four-digit PIN said as one number: "twelve hundred (and) thirty-four", "one
    thousand two hundred (and) thirty-four"."""
    if len(digits) != 4 or digits[0] == "0":
        return None
    tail = _tens_words(digits[2], digits[3])
    rest = rf"(?:\W{{1,3}}and)?\W{{1,3}}{tail}" if tail else ""
    forms = []
    hundreds = _pair(digits[0], digits[1])
    if hundreds is not None:
        forms.append(rf"{hundreds}\W{{1,3}}hundred\b{rest}")
    thousand = rf"\b{_ONES[int(digits[0])]}\W{{1,3}}thousand\b"
    if digits[1] != "0":
        thousand += rf"\W{{1,3}}{_ONES[int(digits[1])]}\W{{1,3}}hundred\b"
    forms.append(thousand + rest)
    return "|".join(f"(?:{form})" for form in forms)


def _from(digits: str, i: int) -> str:
    """Alternatives for digits[i:]: each digit alone, or two of them as one number word."""
    if i == len(digits):
        return ""
    single = _digit(digits[i]) + (_SEP + _from(digits, i + 1) if i + 1 < len(digits) else "")
    pair = _pair(digits[i], digits[i + 1]) if i + 1 < len(digits) else None
    if pair is None:
        return single
    rest = _SEP + _from(digits, i + 2) if i + 2 < len(digits) else ""
    return f"(?:{single}|{pair}{rest})"


def pin_pattern(digits: str) -> re.Pattern[str]:
    # Not right after "$": an amount ("$1,234.56" for a caller whose PIN is 1234) is money
    # the desk reads out, not the PIN (nobody says a PIN as dollars).
    whole = _from(digits, 0)
    if (number := _as_one_number(digits)) is not None:
        whole = f"(?:{number}|{whole})"
    return re.compile(rf"(?<![\d$]){whole}(?!\d)", re.IGNORECASE)


def ascii_digits(text: str) -> str:
    """`text` with every script's digits as ASCII ("１２３４" -> "1234")."""
    if text.isascii():
        return text
    return _OTHER_DIGIT.sub(lambda m: str(unicodedata.digit(m.group(), 0)), text)


def digits_of(raw: object) -> str:
    """The digits of a PIN as given: a string, a number, or digit words."""
    text = ascii_digits(str(raw)[:200])
    return "".join(
        tok if tok.isdigit() else _WORD_DIGIT.get(tok.lower(), "") for tok in _TOKEN.findall(text)
    )


class PinRedactor:
    """Every PIN said or tried on this call, and the scrub that removes them."""

    def __init__(self) -> None:
        self._patterns: dict[str, re.Pattern[str]] = {}

    def __bool__(self) -> bool:
        return bool(self._patterns)

    def add(self, raw: object) -> None:
        digits = digits_of(raw)
        if MIN_PIN <= len(digits) <= MAX_PIN and digits not in self._patterns:
            self._patterns[digits] = pin_pattern(digits)

    def learn_named(self, text: str) -> None:
        """Register any PIN the text names as one ("my PIN is 1 2 3 4")."""
        for match in _NAMED_PIN.finditer(text[:MAX_SCRUB_CHARS]):
            self.add(match.group(1))

    def scrub(self, text: str) -> str:
        if not self._patterns or not text:
            return text
        text = ascii_digits(text[:MAX_SCRUB_CHARS])
        for pattern in self._patterns.values():
            text = pattern.sub(PIN_REDACTED, text)
        return text
