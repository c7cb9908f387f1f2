"""6. The real transport: a typed turn through a running livekit-server against the same
turn driven in process, and concurrent text calls through the server with 1 and 2 workers.

* Overhead: the caller types "What's my balance?" at the balance desk (a turn with a tool
  call and no handoff). Through the server: `send_text` on `lk.chat` to the first
  `lk.transcription` stream of the reply arriving at the caller. In process: `session.run`
  to the first assistant message. Same offline model, same database, same run.
* Throughput: N callers at once, each a whole short call (greeting, verify with customer
  number and PIN, balance, recent transactions), through the server to 1 and then 2 Agent
  Server processes (`agent.py dev`), on this one 2-core box."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from livekit.agents import llm

from agents import Greeter, new_session
from local_stack import AgentWorker, LiveKitServer, ensure_livekit_server
from local_stack.caller import Caller, dispatch_token
from models import OfflineBankLLM
from shared_state import SessionState
from tools.db import APP_LOGIN, Database, login_as

from .common import BenchResult, Stats, Table, bench_database

VERIFY = "My customer number is 1001 and my PIN is 1234. What's my balance?"
TURN = "What's my balance?"


async def run(*, smoke: bool = False, scale: float = 1.0) -> BenchResult:
    turns = 3 if smoke else max(5, round(20 * scale))
    calls = 3 if smoke else max(4, round(16 * scale))
    result = BenchResult("transport", "6. Real transport: livekit-server vs in process")
    binary = ensure_livekit_server()
    async with bench_database() as bdb:
        in_process = await _in_process_turns(bdb.dsn, turns)
        logs = Path("bench/.work/transport")
        await asyncio.to_thread(logs.mkdir, parents=True, exist_ok=True)
        with LiveKitServer(binary, log_path=logs / "livekit-server.log") as server:
            first = _worker(server, bdb.dsn, logs / "worker-1.log").start()
            try:
                through_server = await _server_turns(server, turns)
                # 1, 2, then 1 worker again: the box is shared and noisy, so the repeat shows
                # how much of a difference is the second worker and how much is the moment.
                runs = [(1, await _throughput(server, calls))]
                second = _worker(server, bdb.dsn, logs / "worker-2.log").start()
                try:
                    runs.append((2, await _throughput(server, calls)))
                finally:
                    second.stop()
                runs.append((1, await _throughput(server, calls)))
            finally:
                first.stop()

    overhead = Table(
        f"A typed turn at the balance desk (get_balance, no handoff), {turns} turns each",
        ["path", "p50 ms", "p99 ms", "mean ms", "max ms"],
    )
    for name, stats in (("in process", in_process), ("through livekit-server", through_server)):
        overhead.add(name, stats.p50_ms, stats.p99_ms, stats.mean_ms, stats.max_ms)
    result.tables.append(overhead)
    throughput = Table(
        f"{calls} concurrent text calls through livekit-server (greeting + 3 caller turns)",
        ["workers", "wall s", "calls/min", "p50 turn ms", "p99 turn ms", "errors"],
    )
    for workers, run in runs:
        throughput.add(
            workers,
            run.wall_s,
            calls / run.wall_s * 60,
            run.turns.p50_ms,
            run.turns.p99_ms,
            len(run.errors),
        )
        result.notes += [f"{workers} worker(s), failed call: {e}" for e in run.errors[:2]]
    result.tables.append(throughput)
    added = through_server.p50_ms - in_process.p50_ms
    rates = ", ".join(f"{calls / run.wall_s * 60:.0f} on {n}" for n, run in runs)
    result.summary = (
        f"transport: typed turn p50 {through_server.p50_ms:.0f} ms through livekit-server vs "
        f"{in_process.p50_ms:.0f} ms in process ({added:+.0f} ms); {calls} concurrent calls "
        f"per minute by workers: {rates}; {sum(len(run.errors) for _, run in runs)} errors"
    )
    result.notes.append(
        "Both workers share the same 2 cores as livekit-server, Postgres and the callers, so a "
        "second worker adds no CPU here: on this box it shows that calls spread and nothing "
        "is lost, not a speed-up. On separate machines throughput scales with workers."
    )
    return result


def _worker(server: LiveKitServer, dsn: str, log: Path) -> AgentWorker:
    return AgentWorker(
        server.url,
        server.api_key,
        server.api_secret,
        login_as(dsn, APP_LOGIN),  # as in production: the least-privilege login
        log_path=log,
        extra_env={"BANK_MODEL_MODE": "offline"},
    )


async def _in_process_turns(dsn: str, turns: int) -> Stats:
    db = await Database.connect(dsn)
    session = new_session(SessionState(db=db, channel="app"), llm=OfflineBankLLM())
    samples: list[float] = []
    try:
        await (await session.start(Greeter(), capture_run=True))  # type: ignore[misc]
        await session.run(user_input=VERIFY)
        for _ in range(turns):
            first_words = asyncio.get_running_loop().create_future()

            def on_item(ev: Any, fut: asyncio.Future[float] = first_words) -> None:
                item = ev.item
                if isinstance(item, llm.ChatMessage) and item.role == "assistant":
                    if not fut.done():
                        fut.set_result(time.perf_counter())

            session.on("conversation_item_added", on_item)
            started = time.perf_counter()
            await session.run(user_input=TURN)
            samples.append(await first_words - started)
            session.off("conversation_item_added", on_item)
    finally:
        await session.aclose()
        await db.close()
    return Stats.of(samples)


async def _server_turns(server: LiveKitServer, turns: int) -> Stats:
    caller = await _join(server)
    samples: list[float] = []
    try:
        await caller.expect(r"through to Northwind", within=60)
        mark = await caller.say(VERIFY)
        await caller.expect(r"available balance", after=mark, within=60)
        await caller.quiet(0.3)
        for _ in range(turns):
            started = time.perf_counter()
            mark = await caller.say(TURN)
            first = await caller.expect(r".", after=mark, within=30)
            samples.append(first.arrived - started)
            await caller.expect(r"available balance", after=mark, within=30)
            await caller.quiet(0.3)
    finally:
        await caller.hang_up()
    return Stats.of(samples)


@dataclass
class Throughput:
    wall_s: float
    turns: Stats
    errors: list[str]


async def _throughput(server: LiveKitServer, calls: int) -> Throughput:
    turn_times: list[float] = []
    started = time.perf_counter()
    outcomes = await asyncio.gather(
        *(_short_call(server, turn_times) for _ in range(calls)), return_exceptions=True
    )
    wall = time.perf_counter() - started
    errors = [
        f"{type(o).__name__}: {str(o)[:160]}" for o in outcomes if isinstance(o, BaseException)
    ]
    return Throughput(wall, Stats.of(turn_times), errors)


async def _short_call(server: LiveKitServer, turn_times: list[float]) -> None:
    caller = await _join(server)
    try:
        await caller.expect(r"through to Northwind", within=120)
        for said, expected in (
            (VERIFY, r"available balance"),
            ("Show me my recent transactions", r"transaction"),
            ("What's my balance?", r"available balance"),
        ):
            started = time.perf_counter()
            mark = await caller.say(said)
            await caller.expect(expected, after=mark, within=120)
            turn_times.append(time.perf_counter() - started)
    finally:
        await caller.hang_up()


async def _join(server: LiveKitServer) -> Caller:
    token = dispatch_token(
        server.api_key,
        server.api_secret,
        room=f"bench-{uuid.uuid4()}",
        identity=f"bench-caller-{uuid.uuid4().hex[:8]}",
    )
    caller = await Caller.join(server.url, token)
    await caller.wait_for_agent(within=120)
    return caller
