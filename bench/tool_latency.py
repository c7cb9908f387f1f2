"""2. Tool latency: `get_balance`, `get_transactions` and `lock_card` through the tool layer
vs a bare `SELECT 1` on the same asyncpg pool, at 1 and at 100 concurrent callers.

"Through the tool layer" means the agent's own `@function_tool` methods awaited with a real
`RunContext` (a session holding a PIN-verified `SessionState`), exactly what the session's
tool executor awaits; no LLM and no speech scheduling. Two columns:

* `tool`: our code: identity guard, argument checks, `Database` (retry wrapper, pool,
  query), speech formatting. Arguments are parsed once, as the executor would have.
* `+ lk args`: additionally livekit's per-call `prepare_function_arguments` (JSON parsing and
  pydantic validation), which the session executor runs on every call. Framework cost.

Each concurrent caller is its own synthetic customer (own accounts and card), so writes
never contend on one row. `lock_card` is measured on both paths: the read-back (first
call) and the confirmed write (second call, `confirm=true`, on the caller's next turn)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from livekit.agents import AgentSession

from agents import BalanceAgent, CardSecurityAgent, TransactionsAgent, new_session
from agents.base import BankAgent
from agents.verification import bind_principal
from shared_state import Assurance, SessionState
from tools.db import Database, seed_synthetic
from tools.outcomes import decode

from .common import (
    BenchResult,
    ScriptedLLM,
    Stats,
    Table,
    ToolCaller,
    bench_database,
    captured_sql,
    verdict,
)

POOL_SIZE = 20
TARGET_RATIO = 2.0
TARGET_P99_MS = 10.0


@dataclass
class Caller:
    """One verified caller with the three desks' tools at hand."""

    state: SessionState
    balance: ToolCaller
    transactions: ToolCaller
    cards: ToolCaller
    card_id: int
    customer_id: int


async def _callers(db: Database, count: int) -> tuple[list[Caller], list[AgentSession[Any]]]:
    rows = await db.pool.fetch(
        "SELECT c.id, c.customer_number, k.id AS card_id FROM customers c "
        "JOIN cards k ON k.customer_id = c.id WHERE c.customer_number::bigint >= 500000 "
        "ORDER BY c.id LIMIT $1",
        count,
    )
    callers = []
    sessions: list[AgentSession[Any]] = []

    async def desk(state: SessionState, agent: BankAgent) -> ToolCaller:
        # A running session whose current agent owns the tools, as when the session's
        # executor calls them (the identity guard looks the called tool up on it).
        caller = await ToolCaller.started(new_session(state, llm=ScriptedLLM()), agent)
        sessions.append(caller.session)
        return caller

    for row in rows:
        customer = await db.customer_by_number(row["customer_number"])
        state = SessionState(db=db, channel="console")
        bind_principal(state, customer, Assurance.PIN)
        callers.append(
            Caller(
                state,
                await desk(state, BalanceAgent()),
                await desk(state, TransactionsAgent()),
                await desk(state, CardSecurityAgent()),
                row["card_id"],
                row["id"],
            )
        )
    return callers, sessions


Op = Callable[[], Awaitable[float]]


