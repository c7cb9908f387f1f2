"""Masking is linear in its input: a long hostile model-written string (a transfer reason of
"one one one ... 1") must not stall the event loop every call in the process shares.

No absolute timings: each masker's time on an input is divided by a linear baseline's time
on the same input (one pass of a trivial regular expression), and that ratio may not grow
with the input's length. A quadratic masker's ratio grows with the length (8x here)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import pytest

from handoffs import mask_sensitive
from tools.log_redaction import scrub
from tools.pin_redaction import PinRedactor

SHORT, LONG = 500, 4000  # characters: LONG is 8x SHORT
_BASELINE = re.compile(r"\d")

HOSTILE: dict[str, Callable[[int], str]] = {
    "number words": lambda n: ("one " * n)[:n] + "1",
    "spaced digits": lambda n: ("1 " * n)[:n] + "a",
    "comma digits": lambda n: ("1," * n)[:n] + "x",
    "hyphen words": lambda n: ("a-" * n)[:n] + " b",
    "digits then dollars": lambda n: ("1 " * n)[:n] + " dollars",
    "words then cents": lambda n: ("nine " * n)[:n] + "x cents",
    "pin words": lambda n: ("one two three " * n)[:n],
}


def _pins() -> PinRedactor:
    pins = PinRedactor()
    pins.add("1234")
    pins.add("11112222")
    return pins


MASKERS: dict[str, Callable[[str], str]] = {
    "carried agent line": lambda t: mask_sensitive(t),
    "carried caller line": lambda t: mask_sensitive(t, role="user"),
    "log record": scrub,
    "pin scrub": _pins().scrub,
}


def _best(fn: Callable[[str], object], text: str, repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn(text)
        best = min(best, time.perf_counter() - started)
    return best


def _relative_cost(masker: Callable[[str], str], text: str) -> float:
    baseline = max(_best(lambda t: _BASELINE.sub("x", t), text), 1e-7)
    return _best(masker, text) / baseline


@pytest.mark.parametrize("shape", sorted(HOSTILE))
@pytest.mark.parametrize("masker", sorted(MASKERS))
def test_masking_cost_grows_linearly(masker: str, shape: str) -> None:
    fn, make = MASKERS[masker], HOSTILE[shape]
    short = _relative_cost(fn, make(SHORT))
    long = _relative_cost(fn, make(LONG))
    # Linear: the ratio to the baseline stays put (about 1x). Quadratic: about 8x.
    assert long / short < 3.0, f"{masker} on {shape}: {short:.1f}x -> {long:.1f}x baseline"


def test_masking_still_masks() -> None:
    assert mask_sensitive("your balance is $4,500.12") == "your balance is [amount]"
    assert "[amount]" in mask_sensitive("four thousand five hundred dollars")
    assert mask_sensitive("card 4242 4242", role="user") == "card [number]"
    assert mask_sensitive("over $100", role="user") == "over $100"
    assert scrub("PIN 1 2 3 4 and $12.50") == "PIN [digits] and [amount]"
    assert scrub("four thousand dollars") == "[amount]"
    assert _pins().scrub("it's one two three four") == "it's [PIN redacted]"
