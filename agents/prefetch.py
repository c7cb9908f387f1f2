"""Acting on the brief in code: the read a desk would make first, made during the handoff.

A handoff used to cost three sequential model calls before the caller heard the answer
(transfer, the new desk calling its read tool, the new desk speaking). When the brief holds
a clear request whose read tool needs no further slot (balance, recent transactions, the
charge the caller does not recognise, the card list), the transfer starts that read itself,
while livekit switches agents and the audit row is written. The new desk puts the call and
its output into its context, so its one model call speaks the answer.

The read runs as the session's tool executor would run it: the desk's own function tool
with a real `RunContext`, so the identity guard (`require_principal`) and its refusal audit
are the same ones. Only reads are prefetched:
a card write's first call (no `confirm`) only reads the card back; the write itself still
needs the caller's yes on their next turn."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from livekit.agents import RunContext, ToolError, llm, utils

from shared_state import SessionState

logger = logging.getLogger("bank.agents")

# Prefetched calls carry this call-id prefix: a transcript (and the offline model) can tell
# a read the desk made on entry from one the model asked for.
PREFETCH_CALL_PREFIX = "prefetch_"
INTERNAL_ERROR = "An internal error occurred"


@dataclass(frozen=True)
class OpeningRead:
    """The read tool a desk runs on entry, and its arguments (as a model would send them)."""

    tool: str
    arguments: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ReadResult:
    call_id: str
    tool: str
    arguments: str
    output: str
    is_error: bool

    def items(self) -> list[llm.ChatItem]:
        """The call and its output as chat items, stamped now (when the desk takes the
        floor), so transcripts order them after the handoff and before the answer."""
        return [
            llm.FunctionCall(call_id=self.call_id, name=self.tool, arguments=self.arguments),
            llm.FunctionCallOutput(
                call_id=self.call_id, name=self.tool, output=self.output, is_error=self.is_error
            ),
        ]


def start_read(
    ctx: RunContext[SessionState], agent: Any, read: OpeningRead
) -> asyncio.Task[ReadResult | None]:
    """Start `read` on the next `agent`'s own tool, inside the transfer tool (so it overlaps
    the agent switch and the audit write). The new agent awaits it in `on_enter`."""
    return asyncio.get_running_loop().create_task(_run(ctx, agent, read))


async def _run(ctx: RunContext[SessionState], agent: Any, read: OpeningRead) -> ReadResult | None:
    tool = next(
        (t for t in agent.tools if isinstance(t, llm.FunctionTool) and t.id == read.tool), None
    )
    if tool is None:
        logger.warning("prefetch: %s has no tool %s", type(agent).__name__, read.tool)
        return None
    raw = json.dumps(read.arguments)
    call = llm.FunctionCall(
        call_id=utils.shortuuid(PREFETCH_CALL_PREFIX), name=read.tool, arguments=raw
    )
    run_ctx: RunContext[SessionState] = RunContext(
        session=ctx.session, speech_handle=ctx.speech_handle, function_call=call
    )
    is_error = False
    try:
        # Called as the executor calls it, minus livekit's argument validation: that builds
        # a pydantic model per call (~20 ms of CPU on the event loop, on this box), and
        # these arguments come from code (typed slots, database rows), not from a model.
        output = str(await tool(run_ctx, **read.arguments))
    except ToolError as refused:  # as the executor does: the model hears the tool's words
        output, is_error = refused.message, True
    except Exception:
        logger.exception("prefetch of %s failed", read.tool)
        output, is_error = INTERNAL_ERROR, True
    return ReadResult(call.call_id, read.tool, raw, output, is_error)


def is_prefetched(item: llm.ChatItem) -> bool:
    return item.type in ("function_call", "function_call_output") and item.call_id.startswith(
        PREFETCH_CALL_PREFIX
    )
