"""Shared pieces of the benchmarks: a throwaway database, a zero-latency scripted LLM, the
tool-layer caller, timing statistics, tables and the machine description."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import platform
import shutil
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from livekit.agents import Agent, AgentSession, llm, utils
from livekit.agents.llm.utils import prepare_function_arguments
from livekit.agents.voice.events import RunContext
from livekit.agents.voice.speech_handle import SpeechHandle

from models.scripted import ScriptedLLM as _ScriptedLLM
from tools.db import Database, EmbeddedPostgres, migrate, seed_demo

# -- results ---------------------------------------------------------------------------------


@dataclass
class Table:
    title: str
    headers: list[str]
    rows: list[list[str]] = field(default_factory=list)

    def add(self, *cells: object) -> None:
        self.rows.append([_cell(c) for c in cells])

    def render_text(self) -> str:
        widths = [len(h) for h in self.headers]
        for row in self.rows:
            widths = [max(w, len(c)) for w, c in zip(widths, row, strict=False)]
        line = "  ".join(h.ljust(w) for h, w in zip(self.headers, widths, strict=False))
        out = [self.title, line, "  ".join("-" * w for w in widths)]
        for row in self.rows:
            out.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)))
        return "\n".join(out)

    def render_markdown(self) -> str:
        out = [f"**{self.title}**", "", "| " + " | ".join(self.headers) + " |"]
        out.append("|" + "|".join("---" for _ in self.headers) + "|")
        for row in self.rows:
            out.append("| " + " | ".join(c.replace("|", "\\|") for c in row) + " |")
        return "\n".join(out)


@dataclass
class BenchResult:
    name: str
    title: str
    tables: list[Table] = field(default_factory=list)
    summary: str = ""
    targets_met: bool | None = None  # None: no target
    notes: list[str] = field(default_factory=list)
    blocks: list[tuple[str, str]] = field(default_factory=list)  # (caption, preformatted text)
    seconds: float = 0.0


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 100 else f"{value:.1f}"
    return str(value)


def verdict(ok: bool) -> str:
    return "MET" if ok else "MISSED"


# -- statistics ----------------------------------------------------------------------------------


def percentile(samples: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of samples; NaN when empty."""
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class Stats:
    n: int
    p50_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float

    @classmethod
    def of(cls, seconds: Sequence[float]) -> Stats:
        ms = [s * 1000 for s in seconds]
        mean = sum(ms) / len(ms) if ms else float("nan")
        return cls(len(ms), percentile(ms, 50), percentile(ms, 99), mean, max(ms, default=0.0))


async def timed(fn: Callable[[], Awaitable[Any]]) -> float:
    started = time.perf_counter()
    await fn()
    return time.perf_counter() - started


# -- the machine -----------------------------------------------------------------------------------


def machine_description() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    return {
        "CPU": cpu,
        "Cores": str(os.cpu_count() or "?"),
        "RAM": ram,
        "OS": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
        "Date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def rss_bytes() -> int:
    """Resident set size of this process."""
    try:
        import psutil

        return int(psutil.Process().memory_info().rss)
    except ImportError:  # pragma: no cover - psutil comes with pgserver
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0


def settle_memory() -> int:
    gc.collect()
    return rss_bytes()


# -- a throwaway database ------------------------------------------------------------------------


@dataclass
class BenchDatabase:
    dsn: str
    server: str  # "embedded" or "DATABASE_URL"


@asynccontextmanager
async def bench_database(*, seed: bool = True) -> AsyncIterator[BenchDatabase]:
    """A fresh, migrated (and demo-seeded) database. Without DATABASE_URL, a throwaway
    embedded Postgres in a temporary directory, deleted afterwards. With DATABASE_URL, a
    fresh database on that server when the role may create one, else that database as is."""
    url = os.environ.get("DATABASE_URL")
    if url:
        dsn, dropper = await _fresh_database_on(url)
        try:
            await migrate(dsn)
            if seed:
                await seed_demo(dsn)
            yield BenchDatabase(dsn, "DATABASE_URL")
        finally:
            await dropper()
        return
    data_dir = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="bank-bench-pg-"))
    server = await asyncio.to_thread(EmbeddedPostgres, data_dir, cleanup_mode="delete")
    try:
        dsn = server.dsn
        await migrate(dsn)
        if seed:
            await seed_demo(dsn)
        yield BenchDatabase(dsn, "embedded")
    finally:
        await asyncio.to_thread(server.cleanup)
        shutil.rmtree(data_dir, ignore_errors=True)


async def _fresh_database_on(url: str) -> tuple[str, Callable[[], Awaitable[None]]]:
    name = f"bench_{uuid.uuid4().hex[:10]}"

    async def nothing() -> None:
        return None

    try:
        admin = await asyncpg.connect(url)
    except (OSError, asyncpg.PostgresError):
        return url, nothing
    try:
        await admin.execute(f"CREATE DATABASE {name}")
    except asyncpg.PostgresError:
        await admin.close()
        return url, nothing
    await admin.close()
    params = url.split("?", 1)
    base, _, _db = params[0].rpartition("/")
    dsn = f"{base}/{name}" + (f"?{params[1]}" if len(params) > 1 else "")

    async def drop() -> None:
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        finally:
            await conn.close()

    return dsn, drop