async def _ops(db: Database, c: Caller, *, validate: bool) -> dict[str, Op]:
    """Every operation for one caller, bound up front so only the call itself is timed
    (and no other caller's setup CPU lands inside a timed window)."""

    async def bare() -> float:
        t = time.perf_counter()
        async with db.pool.acquire() as conn:
            await conn.fetchval("SELECT 1")
        return time.perf_counter() - t

    async def bare_write() -> float:
        # Reference only (not a target): the cheapest durable write, one row, one round
        # trip, committed (WAL flushed to disk), on the caller's own card. What a confirmed
        # card write cannot go below, whatever the code around it does.
        t = time.perf_counter()
        async with db.pool.acquire() as conn:
            await conn.execute("UPDATE cards SET updated_at = now() WHERE id = $1", c.card_id)
        return time.perf_counter() - t

    async def tool(bound: ToolCaller, name: str, args: dict[str, Any]) -> Op:
        fn = await bound.bind(name, args, validate_each_call=validate)

        async def op() -> float:
            t = time.perf_counter()
            out = await fn()
            elapsed = time.perf_counter() - t
            if not isinstance(out, str) or not out:
                raise RuntimeError(f"{name} returned {out!r}")
            return elapsed

        return op

    async def own_sql(query: Callable[[Database], Awaitable[Any]]) -> Op:
        # Reference only: the exact SQL (and arguments) the tool's query sends, captured
        # once, then run bare on the same pool. Tool minus this row = the tool layer.
        sql, args = await captured_sql(db, query)

        async def op() -> float:
            t = time.perf_counter()
            async with db.pool.acquire() as conn:
                await conn.fetch(sql, *args)
            return time.perf_counter() - t

        return op

    read_back = await c.cards.bind("lock_card", {}, validate_each_call=validate)
    confirm = await c.cards.bind("lock_card", {"confirm": True}, validate_each_call=validate)

    async def lock_write() -> float:
        first = await read_back()
        if "Please say yes" not in _said(first):
            raise RuntimeError(f"lock_card read-back: {first!r}")
        # The caller heard the read-back and said "yes" on the next turn (agents.consent
        # judges the caller's own words against the question they answered).
        c.state.heard_before = _said(first)
        c.state.caller_words = "yes"
        c.state.user_turns += 1
        t = time.perf_counter()
        out = await confirm()
        elapsed = time.perf_counter() - t
        if not _said(out).startswith("Done"):
            raise RuntimeError(f"lock_card confirm: {out!r}")
        await db.set_card_status(  # untimed reset for the next iteration
            c.customer_id,
            c.card_id,
            "active",
            reason="bench reset",
            actor="bench",
            idempotency_key=f"bench-reset:{c.state.session_id}:{c.state.user_turns}",
        )
        c.state.user_turns += 1
        return elapsed

    return {
        BARE: bare,
        BARE_WRITE: bare_write,
        OWN_SQL["get_balance"]: await own_sql(lambda d: d.accounts(c.customer_id)),
        "get_balance": await tool(c.balance, "get_balance", {}),
        OWN_SQL["get_transactions (3 latest)"]: await own_sql(
            lambda d: d.transactions(c.customer_id)
        ),
        "get_transactions (3 latest)": await tool(c.transactions, "get_transactions", {}),
        OWN_SQL["lock_card (read-back)"]: await own_sql(lambda d: d.cards(c.customer_id)),
        "lock_card (read-back)": await tool(c.cards, "lock_card", {}),
        "lock_card (confirmed write)": lock_write,
    }


BARE = "SELECT 1 (bare, same pool)"
BARE_WRITE = "UPDATE 1 row, durable commit (bare, reference)"
_READS = ("get_balance", "get_transactions (3 latest)", "lock_card (read-back)")
# Each read tool's own query alone, bare: what the query costs the database (vs SELECT 1).
OWN_SQL = {name: f"{name}: its SQL alone (bare, reference)" for name in _READS}
OPS = [BARE, BARE_WRITE, *(op for name in _READS for op in (OWN_SQL[name], name))]
OPS.append("lock_card (confirmed write)")
REFERENCES = {BARE, BARE_WRITE, *OWN_SQL.values()}


async def _measure(ops: list[Op], per_caller: int) -> list[float]:
    async def worker(op: Op) -> list[float]:
        return [await op() for _ in range(per_caller)]

    chunks = await asyncio.gather(*(worker(op) for op in ops))
    return [s for chunk in chunks for s in chunk]


