"""The identity guard of every sensitive tool: the principal comes from the session, never
from the model; a call naming arguments the tool does not declare is refused; a step that
must be all-or-nothing holds the floor against barge-in."""

from __future__ import annotations

import json
from typing import Any, NoReturn

from livekit.agents import RunContext, llm

from shared_state import Principal, SessionState
from tools.outcomes import Refused

from .refusals import audit_refusal
from .render import fail


def require_principal(ctx: RunContext[SessionState], *, action: str) -> Principal:
    """The identity guard of every sensitive tool: the principal comes from the session,
    never from the model. Refuses with a clear spoken reason and records the attempt.

    It also refuses a call carrying arguments the tool does not declare (`customer_id`,
    `customer_number`, ...): the schema would silently drop them and answer for the verified
    caller, hiding that the model was steered toward someone else's data."""
    state = ctx.userdata
    principal = state.principal
    forged = undeclared_arguments(ctx)
    if forged:
        audit_refusal(state, kind="forged_argument", detail=f"{action}: {', '.join(forged)}")
    if principal is None or not state.is_verified:
        audit_refusal(state, kind="refused_unverified", detail=action)
        raise fail(Refused(reason="unverified"))
    if forged:
        raise fail(Refused(reason="forged_argument", detail=", ".join(forged)))
    return principal


_MAX_REPORTED_KEYS = 5


def undeclared_arguments(ctx: RunContext[Any]) -> list[str]:
    """Argument names the model sent that the called tool does not declare (sanitised for
    logs and messages). Empty when the tool cannot be found or has no schema."""
    call = ctx.function_call
    try:
        raw = json.loads(call.arguments or "{}")
    except ValueError:
        return []  # livekit already refused unparseable arguments
    if not isinstance(raw, dict) or not raw:
        return []
    agent = ctx.session.current_agent
    tool = _find_tool(agent.tools, call.name)
    if not isinstance(tool, llm.FunctionTool):
        return []  # raw tools take free-form arguments
    declared = _declared_arguments(tool)
    extra = [str(key) for key in raw if key not in declared]
    return [
        "".join(ch for ch in key if ch.isprintable())[:40] or "?"
        for key in extra[:_MAX_REPORTED_KEYS]
    ]


def _find_tool(tools: list[Any], name: str) -> Any:
    """`llm.ToolContext(tools).get_function_tool(name)` without building a ToolContext on
    every call; anything but plain function and provider tools (a toolset, a wrapped tool)
    takes livekit's own path, so the answer is always the same."""
    for tool in tools:
        if isinstance(tool, (llm.FunctionTool, llm.RawFunctionTool)):
            if tool.info.name == name:
                return tool
        elif not isinstance(tool, llm.ProviderTool):
            return llm.ToolContext(tools).get_function_tool(name)
    return None


# Declared argument names per tool function. A tool's signature never changes, but building
# the pydantic model to read it took ~2 ms on every call that carried arguments (e.g. every
# confirmed card write); livekit's own per-call validation builds its own model regardless.
_DECLARED: dict[Any, frozenset[str]] = {}


def _declared_arguments(tool: llm.FunctionTool[..., Any]) -> frozenset[str]:
    key = getattr(tool, "__wrapped__", tool)  # the function, shared by every bound copy
    declared = _DECLARED.get(key)
    if declared is None:
        model = llm.utils.function_arguments_to_pydantic_model(tool)
        declared = _DECLARED[key] = frozenset(model.model_fields)
    return declared


def hold_the_floor(ctx: RunContext[SessionState], step: str = "transferred") -> None:
    """Make a step all-or-nothing. A barge-in while a tool runs makes livekit cancel it
    and drop what it returns ("the agent handoff was interrupted and did not happen"),
    possibly after our policy, audit and checkpoint had already moved on, leaving the call
    half-switched (or a verification half-done, its PIN not yet redacted). So the turn that
    hands off or verifies cannot be interrupted; the caller's words are heard next."""
    try:
        ctx.disallow_interruptions()
    except RuntimeError:  # already interrupted: nothing was decided yet, so refuse cleanly
        raise fail(Refused(reason="interrupted", detail=step)) from None


def refuse_unknown_transaction(
    state: SessionState, transaction_ref: int, *, action: str
) -> NoReturn:
    """A transaction reference that is not the verified caller's (another customer's, or
    one that cannot exist): recorded, and refused with the same words either way, so the
    caller learns nothing about other customers' transactions."""
    audit_refusal(state, kind="dispute_unknown_transaction", detail=f"{action}:{transaction_ref}")
    raise fail(Refused(reason="unknown_transaction"))