# -- a zero-latency scripted LLM -------------------------------------------------------------------


class ScriptedLLM(_ScriptedLLM):
    """The shared scripted model, without recording contexts: the model adds no latency, so
    what is measured is the framework and our code."""

    def __init__(self, fallback: str = "OK.") -> None:
        super().__init__(fallback=fallback, record_contexts=False)


def quiet_logs() -> None:
    """Benchmarks print tables, not the framework's per-turn info logs."""
    logging.basicConfig(level=logging.WARNING)
    for name in ("livekit", "livekit.agents", "bank", "asyncio"):
        logging.getLogger(name).setLevel(logging.ERROR)


# -- the tool layer ----------------------------------------------------------------------------


class ToolCaller:
    """Calls an agent's function tools exactly as the session's tool executor does:
    `prepare_function_arguments` parses and validates the model's JSON arguments and injects
    a real `RunContext` (session, speech handle, function call), then the tool is awaited.
    No LLM, no speech scheduling: this is the tool layer alone."""

    def __init__(self, session: AgentSession[Any], agent: Agent) -> None:
        self._session = session
        self._tools: dict[str, Any] = {t.id: t for t in agent.tools if hasattr(t, "id")}
        self._speech = SpeechHandle.create()

    @classmethod
    async def started(cls, session: AgentSession[Any], agent: Agent) -> ToolCaller:
        """On a started session whose current agent is `agent`, as when the session's
        executor calls its tools (the identity guard looks the called tool up there).
        The agent's opening line has been spoken; the caller closes `session`."""
        opening = await session.start(agent, capture_run=True)
        await opening
        return cls(session, agent)

    @property
    def session(self) -> AgentSession[Any]:
        return self._session

    async def call(self, name: str, arguments: dict[str, Any]) -> Any:
        fn = await self.bind(name, arguments, validate_each_call=True)
        return await fn()

    async def bind(
        self, name: str, arguments: dict[str, Any], *, validate_each_call: bool
    ) -> Callable[[], Awaitable[Any]]:
        """A zero-argument coroutine function running one tool call. With
        `validate_each_call`, livekit's argument preparation runs inside it (timed with the
        call, as in the session); without, it runs here once (our code alone is timed)."""
        tool = self._tools[name]
        raw = json.dumps(arguments)
        call = llm.FunctionCall(call_id=utils.shortuuid("call_"), name=name, arguments=raw)
        ctx: RunContext[Any] = RunContext(
            session=self._session, speech_handle=self._speech, function_call=call
        )
        if validate_each_call:

            async def validated() -> Any:
                args, kwargs = prepare_function_arguments(
                    fnc=tool, json_arguments=raw, call_ctx=ctx
                )
                return await tool(*args, **kwargs)

            return validated
        args, kwargs = prepare_function_arguments(fnc=tool, json_arguments=raw, call_ctx=ctx)

        async def prepared() -> Any:
            return await tool(*args, **kwargs)

        return prepared


# -- the SQL a query sends -----------------------------------------------------------------


class _RecordingConnection:
    def __init__(self, conn: Any, sink: list[tuple[str, tuple[Any, ...]]]) -> None:
        self._conn = conn
        self._sink = sink

    async def fetch(self, sql: str, *args: Any) -> Any:
        self._sink.append((sql, args))
        return await self._conn.fetch(sql, *args)


class _RecordingPool:
    """Stands in for the asyncpg pool so a `Database` query reveals its exact SQL."""

    def __init__(self, pool: asyncpg.Pool, sink: list[tuple[str, tuple[Any, ...]]]) -> None:
        self._pool = pool
        self._sink = sink
        self._held: dict[int, Any] = {}

    async def acquire(self, **kwargs: Any) -> _RecordingConnection:
        conn = await self._pool.acquire(**kwargs)
        recording = _RecordingConnection(conn, self._sink)
        self._held[id(recording)] = conn
        return recording

    async def release(self, recording: _RecordingConnection) -> None:
        await self._pool.release(self._held.pop(id(recording)))


async def captured_sql(
    db: Database, query: Callable[[Database], Awaitable[Any]]
) -> tuple[str, tuple[Any, ...]]:
    """The exact SQL and arguments of the last fetch `query` sends, run once on `db`'s pool
    through a recording stand-in (so a plan can be EXPLAINed or the SQL timed bare)."""
    sink: list[tuple[str, tuple[Any, ...]]] = []
    await query(Database(_RecordingPool(db.pool, sink), retry_budget_s=1.0))  # type: ignore[arg-type]
    return sink[-1]