async def run(*, smoke: bool = False, scale: float = 1.0) -> BenchResult:
    levels = (1, 10) if smoke else (1, 100)
    serial_iters = 10 if smoke else max(50, round(400 * scale))
    concurrent_iters = 2 if smoke else max(5, round(20 * scale))
    rounds = 1 if smoke else 3
    result = BenchResult("tools", "2. Tool latency (tool layer vs bare SELECT 1, same pool)")
    async with bench_database() as bdb:
        await seed_synthetic(bdb.dsn, max(levels), transactions_per_customer=50)
        db = await Database.connect(bdb.dsn, max_size=POOL_SIZE, min_size=POOL_SIZE)
        try:
            callers, sessions = await _callers(db, max(levels))
            tables = []
            verdicts = Table(
                "Against the targets (judged on `tool`, our code)",
                ["callers", "tool", "p50 / bare p50", "target", "p99 ms", "target", "verdict"],
            )
            all_ok = True
            bare_p99_top = float("nan")
            refs: dict[int, tuple[Stats, Stats]] = {}
            layer: dict[int, list[str]] = {}
            for level in levels:
                group = callers[:level]
                per_caller = serial_iters if level == 1 else concurrent_iters
                samples: dict[tuple[str, bool], list[float]] = {}
                bound = {v: [await _ops(db, c, validate=v) for c in group] for v in (False, True)}
                for validate in (False, True):  # warm-up: prepared statements, schemas
                    for name in OPS:
                        await _measure([ops[name] for ops in bound[validate]], 2)
                for _ in range(rounds):  # round-robin: each op sees the same noise
                    for validate in (False, True):
                        for name in OPS:
                            got = await _measure(
                                [ops[name] for ops in bound[validate]],
                                max(1, per_caller // rounds),
                            )
                            samples.setdefault((name, validate), []).extend(got)
                bare = Stats.of(samples[(BARE, False)])
                refs[level] = (bare, Stats.of(samples[(BARE_WRITE, False)]))
                layer[level] = [
                    f"{name} {Stats.of(samples[(name, False)]).p50_ms / own:.2f}x its SQL "
                    f"({own / bare.p50_ms:.2f}x SELECT 1)"
                    for name in _READS
                    for own in [Stats.of(samples[(OWN_SQL[name], False)]).p50_ms]
                ]
                table = Table(
                    f"{level} concurrent caller(s), pool max_size={POOL_SIZE}",
                    [
                        "operation",
                        "n",
                        "p50 ms",
                        "p99 ms",
                        "x bare p50",
                        "+ lk args p50",
                        "+ lk args p99",
                        "x bare p50 (+lk)",
                    ],
                )
                for name in OPS:
                    s = Stats.of(samples[(name, False)])
                    v = Stats.of(samples[(name, True)])
                    table.add(
                        name,
                        s.n,
                        s.p50_ms,
                        s.p99_ms,
                        f"{s.p50_ms / bare.p50_ms:.2f}",
                        v.p50_ms,
                        v.p99_ms,
                        f"{v.p50_ms / bare.p50_ms:.2f}",
                    )
                    if name in REFERENCES:
                        continue
                    ratio = s.p50_ms / bare.p50_ms
                    ok = ratio <= TARGET_RATIO
                    p99_target = "-"
                    if level == max(levels):
                        ok = ok and s.p99_ms < TARGET_P99_MS
                        p99_target = f"< {TARGET_P99_MS:.0f}"
                    all_ok = all_ok and ok
                    verdicts.add(
                        level,
                        name,
                        f"{ratio:.2f}x",
                        f"<= {TARGET_RATIO}x",
                        f"{s.p99_ms:.2f}",
                        p99_target,
                        verdict(ok),
                    )
                tables.append(table)
                if level == max(levels):
                    bare_p99_top = bare.p99_ms
            for session in sessions:
                await session.aclose()
        finally:
            await db.close()
    result.tables = [*tables, verdicts]
    result.targets_met = all_ok
    missed = [r[1] + f"@{r[0]}" for r in verdicts.rows if r[-1] == "MISSED"]
    result.notes.append(
        "`tool` = our tool code awaited with a real RunContext; `+ lk args` adds livekit's "
        "per-call argument validation (pydantic model built per call), which the session "
        "executor also runs."
    )
    low, top = min(levels), max(levels)
    read, write = refs[low]
    result.notes.append(
        f"The read tools against their own SQL run bare (p50, {low} caller): "
        + "; ".join(layer[low])
        + ". What a read tool adds over the query it sends is the tool layer (identity "
        "guard, pool/retry wrapper, formatting); the rest of its ratio to SELECT 1 is the "
        "query's own cost in Postgres (index lookups, rows returned)."
    )
    floor = (read.p50_ms + write.p50_ms) / read.p50_ms
    result.notes.append(
        f"Physical floor of `lock_card (confirmed write)`: it must read the caller's cards "
        f"(one round trip, about one bare SELECT 1) and then commit a durable write. The "
        f"cheapest durable write alone (one-row UPDATE, WAL flushed) has p50 "
        f"{write.p50_ms:.3f} ms = {write.p50_ms / read.p50_ms:.1f}x bare SELECT 1 at {low} "
        f"caller(s), so the floor is ~{floor:.1f}x bare"
        + (
            ": the <= 2x target cannot be met by any code with a durable commit on this disk "
            "(turning synchronous_commit off for card writes would meet it and is not done: "
            "a card lock the bank acknowledged must survive a crash)."
            if floor > TARGET_RATIO
            else "."
        )
    )
    top_bare = refs[top][0]
    if bare_p99_top >= TARGET_P99_MS:
        result.notes.append(
            f"At {top} concurrent callers the bare SELECT 1 itself has p50 "
            f"{top_bare.p50_ms:.1f} ms and p99 {bare_p99_top:.1f} ms (target for the tools: "
            f"p99 < {TARGET_P99_MS:.0f} ms): {top} tasks in one process on this 2-core box "
            f"queue on one event loop and {POOL_SIZE} connections, so every call waits for "
            "the other callers' CPU and round trips. A tool that does one query plus its own "
            "work cannot have a lower tail than the bare round trip: the p99 target is out "
            "of reach here whatever the tool code does (it needs more processes and cores)."
        )
    else:
        result.notes.append(
            f"At {top} concurrent callers the bare SELECT 1 has p50 {top_bare.p50_ms:.1f} ms "
            f"and p99 {bare_p99_top:.1f} ms."
        )
    result.summary = (
        "tools: "
        + "; ".join(f"{r[1]}@{r[0]} {r[2]} bare, p99 {r[4]} ms" for r in verdicts.rows)
        + f" -> {verdict(all_ok)}"
        + (f" (missed: {', '.join(missed)})" if missed else "")
    )
    return result


def _said(tool_output: str) -> str:
    """The sentence of a tool's output (tools return their typed outcome and its words)."""
    envelope = decode(tool_output)
    return envelope.say if envelope is not None else tool_output
