"""4. Data scale: `get_transactions` filtered by merchant and days, through the tool layer
(as in benchmark 2, our code only), on a synthetic bank (`seed_synthetic`: 100k customers x
50 transactions = 5M rows by default, loaded with COPY) vs on the demo data set, each in its
own fresh database on the same server. Reports p50/p99 and the ratio, the load time, and the
EXPLAIN (ANALYZE, BUFFERS) plan of the exact filtered query the product sends (captured from
`Database.transactions` itself, not a copy of its SQL)."""

from __future__ import annotations

import random
import time
from typing import Any

import asyncpg

from agents import TransactionsAgent, new_session
from agents.verification import bind_principal
from shared_state import Assurance, SessionState
from tools.db import Database, migrate, seed_demo, seed_synthetic

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

FULL_CUSTOMERS = 100_000
TXNS_PER_CUSTOMER = 50
TARGET_RATIO = 1.5  # "stays flat": p99 on 5M rows within 1.5x of the demo data set
MERCHANT, DAYS, COUNT = "uber", 90, 5
FILTER: dict[str, Any] = {"merchant": MERCHANT, "days_back": DAYS, "count": COUNT}


async def _explain(db: Database, customer_id: int) -> str:
    sql, args = await captured_sql(
        db,
        lambda recorder: recorder.transactions(
            customer_id, limit=COUNT, days_back=DAYS, merchant=MERCHANT
        ),
    )
    rows = await db.pool.fetch("EXPLAIN (ANALYZE, BUFFERS) " + sql, *args)
    return "\n".join(r[0] for r in rows)


async def _measure(db: Database, customer_numbers: list[str], iterations: int) -> list[float]:
    callers = []
    sessions = []
    for number in customer_numbers:
        customer = await db.customer_by_number(number)
        state = SessionState(db=db, channel="console")
        bind_principal(state, customer, Assurance.PIN)
        tools = await ToolCaller.started(new_session(state, llm=ScriptedLLM()), TransactionsAgent())
        sessions.append(tools.session)
        callers.append(await tools.bind("get_transactions", FILTER, validate_each_call=False))
    rng = random.Random(11)
    for fn in callers[:20]:  # warm-up
        await fn()
    samples = []
    for _ in range(iterations):
        fn = rng.choice(callers)
        t = time.perf_counter()
        out = await fn()
        samples.append(time.perf_counter() - t)
        if not isinstance(out, str) or not out:
            raise RuntimeError(f"get_transactions returned {out!r}")
    for session in sessions:
        await session.aclose()
    return samples


async def run(*, smoke: bool = False, scale: float = 1.0) -> BenchResult:
    customers = 1_000 if smoke else max(1_000, round(FULL_CUSTOMERS * scale))
    iterations = 50 if smoke else 2_000
    result = BenchResult("data_scale", "4. Data scale (get_transactions, merchant + days filter)")
    async with bench_database() as bdb:
        # The demo data set: a second database on the same server, demo customers only.
        admin = await asyncpg.connect(bdb.dsn)
        try:
            await admin.execute("CREATE DATABASE bench_demo_only")
        finally:
            await admin.close()
        demo_dsn = bdb.dsn.replace("/postgres?", "/bench_demo_only?")
        if demo_dsn == bdb.dsn:  # DATABASE_URL without a default db name: share the database
            demo_dsn = bdb.dsn
        await migrate(demo_dsn)
        await seed_demo(demo_dsn)

        t0 = time.perf_counter()
        await seed_synthetic(bdb.dsn, customers, transactions_per_customer=TXNS_PER_CUSTOMER)
        load_s = time.perf_counter() - t0

        demo_db = await Database.connect(demo_dsn)
        big_db = await Database.connect(bdb.dsn)
        try:
            demo_numbers = ["1001", "1002", "1003", "1004"]
            rows = await big_db.pool.fetch(
                "SELECT customer_number FROM customers WHERE customer_number::bigint >= 500000 "
                "ORDER BY random() LIMIT 200"
            )
            big_numbers = [r["customer_number"] for r in rows]
            txn_rows = await big_db.pool.fetchval("SELECT count(*) FROM transactions")
            size = await big_db.pool.fetchval(
                "SELECT pg_size_pretty(pg_total_relation_size('transactions'))"
            )
            demo: list[float] = []
            big: list[float] = []
            for _ in range(2 if smoke else 4):  # interleaved rounds against drift
                demo += await _measure(demo_db, demo_numbers, iterations // 4)
                big += await _measure(big_db, big_numbers, iterations // 4)
            sample_customer = await big_db.customer_by_number(big_numbers[0])
            plan = await _explain(big_db, sample_customer.id)
            indexes = await big_db.pool.fetch(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'transactions'"
                " ORDER BY indexname"
            )
        finally:
            await demo_db.close()
            await big_db.close()

    d, b = Stats.of(demo), Stats.of(big)
    ratio = b.p99_ms / d.p99_ms
    ok = ratio <= TARGET_RATIO
    table = Table(
        f"get_transactions({', '.join(f'{k}={v!r}' for k, v in FILTER.items())}) via the "
        "tool layer",
        ["data set", "customers", "transactions", "n", "p50 ms", "p99 ms", "max ms"],
    )
    table.add("demo", 4, "~20", d.n, d.p50_ms, d.p99_ms, d.max_ms)
    table.add(
        f"synthetic ({size})", f"{customers:,}", f"{txn_rows:,}", b.n, b.p50_ms, b.p99_ms, b.max_ms
    )
    verdicts = Table("Against the target", ["metric", "value", "target", "verdict"])
    verdicts.add("p99 synthetic / p99 demo", f"{ratio:.2f}x", f"<= {TARGET_RATIO}x", verdict(ok))
    verdicts.add("p50 synthetic / p50 demo", f"{b.p50_ms / d.p50_ms:.2f}x", "-", "-")
    verdicts.add("synthetic load (seed_synthetic, COPY + ANALYZE)", f"{load_s:.1f} s", "-", "-")
    result.tables += [table, verdicts]
    result.blocks.append(
        ("Indexes on transactions:", "\n".join(f"{r[0]}: {r[1]}" for r in indexes))
    )
    result.blocks.append(
        (
            f"EXPLAIN (ANALYZE, BUFFERS) of the filtered query (synthetic customer "
            f"{sample_customer.customer_number}):",
            plan,
        )
    )
    result.targets_met = ok
    result.summary = (
        f"data_scale: {txn_rows:,} rows (loaded in {load_s:.0f} s): p99 {b.p99_ms:.2f} ms vs "
        f"demo {d.p99_ms:.2f} ms, ratio {ratio:.2f}x (p50 {b.p50_ms:.2f} vs {d.p50_ms:.2f} ms)"
        f" -> {verdict(ok)} (target <= {TARGET_RATIO}x)"
    )
    return result
