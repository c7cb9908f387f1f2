"""Scale out: two Agent Server processes registered at once take 20 concurrent calls
between them, every call answered, none lost, both workers used."""

from __future__ import annotations

import asyncio
import re
import uuid

import asyncpg
from e2e_stack import Stack

from local_stack.caller import Caller, dispatch_token

CALLS = 20


async def test_twenty_concurrent_calls_over_two_workers(private_stack: Stack) -> None:
    workers = [private_stack.worker(f"scale-worker-{n}") for n in (1, 2)]
    for worker in workers:
        worker.start()
    customer_id = await _customer_id(private_stack.dsn, "1002")
    try:
        answers = await asyncio.gather(
            *(_one_call(private_stack, customer_id) for _ in range(CALLS)),
            return_exceptions=True,
        )
    finally:
        for worker in workers:
            worker.stop()
    errors = [answer for answer in answers if isinstance(answer, BaseException)]
    assert not errors, errors[:3]
    jobs = [set(re.findall(r"AJ_\w+", w.log_text())) for w in workers]
    jobs_per_worker = [len(j) for j in jobs]
    # Under load livekit-server may offer a job to one worker, time out, and assign it to
    # the other: the same job id then shows in both logs. Every call is one job.
    assert len(jobs[0] | jobs[1]) == CALLS, jobs_per_worker
    assert min(jobs_per_worker) > 0, f"one worker took every call: {jobs_per_worker}"
    print(f"\njobs per worker: {jobs_per_worker}")


async def _one_call(stack: Stack, customer_id: int) -> str:
    # Signed as the token service signs an app login (the service throttles per address,
    # and 20 logins from one test would be a burst it is right to refuse).
    token = dispatch_token(
        stack.livekit.api_key,
        stack.livekit.api_secret,
        room=f"bank-{uuid.uuid4()}",
        identity=f"customer-{customer_id}-{uuid.uuid4().hex[:8]}",
        attributes={"bank.auth": "app", "bank.customer_id": str(customer_id)},
    )
    caller = await Caller.join(stack.livekit.url, token)
    try:
        await caller.wait_for_agent(within=120)
        await caller.expect(r"through to Northwind Bank", within=120)
        mark = await caller.say("What's my balance?")
        answer = await caller.expect(r"available balance", after=mark, within=120)
        return answer.text
    finally:
        await caller.hang_up()


async def _customer_id(dsn: str, customer_number: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        value = await conn.fetchval(
            "SELECT id FROM customers WHERE customer_number = $1", customer_number
        )
    finally:
        await conn.close()
    return int(value)
