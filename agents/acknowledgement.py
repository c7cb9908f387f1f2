"""First words within one model call on a turn that hands off.

A handoff turn needs two sequential model calls before the answer (the transfer, then the
next desk speaking what it read on entry). So that the caller is not left in silence for
both, the first model response carries a short acknowledgement: the model's own words
alongside the transfer call when it says any, or else a fixed line added to that response
here. It is neither a greeting nor a farewell, and it is only said when the call will hand
off (the policy would accept the transfer, or verification has a desk to continue to):
a turn answered by one model call, or a plain tool turn, never hears it."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator

from livekit.agents import FlushSentinel, llm

from handoffs import SPECIALISTS, is_allowed, transfer_tool_name
from handoffs.context import HANDOFF_ACKNOWLEDGEMENTS
from shared_state import SessionState

TRANSFERRING, VERIFYING = HANDOFF_ACKNOWLEDGEMENTS
_TRANSFERS = {transfer_tool_name(target): target for target in SPECIALISTS}


def acknowledgement(
    state: SessionState, from_agent: str, calls: list[llm.FunctionToolCall]
) -> str | None:
    """The line for a response whose first tool call hands the caller to another desk."""
    if not calls:
        return None
    name = calls[0].name
    if name == "verify_identity" and state.pending_intent is not None:
        return VERIFYING  # said before the outcome: fits a refusal as well as a success
    target = _TRANSFERS.get(name)
    if target is not None and _will_switch(state, from_agent, target):
        return TRANSFERRING
    return None


def _will_switch(state: SessionState, from_agent: str, target: str) -> bool:
    """The policy's edge and verification checks (handoffs/policy.py). Its loop guard is
    left out: it counts caller turns, which livekit may not have committed yet when the
    response streams; a transfer it refuses still switches the call (to the front desk)."""
    return target != from_agent and is_allowed(from_agent, target) and state.is_verified


async def acknowledged(
    stream: AsyncIterable[llm.ChatChunk | str | FlushSentinel],
    state: SessionState,
    from_agent: str,
) -> AsyncIterator[llm.ChatChunk | str | FlushSentinel]:
    """`stream` (one model response), with the acknowledgement put before its first tool
    call when the model said nothing before it."""
    said = False
    async for chunk in stream:
        if isinstance(chunk, str):
            said = said or bool(chunk.strip())
        elif isinstance(chunk, llm.ChatChunk) and chunk.delta is not None:
            said = said or bool((chunk.delta.content or "").strip())
            if not said and chunk.delta.tool_calls:
                said = True
                if (line := acknowledgement(state, from_agent, chunk.delta.tool_calls)) is not None:
                    yield line
        yield chunk
