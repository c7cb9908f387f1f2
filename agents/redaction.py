"""Keeping the PIN out of every chat context, in place.

The session's PINs live in `SessionState.pins` (memory only). These helpers scrub chat
items with it: caller and agent messages, tool-call arguments (a `pin` argument always
becomes `[PIN redacted]`, whatever else the model put there) and tool outputs (livekit's
argument-validation errors quote the offending value). They are applied at every point an
item enters a context (the session's item and tool events, the caller's turn before it is
added, the carried context of a handoff) and once more on every context a model is sent
(`BankAgent.llm_node`), so a path that forgets one step still never shows a model a PIN.

At the front desk (the one agent with `verify_identity`) the caller's newest, unanswered
words are the one exception: they may carry the PIN the model must pass to
`verify_identity` (a retry of a known wrong PIN included). The moment a tool call answers
them they are scrubbed like everything else."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from livekit.agents import llm

from tools.pin_redaction import PIN_REDACTED, PinRedactor

VERIFY_TOOL = "verify_identity"


def learn_pin_from_call(pins: PinRedactor, call: llm.FunctionCall) -> None:
    """A `verify_identity` call names the PIN in its arguments, even when livekit refuses
    them (a number instead of a string): the PIN is known from that moment on."""
    if call.name != VERIFY_TOOL:
        return
    args = _json_object(call.arguments)
    if args is not None and "pin" in args:
        pins.add(args["pin"])


def scrub_item(pins: PinRedactor, item: Any) -> None:
    if item.type == "message":
        item.content = [pins.scrub(c) if isinstance(c, str) else c for c in item.content]
    elif item.type == "function_call":
        args = _json_object(item.arguments)
        if args is not None and "pin" in args:
            args["pin"] = PIN_REDACTED
            item.arguments = json.dumps(args)
        item.arguments = pins.scrub(item.arguments or "")
    elif item.type == "function_call_output":
        if isinstance(item.output, str):
            item.output = pins.scrub(item.output)


def scrub_items(pins: PinRedactor, items: Iterable[Any]) -> None:
    for item in items:
        scrub_item(pins, item)


def scrub_contexts(pins: PinRedactor, *contexts: llm.ChatContext | None) -> None:
    for ctx in contexts:
        if ctx is not None:
            scrub_items(pins, ctx.items)


def checks_pins(agent: Any) -> bool:
    """Whether this agent can check a PIN (the front desk's `verify_identity`)."""
    return any(getattr(tool, "id", None) == VERIFY_TOOL for tool in getattr(agent, "tools", ()))


def scrub_for_model(
    pins: PinRedactor, ctx: llm.ChatContext, *, checks_pins: bool, verified: bool = False
) -> None:
    """Scrub a context about to be sent to a model. At the desk that checks PINs the
    caller's newest words stay as said while no tool call has answered them yet, until
    the caller is verified: a caller retrying a PIN must be heard and checked in code.
    Once verified, no model needs a PIN it has heard already (a second identity is refused
    on its customer number alone), so the newest words lose the known PINs too. Every other
    item is scrubbed of every known PIN; at any other desk, where no model needs a PIN, so
    is every PIN a caller names ("my PIN is ...")."""
    keep = _unanswered_caller_turn(ctx) if checks_pins and not verified else None
    if not checks_pins:
        for item in ctx.items:
            if item.type == "message" and item.role == "user":
                pins.learn_named(item.text_content or "")
    for item in ctx.items:
        if item is not keep:
            scrub_item(pins, item)


def _unanswered_caller_turn(ctx: llm.ChatContext) -> Any:
    for item in reversed(ctx.items):
        if item.type == "function_call":
            return None
        if item.type == "message" and item.role == "user":
            return item
    return None


def _json_object(raw: str | None) -> dict[str, Any] | None:
    try:
        value = json.loads(raw or "{}")
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
