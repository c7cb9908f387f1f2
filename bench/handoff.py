"""1. Handoff overhead: one caller turn in which the greeter's model calls
`transfer_to_<specialist>` and the specialist speaks its opening line, through a real
`AgentSession` driven by a zero-latency scripted LLM.

* ours: `new_session` + `Greeter` with a PIN-verified caller; the real policy, audit row
  and checkpoint upsert (the room name is set, as for a real call) in one DB statement,
  brief and carried context; the specialist's opening is a `generate_reply`. The audit
  write starts at the decision and the specialist's LLM call waits for it to be durable
  (handoffs/audit.py), so the timed turn always includes a committed audit row. The
  specialist also makes its read on entry (agents/prefetch.py) and the greeter's response
  carries the acknowledgement (agents/acknowledgement.py): the turn does that much more.
* bare: a plain livekit-agents `Agent` whose tool returns another `Agent` (carrying
  `chat_ctx`), whose `on_enter` calls `generate_reply`; no policy, no audit, no DB.

Both run in the same process, interleaved session by session. Between timed hops the
caller goes back to the front desk (untimed) so each session does several handoffs."""

from __future__ import annotations

import time
from typing import Any

from livekit.agents import Agent, AgentSession, RunContext, function_tool, llm
from livekit.agents.voice.run_result import RunResult

import agents.base
import agents.session
from agents import Greeter, new_session
from agents.verification import bind_principal
from models.scripted import ToolCall
from shared_state import Assurance, SessionState
from tools.db import Database

from .common import (
    BenchResult,
    ScriptedLLM,
    Stats,
    Table,
    bench_database,
    verdict,
)

SPECIALISTS = ("balance", "transactions", "card_security")
HOPS_PER_SESSION = 6  # 12 accepted handoffs per session, under the policy's budget of 16
TARGET_RATIO = 1.3
TARGET_ADDED_MS = 5.0


class BareSpecialist(Agent):
    def __init__(self, name: str, chat_ctx: Any = None) -> None:
        super().__init__(instructions=f"You are the {name} desk.", id=name, chat_ctx=chat_ctx)

    async def on_enter(self) -> None:
        self.session.generate_reply(instructions="Introduce yourself in one line.")

    @function_tool
    async def transfer_to_greeter(self, ctx: RunContext[Any], reason: str = "") -> Agent:
        """Hand the caller back to the front desk.

        Args:
            reason: why
        """
        return BareGreeter(chat_ctx=self.chat_ctx)


class BareGreeter(Agent):
    def __init__(self, chat_ctx: Any = None) -> None:
        super().__init__(instructions="You are the greeter.", id="greeter", chat_ctx=chat_ctx)

    async def on_enter(self) -> None:
        self.session.generate_reply(instructions="Greet the caller.")

    async def _to(self, name: str) -> Agent:
        return BareSpecialist(name, chat_ctx=self.chat_ctx)

    @function_tool
    async def transfer_to_balance(self, ctx: RunContext[Any], reason: str = "") -> Agent:
        """Hand the caller to the balance desk.

        Args:
            reason: why
        """
        return await self._to("balance")

    @function_tool
    async def transfer_to_transactions(self, ctx: RunContext[Any], reason: str = "") -> Agent:
        """Hand the caller to the transactions desk.

        Args:
            reason: why
        """
        return await self._to("transactions")

    @function_tool
    async def transfer_to_card_security(self, ctx: RunContext[Any], reason: str = "") -> Agent:
        """Hand the caller to card security.

        Args:
            reason: why
        """
        return await self._to("card_security")


# Ours (issue 14): the acknowledgement in the transfer's response, and the read the next
# desk makes on entry before its opening line.
_OURS = ["message", "function_call", "function_call_output", "agent_handoff"]
_OURS += ["function_call", "function_call_output", "message"]
_BARE = ["function_call", "function_call_output", "agent_handoff", "message"]


async def _hop_turn(session: AgentSession[Any], model: ScriptedLLM, target: str) -> float:
    """The timed turn: transfer tool call, handoff, the specialist's opening line."""
    opening = f"Hi, this is the {target} desk. How can I help?"
    model.push(ToolCall(f"transfer_to_{target}", {"reason": "caller asked"}), opening)
    started = time.perf_counter()
    result: RunResult[Any] = await session.run(user_input=f"Put me through to {target}, please.")
    elapsed = time.perf_counter() - started
    events = list(result.events)
    kinds = [e.type for e in events]
    last = events[-1].item if events else None
    if (
        kinds != (_BARE if isinstance(session.current_agent, BareSpecialist) else _OURS)
        or not isinstance(last, llm.ChatMessage)
        or last.text_content != opening
        or model.remaining
    ):
        raise RuntimeError(f"unexpected handoff turn to {target}: {kinds}")
    return elapsed


