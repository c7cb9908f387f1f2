"""What context crosses a handoff: the typed brief plus the last few caller/agent turns,
with tool calls and outputs dropped and sensitive figures masked in the text that remains.

Tool outputs never cross (they hold balances and card data); the brief carries the facts
the next agent needs instead. This is the answer to context leaks between agents."""

from __future__ import annotations

import re
from collections.abc import Callable

from livekit.agents import llm

from shared_state import HandoffBrief
from shared_state.state import UNTRUSTED_NOTE

CARRIED_TURNS = 6
CONTEXT_POLICY = f"brief+last{CARRIED_TURNS}turns-masked-no-tools"
BRIEF_PREFIX = "Handoff brief:"
BRIEF_KEY = "bank.handoff_brief"  # the typed brief on its context message's `extra`
VERIFIED_KEY = "bank.verified_as"  # an app sign-in's verified first name, on a system line
# The fixed lines said on a turn that hands off (agents/acknowledgement.py): (transfer,
# verification continuing). Said while the next desk works; not carried to it.
HANDOFF_ACKNOWLEDGEMENTS = ("Sure, one moment.", "Thank you, one moment.")

# Linear by construction: a run of digits or number words can only *start* where no run
# continues (the lookbehinds), so no position is rescanned, and the spoken-money run is
# matched whole (possessive) and judged by a callback instead of by a lookahead that would
# make the engine retry from every word of the run.
_MONEY = re.compile(
    r"(?:-?\$\s?\d[\d,]*+(?:\.\d{1,2})?)"
    r"|(?:(?<![\d,])\b\d[\d,]*+(?:\.\d{1,2})?\s?(?:dollars?|usd|cents?)\b)",
    re.IGNORECASE,
)
# Any run of 4+ digits (with optional spaces/dashes) is a PIN, card or account number here.
_LONG_DIGITS = re.compile(
    r"(?<![$\d])(?<!\$\s)(?<!\d[\s-])\b\d(?:[\s-]?\d){3,}\b(?!\s?(?:dollars?|usd)\b)"
)
_NUMBER_WORDS = (
    r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|"
    r"fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|"
    r"seventy|eighty|ninety|hundred|thousand|million|and|minus"
)
_SPOKEN_RUN = re.compile(
    rf"\b(?:(?:{_NUMBER_WORDS})\b[\s-]*+)++(dollars?\b|cents?\b)?", re.IGNORECASE
)


def _spoken_amount(match: re.Match[str]) -> str:
    # Only a run of number words that ends in a money word is an amount.
    if match.group(1) is None:
        return match.group(0)
    return " [amount]"


# Every pattern above needs a digit or a money word: text with neither is returned as is
# without running them (most carried lines), a cheap pre-check on the handoff path.
_MAY_MATCH = re.compile(r"\d|dollar|cent", re.IGNORECASE)


def mask_sensitive(text: str, *, role: str = "assistant") -> str:
    """Agent lines may quote balances and card data: mask amounts and numbers. The caller's
    own words keep their amounts ("over $100" is a filter, not a balance) but lose any
    long digit run (PINs, card and account numbers)."""
    if not _MAY_MATCH.search(text):
        return text
    if role != "user":
        text = _MONEY.sub("[amount]", text)
        text = _SPOKEN_RUN.sub(_spoken_amount, text)
    return _LONG_DIGITS.sub("[number]", text)


def carried_context(
    previous: llm.ChatContext, brief: HandoffBrief, *, scrub: Callable[[str], str] = str
) -> llm.ChatContext:
    """Build the next agent's starting context from the previous agent's. Every text also
    passes through `scrub` (the call's PIN scrub, `SessionState.pins.scrub`)."""
    ctx = llm.ChatContext.empty()
    turns = [
        item
        for item in previous.items
        if item.type == "message"
        and item.role in ("user", "assistant")
        and item.text_content
        # Whether the acknowledgement of this very turn is already in the context when the
        # transfer runs is a race with its playout: leave it out either way.
        and item.text_content not in HANDOFF_ACKNOWLEDGEMENTS
    ][-CARRIED_TURNS:]
    for message in turns:
        assert isinstance(message, llm.ChatMessage)
        ctx.add_message(
            role=message.role,
            content=scrub(mask_sensitive(message.text_content or "", role=message.role)),
        )
    note = f" ({UNTRUSTED_NOTE})" if brief.open_question else ""
    ctx.add_message(
        role="system",
        content=scrub(f"{BRIEF_PREFIX} {brief.render()}{note}"),
        # The same brief as data, for code that acts on it (the offline model): the text
        # above is for a model to read; `open_question` stays model-written words in both.
        extra={BRIEF_KEY: brief.typed(scrub)},
    )
    return ctx
