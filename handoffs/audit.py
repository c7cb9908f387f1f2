"""The handoff audit trail: one append-only row per handoff decision, accepted or not.

Rows are written to `handoff_audit` (which refuses UPDATE/DELETE itself), together with the
session checkpoint when the call has a room, in ONE statement (one round trip, one
transaction): what the audit says happened and what a restarted worker resumes from can
never disagree. Writes go through one ordered writer per session (an `asyncio.Lock`, FIFO),
so rows land in `seq` order and a newer checkpoint is never overwritten by an older one.

Write-behind, with a durability gate. An accepted handoff starts its write at decision time
and does not wait for it; the framework switches agents meanwhile (the round trip overlaps
that work). The next agent cannot produce a word or a tool call before the write has
completed: `BankAgent` awaits `settled()` before its opening and before every LLM call (see
agents/base.py). So if the process dies right after a handoff, either the row (and the
checkpoint) is durable, or the caller never heard the new desk and no tool of it ran: the
call resumes at the old desk, which is exactly what the audit says. Rejected handoffs and
escalations are still awaited where they are decided.

If the database is briefly unreachable the row is kept in memory and written with the next
one (and flushed at session end), so a DB blip never blocks a caller's handoff and never
loses an audit row while the process lives."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from shared_state import SessionState
from tools.db import Database, DatabaseUnavailable

logger = logging.getLogger("bank.handoffs.audit")


@dataclass(frozen=True)
class Checkpoint:
    """A snapshot of the session state, serialised when it was taken."""

    room_name: str
    session_id: str
    state_json: str

    @classmethod
    def of(cls, room_name: str, session_id: str, state: dict[str, Any]) -> Checkpoint:
        return cls(room_name, session_id, json.dumps(state))


@dataclass
class AuditLog:
    db: Database | None
    session_id: str
    rows: list[dict[str, Any]] = field(default_factory=list)  # everything, for this process
    _unwritten: list[dict[str, Any]] = field(default_factory=list)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _tasks: set[asyncio.Task[bool]] = field(default_factory=set)

    def add(
        self,
        *,
        seq: int | None = None,
        from_agent: str | None,
        to_agent: str,
        reason: str,
        intent: str | None,
        assurance: str,
        context_policy: str,
        outcome: str,
        rejection_reason: str | None,
        duration_ms: float,
    ) -> dict[str, Any]:
        """Queue a row (no I/O). `seq` is the handoff's number in the session's history,
        which survives a resume from checkpoint; without it, this process's count."""
        row = {
            "session_id": self.session_id,
            "seq": seq if seq is not None else len(self.rows) + 1,
            "from_agent": from_agent,
            "to_agent": to_agent,
            "reason": reason[:500],
            "intent": intent,
            "assurance": assurance,
            "context_policy": context_policy,
            "outcome": outcome,
            "rejection_reason": rejection_reason,
            "duration_ms": round(duration_ms, 3),
        }
        self.rows.append(row)
        self._unwritten.append(row)
        return row

    async def record(self, **fields: Any) -> dict[str, Any]:
        """Queue a row and write it now (waits for the write)."""
        row = self.add(**fields)
        await self.flush()
        return row

    async def flush(self, checkpoint: Checkpoint | None = None) -> bool:
        """Write every queued row (and the checkpoint) in one statement, after any write
        already in flight. True when nothing is left unwritten."""
        async with self._lock:
            batch = list(self._unwritten)
            if self.db is None:
                return not batch
            if not batch and checkpoint is None:
                return True
            try:
                await self.db.append_handoff_audit(batch, checkpoint=checkpoint)
            except DatabaseUnavailable:
                logger.warning(
                    "handoff audit deferred: database unavailable",
                    extra={"pending_rows": len(batch)},
                )
                return False
            # Rows are only ever appended, so the written batch is the head of the queue.
            del self._unwritten[: len(batch)]
            return not self._unwritten

    def write_behind(self, checkpoint: Checkpoint | None = None) -> None:
        """Start `flush` without waiting for it; `settled()` waits."""
        if self.db is None:
            return
        task = asyncio.get_running_loop().create_task(self.flush(checkpoint))
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[bool]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("handoff audit write failed", exc_info=task.exception())

    async def settled(self) -> None:
        """Wait until every write started so far has completed (never raises)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    @property
    def pending(self) -> int:
        return len(self._unwritten)


async def audit_settled(state: SessionState) -> None:
    """Every audit write of this call started so far has completed."""
    if state.audit is not None:
        await state.audit.settled()


async def audit_durable(state: SessionState) -> bool:
    """Every audit row of this session so far is written (after the writes in flight, and
    one more attempt, with the database's own bounded retries, for rows a failed write left
    behind)."""
    if state.audit is None:
        return True
    await state.audit.settled()
    if state.audit.pending:
        await state.audit.flush()
    return state.audit.pending == 0