async def _back_to_greeter(session: AgentSession[Any], model: ScriptedLLM) -> None:
    model.push(ToolCall("transfer_to_greeter", {"reason": "something else"}), "Front desk again.")
    await session.run(user_input="Something else, please.")
    if type(session.current_agent).__name__ not in ("Greeter", "BareGreeter"):
        raise RuntimeError("did not return to the front desk")


async def _ours(db: Database, customer: Any, hops: int, index: int) -> list[float]:
    state = SessionState(db=db, channel="console", room_name=f"bench-handoff-{index}")
    bind_principal(state, customer, Assurance.PIN)
    model = ScriptedLLM()
    samples: list[float] = []
    async with new_session(state, llm=model) as session:
        await session.start(Greeter())
        for i in range(hops):
            samples.append(await _hop_turn(session, model, SPECIALISTS[i % len(SPECIALISTS)]))
            await _back_to_greeter(session, model)
    await agents.base.flush_background(state)
    return samples


async def _bare(hops: int) -> list[float]:
    model = ScriptedLLM()
    samples: list[float] = []
    session: AgentSession[None] = AgentSession(
        llm=model, vad=None, turn_handling={"turn_detection": None}
    )
    async with session:
        model.push("Hello.")
        await session.start(BareGreeter())
        for i in range(hops):
            samples.append(await _hop_turn(session, model, SPECIALISTS[i % len(SPECIALISTS)]))
            await _back_to_greeter(session, model)
    return samples


async def run(*, smoke: bool = False, scale: float = 1.0) -> BenchResult:
    sessions = 1 if smoke else max(4, round(40 * scale))
    hops = 2 if smoke else HOPS_PER_SESSION
    result = BenchResult("handoff", "1. Handoff overhead (scripted zero-latency LLM)")
    async with bench_database() as bdb:
        db = await Database.connect(bdb.dsn)
        try:
            customer = await db.customer_by_number("1001")
            # Warm-up: imports, pydantic schemas, prepared statements, the pool.
            for i in range(1 if smoke else 3):
                await _ours(db, customer, hops, -1 - i)
                await _bare(hops)
            ours: list[float] = []
            bare: list[float] = []
            for i in range(sessions):  # interleaved: both see the same machine noise
                if i % 2:
                    bare += await _bare(hops)
                    ours += await _ours(db, customer, hops, i)
                else:
                    ours += await _ours(db, customer, hops, i)
                    bare += await _bare(hops)
            audit_rows = await db.pool.fetchval("SELECT count(*) FROM handoff_audit")
        finally:
            await db.close()

    o, b = Stats.of(ours), Stats.of(bare)
    ratio = o.p50_ms / b.p50_ms
    added = o.p50_ms - b.p50_ms
    ok = ratio <= TARGET_RATIO and added <= TARGET_ADDED_MS
    table = Table(
        "Handoff turn: transfer tool call -> handoff -> specialist's opening line",
        ["system", "n", "p50 ms", "p99 ms", "mean ms", "max ms"],
    )
    table.add("bare livekit Agent -> Agent", b.n, b.p50_ms, b.p99_ms, b.mean_ms, b.max_ms)
    table.add("ours (policy+audit+checkpoint+DB)", o.n, o.p50_ms, o.p99_ms, o.mean_ms, o.max_ms)
    verdict_table = Table("Against the targets", ["metric", "value", "target", "verdict"])
    verdict_table.add(
        "ratio p50 (ours/bare)",
        f"{ratio:.2f}x",
        f"<= {TARGET_RATIO}x",
        verdict(ratio <= TARGET_RATIO),
    )
    verdict_table.add(
        "added p50",
        f"{added:.2f} ms",
        f"<= {TARGET_ADDED_MS} ms",
        verdict(added <= TARGET_ADDED_MS),
    )
    verdict_table.add("ratio p99 (ours/bare)", f"{o.p99_ms / b.p99_ms:.2f}x", "-", "-")
    result.tables += [table, verdict_table]
    result.targets_met = ok
    result.notes.append(
        f"{sessions} sessions x {hops} timed hops per system, interleaved; {audit_rows} audit "
        "rows written (timed hops, untimed returns to the greeter and warm-up)."
    )
    result.summary = (
        f"handoff: ours p50 {o.p50_ms:.2f} ms / p99 {o.p99_ms:.2f} ms vs bare p50 "
        f"{b.p50_ms:.2f} ms / p99 {b.p99_ms:.2f} ms; ratio {ratio:.2f}x, added "
        f"{added:.2f} ms p50 -> {verdict(ok)} (target <= {TARGET_RATIO}x and "
        f"<= {TARGET_ADDED_MS} ms)"
    )
    return result
