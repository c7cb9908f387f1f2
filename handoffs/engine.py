"""Runs a handoff decision end to end: policy, state update, brief, audit, checkpoint.

Agents call `decide_handoff` from their transfer tools and then build the next agent from
the returned plan; keeping construction in `agents/` avoids an import cycle."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Literal

from shared_state import HandoffBrief, HandoffRecord, Intent, SessionState, now_iso
from tools.db import DatabaseUnavailable

from .audit import AuditLog
from .context import CONTEXT_POLICY, mask_sensitive
from .policy import Decision, Fallback, Rejection, decide, fallback_target

logger = logging.getLogger("bank.handoffs")


@dataclass(frozen=True)
class HandoffPlan:
    decision: Decision
    target: str | None  # where the session goes now (the requested agent, a fallback, or None)
    brief: HandoffBrief | None


def audit_log(state: SessionState) -> AuditLog:
    if state.audit is None:
        state.audit = AuditLog(state.db, state.session_id)
    return state.audit


async def decide_handoff(
    state: SessionState,
    *,
    from_agent: str | None,
    to_agent: str,
    reason: str,
    brief: HandoffBrief,
    refuse: Rejection | None = None,
) -> HandoffPlan:
    """Decide (or, with `refuse`, record an already-made refusal), audit and apply."""
    started = time.perf_counter()
    # The reason is often model-written (a transfer tool argument): it lands in the handoff
    # history, the checkpoint and the audit, so mask PIN/card/account digits and amounts.
    reason = mask_sensitive(reason)
    if refuse is not None:
        decision = Decision(False, refuse)
    else:
        decision = decide(state, from_agent, to_agent)
    target: str | None = to_agent if decision.accepted else fallback_target(decision, from_agent)

    if decision.rejection is Rejection.VERIFICATION_REQUIRED:
        state.pending_intent = brief.intent
    if decision.rejection is Rejection.PING_PONG:
        state.loop_guard_trips += 1
        brief = HandoffBrief(
            intent=None,
            from_agent=from_agent,
            verified_facts=brief.verified_facts,
            open_question="the transfer kept bouncing; ask the caller what they need, in one "
            "short question",
        )

    await _record(state, from_agent, to_agent, reason, brief, decision, started)
    if target is not None and target != to_agent:
        # The fallback is itself a handoff: audit it as accepted with its cause.
        fallback = Decision(True)
        await _record(
            state,
            from_agent,
            target,
            f"fallback after {decision.rejection}",
            brief,
            fallback,
            started,
        )
    if target is not None:
        state.brief = brief
        state.current_agent = target if target != "human" else state.current_agent
    return HandoffPlan(decision, target, brief if target else None)


async def _record(
    state: SessionState,
    from_agent: str | None,
    to_agent: str,
    reason: str,
    brief: HandoffBrief,
    decision: Decision,
    started: float,
) -> None:
    outcome: Literal["accepted", "rejected"] = "accepted" if decision.accepted else "rejected"
    state.handoff_history.append(
        HandoffRecord(
            seq=len(state.handoff_history) + 1,
            from_agent=from_agent,
            to_agent=to_agent,
            outcome=outcome,
            reason=reason[:200],
            at=now_iso(),
            user_turn=state.user_turns,
        )
    )
    await audit_log(state).record(
        from_agent=from_agent,
        to_agent=to_agent,
        reason=reason,
        intent=brief.intent.value if brief.intent else None,
        assurance=state.assurance.value,
        context_policy=CONTEXT_POLICY,
        outcome=outcome,
        rejection_reason=decision.rejection.value if decision.rejection else None,
        duration_ms=(time.perf_counter() - started) * 1000,
    )
    logger.info(
        "handoff %s",
        outcome,
        extra={"from": from_agent, "to": to_agent, "rejection": decision.rejection},
    )


async def save_checkpoint(state: SessionState) -> None:
    """Persist the state so a restarted worker resumes the same call (best effort)."""
    if state.db is None or state.room_name is None:
        return
    try:
        await state.db.save_checkpoint(state.room_name, state.session_id, state.to_checkpoint())
    except DatabaseUnavailable:
        logger.warning("checkpoint skipped: database unavailable")


__all__ = ["Fallback", "HandoffPlan", "Intent", "Rejection", "decide_handoff", "save_checkpoint"]
