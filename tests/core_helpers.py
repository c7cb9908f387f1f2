"""Helpers for the multi-agent core tests (tests/test_core_*.py).

Everything goes through the public surface: `SessionState`, `new_session`, `Greeter`
and a `ScriptedLLM`. Helpers only build scripts and read what the session recorded."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from livekit.agents import Agent, AgentSession, llm
from scripted_llm import ScriptedLLM, ToolCall

import agents.base
import agents.session
from agents import Greeter, new_session
from agents.prefetch import PREFETCH_CALL_PREFIX
from handoffs import SPECIALISTS
from handoffs.context import HANDOFF_ACKNOWLEDGEMENTS
from shared_state import SessionState
from tools.db import Database

PINS = {"1001": "1234", "1002": "5678", "1003": "2468", "1004": "1357"}


class SnapshotLLM(ScriptedLLM):
    """A ScriptedLLM that also keeps the *text* of every context at the moment of the call.

    `.contexts` holds shallow copies whose items are shared with the live session, so an
    in-place edit made later (e.g. PIN redaction) rewrites them retroactively; `.snapshots`
    cannot be rewritten and shows exactly what each model call was sent."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.snapshots: list[str] = []

    def chat(self, *, chat_ctx: llm.ChatContext, **kwargs: Any) -> llm.LLMStream:
        self.snapshots.append(all_text(chat_ctx))
        return super().chat(chat_ctx=chat_ctx, **kwargs)


@dataclass
class Desk:
    session: AgentSession[SessionState]
    state: SessionState
    llm: SnapshotLLM
    db: Database

    def push(self, *turns: Any) -> None:
        self.llm.push(*turns)

    async def say(self, text: str, *turns: Any) -> Any:
        """Queue the model's turns for this caller turn, run it, and check that the script
        was consumed exactly (a test that scripts too many turns is a broken test)."""
        self.llm.push(*turns)
        result = await self.session.run(user_input=text)
        assert self.llm.remaining == 0, f"{self.llm.remaining} scripted turn(s) not used"
        return result

    async def verify(
        self, customer_number: str = "1001", reply: str = "Thanks, you're verified."
    ) -> Any:
        pin = PINS[customer_number]
        return await self.say(
            f"My customer number is {customer_number} and my PIN is {pin}",
            ToolCall("verify_identity", {"customer_number": customer_number, "pin": pin}),
            reply,
        )

    async def settle(self) -> None:
        await settle(self.state)


async def settle(state: SessionState) -> None:
    """Wait for the call's background audit/security-event writes."""
    await agents.base.flush_background(state)


@asynccontextmanager
async def desk(
    db: Database,
    script: Iterable[Any] = (),
    *,
    agent: Agent | None = None,
    state: SessionState | None = None,
) -> AsyncIterator[Desk]:
    state = state or SessionState(db=db, channel="console")
    scripted = SnapshotLLM(list(script))
    session = new_session(state, llm=scripted)
    async with session:
        await session.start(agent or Greeter())
        yield Desk(session, state, scripted, db)
    await settle(state)


def assistant_texts(items: Iterable[Any]) -> list[str]:
    return [
        m.text_content or ""
        for m in items
        if getattr(m, "type", None) == "message" and m.role == "assistant"
    ]


def all_text(ctx: llm.ChatContext) -> str:
    """Every string a model would be shown: message text, call arguments, tool outputs."""
    parts: list[str] = []
    for item in ctx.items:
        if item.type == "message":
            parts.append(item.text_content or "")
        elif item.type == "function_call":
            parts.append(f"{item.name}({item.arguments})")
        elif item.type == "function_call_output":
            parts.append(str(item.output))
    return "\n".join(parts)


def said(output: Any) -> str:
    """The sentence a tool output carries for the model to say (tools/outcomes.py)."""
    from tools.outcomes import decode

    text = str(getattr(output, "output", output))
    envelope = decode(text)
    return envelope.say if envelope is not None else text


def result_events(result: Any) -> list[Any]:
    return list(result.events)


def event_kinds(result: Any) -> list[str]:
    return [ev.type for ev in result.events]


def messages_of(result: Any, role: str = "assistant") -> list[str]:
    return [
        ev.item.text_content or ""
        for ev in result.events
        if ev.type == "message" and ev.item.role == role
    ]


def outputs_of(result: Any) -> list[Any]:
    return [ev.item for ev in result.events if ev.type == "function_call_output"]


def call_args(result: Any, name: str) -> list[dict[str, Any]]:
    return [
        json.loads(ev.item.arguments or "{}")
        for ev in result.events
        if ev.type == "function_call" and ev.item.name == name
    ]


def first_system_brief(ctx: llm.ChatContext) -> str | None:
    for item in ctx.items:
        if item.type == "message" and item.role == "system":
            text = item.text_content or ""
            if text.startswith("Handoff brief:"):
                return text
    return None


__all__ = [
    "PINS",
    "agent_class",
    "assert_clean_hop",
    "hop",
    "Desk",
    "ScriptedLLM",
    "SnapshotLLM",
    "ToolCall",
    "all_text",
    "assistant_texts",
    "call_args",
    "desk",
    "event_kinds",
    "first_system_brief",
    "messages_of",
    "outputs_of",
    "prefetched_call",
    "said",
    "settle",
]


def agent_class(agent_id: str) -> type:
    from agents import AGENTS

    return AGENTS[agent_id]


def assert_clean_hop(result: Any, target: str, *, tool: str | None = None) -> str:
    """One accepted handoff in a caller turn: the acknowledgement (to a specialist: the
    caller hears it from the first model response), the transfer call, its empty output (so
    the old agent says nothing), the handoff, the read the new desk made on entry if any,
    and exactly one assistant message from the new agent. Returns that message's text."""
    expect = result.expect
    if target in SPECIALISTS:
        ack = expect.next_event().is_message(role="assistant").event().item.text_content
        assert ack in HANDOFF_ACKNOWLEDGEMENTS, f"not an acknowledgement: {ack!r}"
    expect.next_event().is_function_call(name=tool or f"transfer_to_{target}")
    out = expect.next_event().is_function_call_output().event().item
    assert out.output == "" and not out.is_error, f"old agent produced output: {out.output!r}"
    expect.next_event().is_agent_handoff(new_agent_type=agent_class(target))
    if prefetched_call(result) is not None:
        expect.next_event().is_function_call()
        expect.next_event().is_function_call_output()
    text = expect.next_event().is_message(role="assistant").event().item.text_content
    expect.no_more_events()
    return text or ""


def prefetched_call(result: Any) -> Any:
    """The read the new desk made on entry in this turn (agents/prefetch.py), or None."""
    return next(
        (
            ev.item
            for ev in result.events
            if ev.type == "function_call" and ev.item.call_id.startswith(PREFETCH_CALL_PREFIX)
        ),
        None,
    )


async def hop(d: Desk, target: str, opening: str | None = None, **args: Any) -> Any:
    """Caller asks; the current agent's model calls transfer_to_<target>; the new agent
    opens with one line."""
    opening = opening or f"[{target} opening]"
    result = await d.say(
        f"please put me through to {target}", ToolCall(f"transfer_to_{target}", args), opening
    )
    text = assert_clean_hop(result, target)
    assert text == opening
    return result
