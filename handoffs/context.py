"""What context crosses a handoff: the typed brief plus the last few caller/agent turns,
with tool calls and outputs dropped and sensitive figures masked in the text that remains.

Tool outputs never cross (they hold balances and card data); the brief carries the facts
the next agent needs instead. This is the answer to context leaks between agents."""

from __future__ import annotations

import re

from livekit.agents import llm

from shared_state import HandoffBrief

CARRIED_TURNS = 6
CONTEXT_POLICY = f"brief+last{CARRIED_TURNS}turns-masked-no-tools"
BRIEF_PREFIX = "Handoff brief:"

_MONEY = re.compile(
    r"(?:-?\$\s?\d[\d,]*(?:\.\d{1,2})?)"
    r"|(?:\b\d[\d,]*(?:\.\d{1,2})?\s?(?:dollars?|usd|cents?)\b)",
    re.IGNORECASE,
)
# Any run of 4+ digits (with optional spaces/dashes) is a PIN, card or account number here.
_LONG_DIGITS = re.compile(r"(?<![$\d])(?<!\$\s)\b\d(?:[\s-]?\d){3,}\b(?!\s?(?:dollars?|usd)\b)")
_SPOKEN_MONEY = re.compile(
    r"\b(?:(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|"
    r"fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|"
    r"seventy|eighty|ninety|hundred|thousand|million|and|minus|-|\s)+)"
    r"\s(?:dollars?|cents?)\b",
    re.IGNORECASE,
)


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
        text = _SPOKEN_MONEY.sub(" [amount]", text)
    return _LONG_DIGITS.sub("[number]", text)


def carried_context(previous: llm.ChatContext, brief: HandoffBrief) -> llm.ChatContext:
    """Build the next agent's starting context from the previous agent's."""
    ctx = llm.ChatContext.empty()
    turns = [
        item
        for item in previous.items
        if item.type == "message" and item.role in ("user", "assistant") and item.text_content
    ][-CARRIED_TURNS:]
    for message in turns:
        assert isinstance(message, llm.ChatMessage)
        ctx.add_message(
            role=message.role,
            content=mask_sensitive(message.text_content or "", role=message.role),
        )
    ctx.add_message(role="system", content=f"{BRIEF_PREFIX} {brief.render()}")
    return ctx
