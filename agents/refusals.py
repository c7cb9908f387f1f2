"""Refusal auditing: every refused attempt (unverified, forged arguments, a tool the desk
does not have, another customer's transaction) is recorded in security_events, in the
background, owned by the call (`SessionState.tasks`)."""

from __future__ import annotations

import logging

from handoffs.audit import audit_settled
from shared_state import SessionState

logger = logging.getLogger("bank.agents")


def audit_refusal(state: SessionState, *, kind: str, detail: str) -> None:
    """Record a refused attempt in security_events without blocking the caller's turn."""
    if state.db is None:
        return
    principal = state.principal

    async def write() -> None:
        assert state.db is not None
        try:
            await state.db.record_security_event(
                session_id=state.session_id,
                customer_id=principal.customer_id if principal else None,
                kind=kind,
                detail=state.pins.scrub(detail[:400])[:200],
                channel=state.channel,
            )
        except Exception:
            logger.warning("security event not recorded", extra={"kind": kind})

    state.tasks.start(write())


async def flush_background(state: SessionState) -> None:
    """Wait for this call's background writes: security events and audit rows (tests,
    benches, the call's end). Watchers run on."""
    await state.tasks.settled()
    await audit_settled(state)
    await state.tasks.settled()  # a write that finished may have started another
