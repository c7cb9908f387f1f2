"""The handoff audit trail: one append-only row per handoff decision, accepted or not.

Rows are written to `handoff_audit` (which refuses UPDATE/DELETE itself). If the database
is briefly unreachable the row is kept in memory and written with the next one, so a DB
blip never blocks a caller's handoff and never loses an audit row while the process lives."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from tools.db import Database, DatabaseUnavailable

logger = logging.getLogger("bank.handoffs.audit")


@dataclass
class AuditLog:
    db: Database | None
    session_id: str
    rows: list[dict[str, Any]] = field(default_factory=list)  # everything, for this process
    _unwritten: list[dict[str, Any]] = field(default_factory=list)

    async def record(
        self,
        *,
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
        row = {
            "session_id": self.session_id,
            "seq": len(self.rows) + 1,
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
        await self.flush()
        return row

    async def flush(self) -> bool:
        if self.db is None or not self._unwritten:
            return not self._unwritten
        try:
            await self.db.append_handoff_audit(self._unwritten)
        except DatabaseUnavailable:
            logger.warning(
                "handoff audit deferred: database unavailable",
                extra={"pending_rows": len(self._unwritten)},
            )
            return False
        self._unwritten = []
        return True

    @property
    def pending(self) -> int:
        return len(self._unwritten)
