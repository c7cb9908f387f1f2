"""Runs a handoff decision: policy, state update, brief, audit, checkpoint.

A transfer goes through `handoffs.transaction.transfer`, which calls this and then builds
the next desk; `decide_handoff` alone records decisions no desk follows (a refused transfer
to a tool the agent does not have, the keypad's continuation)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Literal

from shared_state import HandoffBrief, HandoffRecord, Intent, SessionState, now_iso

from .audit import AuditLog, Checkpoint
from .context import CONTEXT_POLICY, mask_sensitive
from .policy import Decision, Fallback, Rejection, decide, fallback_target

logger = logging.getLogger("bank.handoffs")


@dataclass(frozen=True)
class HandoffPlan:
    decision: Decision
    target: str | None  # where the session goes now (the requested agent, a fallback, or None)
    brief: HandoffBrief | None


def audit_log(state: SessionState) -> AuditLog:
    """The session's audit writer, made on first use (the state holds it as an AuditTrail)."""
    if state.audit is None:
        state.audit = AuditLog(state.db, state.session_id)
    assert isinstance(state.audit, AuditLog)
    return state.audit


async def decide_handoff(
    state: SessionState,
    *,
    from_agent: str | None,
    to_agent: str,
    reason: str,
    brief: HandoffBrief,
    refuse: Rejection | None = None,
    write_behind: bool = False,
) -> HandoffPlan:
    """Decide (or, with `refuse`, record an already-made refusal), audit and apply.

    The audit row(s) and the checkpoint of the resulting state are written in one statement.
    By default this waits for that write. With `write_behind`, the write is only started:
    the caller must make sure nothing is said or done by the next agent before
    `AuditLog.settled()` (agents/base.py `BankAgent` does)."""
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
        state.pending_need = brief.need
    if decision.rejection is Rejection.PING_PONG:
        state.loop_guard_trips += 1
        brief = HandoffBrief(
            intent=None,
            from_agent=from_agent,
            verified_facts=brief.verified_facts,
            open_question="the transfer kept bouncing; ask the caller what they need, in one "
            "short question",
            need="start_over",
        )

    _record(state, from_agent, to_agent, reason, brief, decision, started)
    if target is not None and target != to_agent:
        # The fallback is itself a handoff: audit it as accepted with its cause.
        fallback = Decision(True)
        _record(
            state,
            from_agent,
            target,
            f"fallback after {decision.rejection}",
            brief,
            fallback,
            started,
        )
    if target is not None:
        if state.principal is not None:
            brief.verified_as = state.principal.first_name  # from the principal, never a model
        state.brief = brief
        state.current_agent = target if target != "human" else state.current_agent
    # The checkpoint goes with every audit write, so the checkpointed handoff history (whose
    # seq numbers the audit rows carry) is never behind the audit after a resume.
    log = audit_log(state)
    if write_behind:
        log.write_behind(_checkpoint(state))
    else:
        await log.flush(_checkpoint(state))
    return HandoffPlan(decision, target, brief if target else None)


def _checkpoint(state: SessionState) -> Checkpoint | None:
    if state.db is None or state.room_name is None:
        return None
    return Checkpoint.of(state.room_name, state.session_id, state.to_checkpoint())


def _record(
    state: SessionState,
    from_agent: str | None,
    to_agent: str,
    reason: str,
    brief: HandoffBrief,
    decision: Decision,
    started: float,
) -> None:
    outcome: Literal["accepted", "rejected"] = "accepted" if decision.accepted else "rejected"
    record = HandoffRecord(
        seq=len(state.handoff_history) + 1,
        from_agent=from_agent,
        to_agent=to_agent,
        outcome=outcome,
        reason=reason[:200],
        at=now_iso(),
        user_turn=state.user_turns,
    )
    state.handoff_history.append(record)
    audit_log(state).add(
        seq=record.seq,
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
    """Persist the state so a restarted worker resumes the same call (best effort). Goes
    through the session's ordered audit writer: any queued audit rows are written with it,
    and it never overtakes (or is overwritten by) a write-behind checkpoint."""
    checkpoint = _checkpoint(state)
    if checkpoint is None:
        return
    if not await audit_log(state).flush(checkpoint):
        logger.warning("checkpoint skipped: database unavailable")


__all__ = ["Fallback", "HandoffPlan", "Intent", "Rejection", "decide_handoff", "save_checkpoint"]
