"""Code-side handoff policy: the LLM asks for a transfer, this decides.

Checks, in order: the edge exists in the graph; the target's precondition (a verified
principal for any specialist); the session's hop budget; ping-pong (A->B->A with no caller
turn in between, or too many hops inside one caller turn)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from shared_state import SessionState

from .graph import GREETER, HUMAN, REQUIRES_VERIFIED, is_allowed

MAX_HOPS_PER_SESSION = 16
MAX_HOPS_PER_USER_TURN = 3
MAX_LOOP_GUARD_TRIPS = 2


class Rejection(StrEnum):
    EDGE_NOT_ALLOWED = "edge_not_allowed"
    VERIFICATION_REQUIRED = "verification_required"
    HOP_BUDGET_EXHAUSTED = "hop_budget_exhausted"
    PING_PONG = "ping_pong"
    SAME_AGENT = "same_agent"
    # A second transfer in the same model reply (speech) as an accepted one: see
    # handoffs.transaction.transfer. Decided by the caller of `decide_handoff`, not by `decide`.
    ONE_HANDOFF_PER_TURN = "one_handoff_per_turn"


class Fallback(StrEnum):
    NONE = "none"
    VERIFY_FIRST = "verify_first"  # greeter verifies, then continues to the pending intent
    CLARIFY_AT_GREETER = "clarify_at_greeter"
    ESCALATE = "escalate"


@dataclass(frozen=True)
class Decision:
    accepted: bool
    rejection: Rejection | None = None
    fallback: Fallback = Fallback.NONE


def decide(state: SessionState, from_agent: str | None, to_agent: str) -> Decision:
    if from_agent == to_agent:
        return Decision(False, Rejection.SAME_AGENT)
    if not is_allowed(from_agent, to_agent):
        return Decision(False, Rejection.EDGE_NOT_ALLOWED)
    if to_agent in REQUIRES_VERIFIED and not state.is_verified:
        return Decision(False, Rejection.VERIFICATION_REQUIRED, Fallback.VERIFY_FIRST)
    if to_agent == HUMAN:
        return Decision(True)  # escalation is always possible, whatever the loop state

    accepted = [r for r in state.handoff_history if r.outcome == "accepted" and r.to_agent != HUMAN]
    if len(accepted) >= MAX_HOPS_PER_SESSION:
        return Decision(False, Rejection.HOP_BUDGET_EXHAUSTED, Fallback.ESCALATE)

    this_turn = [r for r in accepted if r.user_turn == state.user_turns]
    bounce = (
        bool(this_turn)
        and this_turn[-1].from_agent == to_agent
        and (this_turn[-1].to_agent == from_agent)
    )
    if bounce or len(this_turn) >= MAX_HOPS_PER_USER_TURN:
        if state.loop_guard_trips + 1 >= MAX_LOOP_GUARD_TRIPS:
            return Decision(False, Rejection.PING_PONG, Fallback.ESCALATE)
        fallback = Fallback.CLARIFY_AT_GREETER
        return Decision(False, Rejection.PING_PONG, fallback)
    return Decision(True)


def fallback_target(decision: Decision, from_agent: str | None) -> str | None:
    """Where the session goes instead when a handoff is refused (None: stay put)."""
    if decision.fallback is Fallback.ESCALATE:
        return HUMAN
    if decision.fallback is Fallback.CLARIFY_AT_GREETER and from_agent != GREETER:
        return GREETER
    return None
