"""3. Concurrent sessions: N text sessions in one process, all at once, each a full call
with the offline model (`OfflineBankLLM`, deterministic, no network):

    start (greeting) -> verify (customer number + PIN) -> balance (handoff + get_balance)
    -> transactions (handoff + get_transactions) -> "lock my card" (handoff + read-back)
    -> "yes" (confirmed lock)

Every caller is a distinct synthetic customer (PIN 0000). A turn is one `session.run()`.
An error is an exception or a turn whose reply is not the expected one. Memory: RSS with
all N sessions alive (finished, not yet closed) minus RSS before they were created, after
a warm-up and a GC; divided by N. One shared `Database` pool for the whole process."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from livekit.agents import AgentSession
from livekit.agents.voice.run_result import RunResult

import agents.base
import agents.session
from agents import Greeter, new_session
from models import OfflineBankLLM
from shared_state import SessionState
from tools.db import Database, seed_synthetic

from .common import BenchResult, Stats, Table, bench_database, settle_memory, verdict

LEVELS = (50, 100, 200, 400)
POOL_SIZE = 40
TARGET_SESSIONS = 200
TARGET_MB_PER_SESSION = 2.0


@dataclass
class CallOutcome:
    turns: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    finished: int = 0


def _script(customer_number: str) -> list[tuple[str, str]]:
    """(caller says, the reply must contain)."""
    return [
        (f"My customer number is {customer_number} and my PIN is 0000", "you're verified"),
        ("What's my balance?", "available balance"),
        ("Show me my recent transactions", "most recent transaction"),
        ("I want to lock my card", "Please say yes to confirm"),
        ("Yes", "is now locked"),
    ]


def _last_reply(result: Any) -> str:
    texts = [
        e.item.text_content or ""
        for e in result.events
        if e.type == "message" and e.item.role == "assistant"
    ]
    return texts[-1] if texts else ""


async def _call(
    db: Database,
    customer_number: str,
    outcome: CallOutcome,
    started: asyncio.Event,
    release: asyncio.Event,
    alive: list[AgentSession[SessionState]],
) -> None:
    state = SessionState(db=db, channel="console")
    session = new_session(state, llm=OfflineBankLLM())
    alive.append(session)
    try:
        await started.wait()
        t = time.perf_counter()
        first = await session.start(Greeter(), capture_run=True)
        await first
        outcome.turns.append(time.perf_counter() - t)
        for said, expected in _script(customer_number):
            t = time.perf_counter()
            result: RunResult[Any] = await session.run(user_input=said)
            outcome.turns.append(time.perf_counter() - t)
            reply = _last_reply(result)
            if expected.lower() not in reply.lower():
                outcome.errors.append(f"{customer_number}: {said!r} -> {reply[:80]!r}")
                break
    except Exception as exc:  # counted, not raised: the benchmark reports errors
        outcome.errors.append(f"{customer_number}: {type(exc).__name__}: {exc}")
    outcome.finished += 1
    await release.wait()  # keep the session alive until memory was measured


@dataclass
class Level:
    sessions: int
    turns: int
    wall_s: float
    turns_per_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    errors: int
    mb_per_session: float
    first_error: str


async def _level(db: Database, numbers: list[str]) -> Level:
    alive: list[AgentSession[SessionState]] = []
    outcome = CallOutcome()
    started, release = asyncio.Event(), asyncio.Event()
    before = settle_memory()
    tasks = [asyncio.create_task(_call(db, n, outcome, started, release, alive)) for n in numbers]
    await asyncio.sleep(0)
    t0 = time.perf_counter()
    started.set()
    await _wait_until_finished(outcome, len(numbers), tasks)
    wall = time.perf_counter() - t0
    during = settle_memory()
    release.set()
    await asyncio.gather(*tasks)
    for session in alive:
        await session.aclose()
        await agents.base.flush_background(session.userdata)
    turns = Stats.of(outcome.turns)
    return Level(
        sessions=len(numbers),
        turns=turns.n,
        wall_s=wall,
        turns_per_s=turns.n / wall,
        p50_ms=turns.p50_ms,
        p99_ms=turns.p99_ms,
        max_ms=turns.max_ms,
        errors=len(outcome.errors),
        mb_per_session=(during - before) / len(numbers) / 1024 / 1024,
        first_error=outcome.errors[0] if outcome.errors else "",
    )


_TURNS_PER_CALL = 6  # greeting + 5 caller turns


async def _wait_until_finished(
    outcome: CallOutcome, n: int, tasks: list[asyncio.Task[None]]
) -> None:
    """Every call has either done all its turns or recorded an error."""
    while True:
        done_calls = outcome.finished
        if done_calls >= n or all(t.done() for t in tasks):
            return
        await asyncio.sleep(0.005)


async def run(*, smoke: bool = False, scale: float = 1.0) -> BenchResult:
    levels = (5,) if smoke else tuple(max(5, round(n * min(scale, 1.0))) for n in LEVELS)
    result = BenchResult("concurrency", "3. Concurrent text sessions in one process")
    total = sum(levels) + 5
    async with bench_database() as bdb:
        await seed_synthetic(bdb.dsn, total, transactions_per_customer=50)
        db = await Database.connect(bdb.dsn, max_size=POOL_SIZE)
        try:
            rows = await db.pool.fetch(
                "SELECT customer_number FROM customers WHERE customer_number::bigint >= 500000"
                " ORDER BY id"
            )
            numbers = [r["customer_number"] for r in rows]
            warm = await _level(db, numbers[:5])  # imports, statements, pool connections
            if warm.errors:
                raise RuntimeError(f"warm-up call failed: {warm.first_error}")
            offset = 5
            measured = []
            for n in levels:
                measured.append(await _level(db, numbers[offset : offset + n]))
                offset += n
        finally:
            await db.close()

    table = Table(
        f"N concurrent sessions, 6 turns each (greeting + 5 caller turns), pool max_size="
        f"{POOL_SIZE}",
        [
            "sessions",
            "turns",
            "wall s",
            "turns/s",
            "p50 turn ms",
            "p99 turn ms",
            "max ms",
            "errors",
            "MB/session",
        ],
    )
    for m in measured:
        table.add(
            m.sessions,
            m.turns,
            m.wall_s,
            m.turns_per_s,
            m.p50_ms,
            m.p99_ms,
            m.max_ms,
            m.errors,
            f"{m.mb_per_session:.2f}",
        )
    result.tables.append(table)
    for m in measured:
        if m.errors:
            result.notes.append(f"{m.sessions} sessions, first error: {m.first_error}")
    at_target = [m for m in measured if m.sessions == TARGET_SESSIONS]
    if at_target:
        m = at_target[0]
        ok = m.errors == 0 and m.mb_per_session <= TARGET_MB_PER_SESSION
        result.targets_met = ok
        result.summary = (
            f"concurrency: {TARGET_SESSIONS} sessions, {m.turns_per_s:.0f} turns/s, p99 turn "
            f"{m.p99_ms:.0f} ms, {m.errors} errors, {m.mb_per_session:.2f} "
            f"MB/session -> {verdict(ok)} (target 0 errors, <= {TARGET_MB_PER_SESSION} MB/"
            f"session); "
            + ", ".join(
                f"{int(x.sessions)}: {x.turns_per_s:.0f} t/s p99 {x.p99_ms:.0f} ms "
                f"{int(x.errors)} err"
                for x in measured
                if x is not m
            )
        )
    else:
        m = measured[-1]
        result.summary = (
            f"concurrency: {m.sessions} sessions, {m.turns_per_s:.0f} turns/s, p99 "
            f"{m.p99_ms:.0f} ms, {m.errors} errors, {m.mb_per_session:.2f} MB/"
            "session (target level 200 not run)"
        )
        if m.errors:
            raise RuntimeError(f"concurrent sessions failed: {m.first_error}")
    return result
