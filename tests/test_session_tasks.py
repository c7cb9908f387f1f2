"""A call's background work belongs to that call: its writes are waited for at its end, its
watchers are stopped, and another call's work is neither waited for nor stopped."""

from __future__ import annotations

import asyncio

from shared_state import SessionState


async def test_a_call_drains_its_own_background_work_only() -> None:
    mine, other = SessionState(), SessionState()
    written: list[str] = []
    release = asyncio.Event()

    async def write(tag: str) -> None:
        await release.wait()
        written.append(tag)

    async def watch() -> None:
        await asyncio.Event().wait()  # waits on the caller forever

    mine.tasks.start(write("mine"))
    watcher = mine.tasks.start(watch(), watcher=True)
    theirs = other.tasks.start(write("theirs"))
    assert len(mine.tasks) == 2 and len(other.tasks) == 1

    drained = asyncio.create_task(mine.tasks.drain())
    await asyncio.sleep(0)
    assert not drained.done()  # the write is still running: the end of the call waits
    release.set()
    await asyncio.wait_for(drained, 10)
    assert watcher.cancelled() and len(mine.tasks) == 0
    assert "mine" in written
    await asyncio.wait_for(theirs, 10)  # untouched by the other call's drain
    assert written.count("theirs") == 1


async def test_settling_waits_for_writes_started_meanwhile_and_leaves_watchers() -> None:
    state = SessionState()
    written: list[int] = []

    async def chained(n: int) -> None:
        await asyncio.sleep(0)
        written.append(n)
        if n < 3:
            state.tasks.start(chained(n + 1))

    watcher = state.tasks.start(asyncio.Event().wait(), watcher=True)
    state.tasks.start(chained(1))
    await asyncio.wait_for(state.tasks.settled(), 10)
    assert written == [1, 2, 3] and not watcher.done()
    await state.tasks.drain()
    assert watcher.cancelled()


def test_the_tasks_are_not_checkpointed() -> None:
    assert "tasks" not in SessionState().to_checkpoint()
