"""Money from integer cents, for display ("$4,500.12") and for speech
("four thousand five hundred dollars and twelve cents").

What the desks say is written in display form: the caller reads it in the transcript. The
spoken form is made from it for the TTS input only (`spoken_amounts`, one of the session's
`tts_text_transforms`).

Written by hand rather than pulling in num2words: it is ~40 lines, deterministic, and
num2words' currency output ("four thousand, five hundred dollars, twelve cents") reads
badly through TTS."""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, AsyncIterator

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen "
    "fourteen fifteen sixteen seventeen eighteen nineteen"
).split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand"))


def number_to_words(n: int) -> str:
    if n < 0:
        return "minus " + number_to_words(-n)
    if n < 20:
        return _ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens] + ("-" + _ONES[ones] if ones else "")
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return _ONES[hundreds] + " hundred" + (" " + number_to_words(rest) if rest else "")
    for value, name in _SCALES:
        if n >= value:
            head, rest = divmod(n, value)
            return (
                number_to_words(head) + " " + name + (" " + number_to_words(rest) if rest else "")
            )
    raise AssertionError("unreachable")


def format_cents(cents: int) -> str:
    """Display form: 450012 -> "$4,500.12", -1200 -> "-$12.00"."""
    sign = "-" if cents < 0 else ""
    dollars, rest = divmod(abs(cents), 100)
    return f"{sign}${dollars:,}.{rest:02d}"


def speak_cents(cents: int) -> str:
    """Spoken form: 450012 -> "four thousand five hundred dollars and twelve cents"."""
    prefix = "minus " if cents < 0 else ""
    dollars, rest = divmod(abs(cents), 100)
    dollar_words = f"{number_to_words(dollars)} dollar{'' if dollars == 1 else 's'}"
    if rest == 0:
        return prefix + dollar_words
    cent_words = f"{number_to_words(rest)} cent{'' if rest == 1 else 's'}"
    if dollars == 0:
        return prefix + cent_words
    return f"{prefix}{dollar_words} and {cent_words}"


# "$4,500.12", "-$12.00", "$62", "$1234.5" is not ours (two decimals or none).
_DISPLAY_AMOUNT = re.compile(r"(-?)\$(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d{2}))?(?![\d,])")
# What may be the start of an amount whose rest is in the next chunk of a stream.
_PARTIAL_AMOUNT = re.compile(r"-?\$[\d,]*(?:\.\d?)?$|-$")


def speak_amounts(text: str) -> str:
    """Every display amount in `text` in its spoken form."""

    def spoken(match: re.Match[str]) -> str:
        cents = int(match[2].replace(",", "")) * 100 + int(match[3] or 0)
        return speak_cents(-cents if match[1] else cents)

    return _DISPLAY_AMOUNT.sub(spoken, text)


async def spoken_amounts(text: AsyncIterable[str]) -> AsyncIterator[str]:
    """A livekit TTS text transform: display amounts become words on their way to the TTS
    (the transcript keeps "$4,500.12"). An amount split across chunks waits for its rest."""
    pending = ""
    async for chunk in text:
        pending += chunk
        partial = _PARTIAL_AMOUNT.search(pending)
        cut = partial.start() if partial else len(pending)
        if cut:
            yield speak_amounts(pending[:cut])
            pending = pending[cut:]
    if pending:
        yield speak_amounts(pending)
