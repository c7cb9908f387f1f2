"""Masking is linear in its input: a long hostile model-written string (a transfer reason of
"one one one ... 1") must not stall the event loop every call in the process shares.

No absolute timings: each masker's time on an input is divided by a linear baseline's time
on the same input (one interpreted step per character), and that ratio may not grow
with the input's length. A quadratic masker's ratio grows with the length (64x here).

The bar (16x) sits far from both: a 2-core box loaded 4x over measured 8x on a linear
masker, a quadratic one measures 64x."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from handoffs import mask_sensitive
from tools.log_redaction import scrub
from tools.pin_redaction import PinRedactor

SHORT, LONG = 250, 16000  # characters: LONG is 64x SHORT

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


def _calls_for(fn: Callable[[str], object], text: str) -> int:
    """How many calls make one timed round last >= 5 ms (timer noise stays small, and a
    round is short enough to run unpreempted now and then)."""
    calls = 1
    while calls < 4096:
        started = time.perf_counter()
        for _ in range(calls):
            fn(text)
        if time.perf_counter() - started >= 0.005:
            break
        calls *= 2
    return calls


def _per_call(fn: Callable[[str], object], text: str, calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        fn(text)
    return (time.perf_counter() - started) / calls


def _linear_baseline(text: str) -> int:
    """One interpreted step per character: its cost per character is the same at any length
    (a C-level regex scan is not: caches make its short and long runs differ by 4x)."""
    return sum(1 for _ in text)


def _relative_cost(masker: Callable[[str], str], text: str, rounds: int = 11) -> float:
    """Masker time / baseline time, each the fastest of `rounds` rounds measured back to
    back: load on a shared machine only ever adds time, so the fastest round is the one
    nearest the algorithm's own cost."""
    m_calls, b_calls = _calls_for(masker, text), _calls_for(_linear_baseline, text)
    masked, baseline = [], []
    for _ in range(rounds):
        baseline.append(_per_call(_linear_baseline, text, b_calls))
        masked.append(_per_call(masker, text, m_calls))
    return min(masked) / max(min(baseline), 1e-9)


@pytest.mark.parametrize("shape", sorted(HOSTILE))
@pytest.mark.parametrize("masker", sorted(MASKERS))
def test_masking_cost_grows_linearly(masker: str, shape: str) -> None:
    fn, make = MASKERS[masker], HOSTILE[shape]
    short = _relative_cost(fn, make(SHORT))
    long = _relative_cost(fn, make(LONG))
    # Linear: the ratio to the baseline stays put (about 1x). Quadratic: about 64x.
    assert long / short < 16.0, f"{masker} on {shape}: {short:.1f}x -> {long:.1f}x baseline"


def test_masking_still_masks() -> None:
    assert mask_sensitive("your balance is $4,500.12") == "your balance is [amount]"
    assert "[amount]" in mask_sensitive("four thousand five hundred dollars")
    assert mask_sensitive("card 4242 4242", role="user") == "card [number]"
    assert mask_sensitive("over $100", role="user") == "over $100"
    assert scrub("PIN 1 2 3 4 and $12.50") == "PIN [digits] and [amount]"
    assert scrub("four thousand dollars") == "[amount]"
    assert _pins().scrub("it's one two three four") == "it's [PIN redacted]"
