"""`SessionTasks`: the background work of one call, owned by its `SessionState`.

Security-event writes, audit writes started from session events and the keypad watcher run
beside the caller's turns (nothing waits for them there), so something must hold them until
they finish (the event loop keeps only weak references) and the call's end must be able to
wait for them. That is this object, one per call, instead of a module-level set shared by
every call of the process."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any


class SessionTasks:
    def __init__(self) -> None:
        self._writes: set[asyncio.Task[Any]] = set()
        self._watchers: set[asyncio.Task[Any]] = set()

    def start(self, work: Coroutine[Any, Any, Any], *, watcher: bool = False) -> asyncio.Task[Any]:
        """Run `work` in the background. A write is waited for by `drain`; a watcher (which
        waits on the caller, e.g. for keypad digits) is cancelled by it."""
        task = asyncio.get_running_loop().create_task(work)
        held = self._watchers if watcher else self._writes
        held.add(task)
        task.add_done_callback(held.discard)
        return task

    def __len__(self) -> int:
        return len(self._writes) + len(self._watchers)

    async def settled(self) -> None:
        """Wait for every write, including writes started meanwhile (watchers run on).
        Never raises for a failed write (each logs its own failure)."""
        while self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)

    async def drain(self) -> None:
        """The call's end: cancel the watchers, then wait for every write."""
        for task in list(self._watchers):
            task.cancel()
        await asyncio.gather(*self._watchers, return_exceptions=True)
        await self.settled()
