"""One handoff, end to end, in one call: policy -> brief -> audit (and checkpoint) -> the
next desk. A transfer tool calls `transfer` once and turns the typed result into what
livekit expects (the next agent, a refusal, or the escalation's words). A handoff decided
in code (the SIP keypad's verification continuing to the desk the caller asked for) is the
same transaction with no model reply to claim (`claim=None`).

The next desk is built by the session's desk factory (`SessionState.desks`, set by
`agents.new_session`), so this package never imports the desks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared_state import HandoffBrief, Intent, Need, SessionState, SuspectTransaction
from shared_state.state import EscalationResult
from tools.outcomes import RefusalReason

from .audit import audit_settled
from .context import carried_context, mask_sensitive
from .engine import HandoffPlan, audit_log, decide_handoff
from .escalation import CallbackEscalation
from .graph import DISPLAY_NAMES, HUMAN, SPECIALISTS
from .policy import Rejection

INTENT_FOR_TARGET: dict[str, Intent] = {
    "balance": Intent.BALANCE,
    "transactions": Intent.TRANSACTIONS,
    "card_security": Intent.CARD_SECURITY,
    "human": Intent.HUMAN,
}


@dataclass(frozen=True)
class HandoffRequest:
    target: str
    reason: str = ""  # model-written: bounded, masked and PIN-scrubbed here
    intent: Intent | None = None
    suspect: SuspectTransaction | None = None
    need: Need | None = None  # what the caller needs next (a transfer tool's typed argument)


@dataclass(frozen=True)
class Moved:
    """Accepted: the next desk, built on the carried (masked, PIN-scrubbed) context."""

    agent: Any
    brief: HandoffBrief


@dataclass(frozen=True)
class NotMoved:
    """Refused and audited: the caller stays where they are and hears why."""

    reason: RefusalReason
    subject: str
    detail: str = ""


@dataclass(frozen=True)
class ToPerson:
    """The loop guard gave up on desks: the call went to a person (audited once)."""

    escalation: EscalationResult


HandoffResult = Moved | NotMoved | ToPerson


async def transfer(
    state: SessionState,
    request: HandoffRequest,
    *,
    current: Any,
    claim: tuple[str, str] | None,
) -> HandoffResult:
    """Decide, brief, audit and build the next desk.

    `current` is the desk handing off (its context is carried). `claim` is the (speech id,
    call id) of the tool call that asked, or None for a handoff decided in code, outside
    any model reply (the keypad's continuation: its caller switches with
    `session.update_agent`, which livekit's one-switch-per-reply rule below is not about).

    A transfer tool claims: one handoff per model reply. livekit switches agents once
    per reply, and when two tools of one reply each return an agent it switches to
    *neither* (agent_activity.py: "expected to receive only one AgentTask"), while our
    policy, audit, checkpoint and `state.current_agent` would already say otherwise. So the
    first transfer of a reply claims the switch; any other transfer in that reply is
    refused and audited as rejected (`one_handoff_per_turn`), and livekit performs exactly
    the claimed one. (Refusing both is not possible: tool calls stream in and run as they
    arrive, so the first has usually been decided and audited before the second exists.)

    On acceptance the audit row and checkpoint are written behind: the next desk's
    `llm_node` waits for them before it says anything (handoffs/audit.py)."""
    target = request.target
    from_agent = getattr(current, "agent_id", None)
    reason = model_text(state, request.reason)
    intent = request.intent or INTENT_FOR_TARGET.get(target)
    mine: tuple[str, str, str] | None = None
    if claim is not None:
        speech_id, call_id = claim
        held = state.handoff_claim
        if held is not None and held[0] == speech_id and held[1] != call_id:
            await decide_handoff(
                state,
                from_agent=from_agent,
                to_agent=target,
                reason=reason or "requested",
                brief=HandoffBrief(intent=intent, from_agent=from_agent),
                refuse=Rejection.ONE_HANDOFF_PER_TURN,
            )
            busy = DISPLAY_NAMES.get(held[2], "another desk")
            return NotMoved("one_handoff_per_turn", target, busy)
        # Claimed before the first await, so a transfer running alongside sees it.
        state.handoff_claim = mine = (speech_id, call_id, target)
    facts = []
    if state.principal is not None:
        facts.append(f"caller verified as {state.principal.first_name} ({state.assurance.value})")
    brief = HandoffBrief(
        intent=intent,
        from_agent=from_agent,
        verified_facts=facts,
        # The model wrote the reason: masked above like any carried agent text.
        open_question=reason or None,
        suspect_transaction=request.suspect,
        continuing=state.is_verified and state.verified_on_turn == state.user_turns,
        need=request.need,
    )
    plan = await decide_handoff(
        state,
        from_agent=from_agent,
        to_agent=target,
        reason=reason or "requested",
        brief=brief,
        write_behind=True,
    )
    if plan.target is None:
        if mine is not None and state.handoff_claim == mine:
            state.handoff_claim = None  # nothing switches: a later step may transfer
        await audit_settled(state)  # a refusal is on record before the model hears of it
        spoken = _rejection_reason(plan)
        return NotMoved(spoken, target, verify_by(state, spoken))
    if plan.target == HUMAN:
        # The policy already recorded this escalation (the fallback row): don't audit twice.
        return ToPerson(
            await escalate(
                state,
                from_agent=from_agent,
                reason="loop guard: repeated failed transfers",
                already_audited=True,
            )
        )
    final_brief = plan.brief or brief
    carried = carried_context(current.chat_ctx, final_brief, scrub=state.pins.scrub)
    return Moved(build_desk(state, plan.target, carried), final_brief)


async def escalate(
    state: SessionState, *, from_agent: str | None, reason: str, already_audited: bool = False
) -> EscalationResult:
    """Hand the caller to a person the way this channel does (audited first, unless the
    policy's fallback already was)."""
    reason = model_text(state, reason)
    if not already_audited:
        brief = HandoffBrief(intent=Intent.HUMAN, from_agent=from_agent, open_question=reason)
        await decide_handoff(
            state, from_agent=from_agent, to_agent=HUMAN, reason=reason, brief=brief
        )
    escalation = state.escalation or CallbackEscalation()
    summary = f"Caller escalated from {from_agent}: {reason}"
    result = await escalation.escalate(state, summary)
    await audit_log(state).flush()
    return result


CONTINUING = "continuing after verification"


def continuation(state: SessionState) -> HandoffRequest | None:
    """The transfer a verification requirement held back (`state.pending_intent`), to make
    now that the caller is verified (spoken PIN or keypad), or None. Takes the pending
    intent: it continues once. The refused transfer's reason says what the caller asked
    for, even turns later."""
    pending, need = state.pending_intent, state.pending_need
    state.pending_intent = state.pending_need = None
    if pending is None:
        return None
    target = "card_security" if pending is Intent.SUSPICIOUS_CHARGE else pending.value
    if target not in SPECIALISTS:
        return None
    asked = next(
        (
            r.reason
            for r in reversed(state.handoff_history)
            if r.to_agent == target and r.outcome == "rejected"
        ),
        None,
    )
    reason = f"{CONTINUING}: {asked}" if asked else CONTINUING
    return HandoffRequest(target, reason, need=need)


def build_desk(state: SessionState, agent_id: str, chat_ctx: Any) -> Any:
    """The next desk, built by the session's desk factory (agents.registry.build_agent)."""
    if state.desks is None:
        raise RuntimeError("no desk factory: build the session with agents.new_session")
    return state.desks(agent_id, chat_ctx)


MODEL_TEXT_CHARS = 200


def model_text(state: SessionState, text: str) -> str:
    """A model-written string kept by the desk (a transfer reason): bounded before it is
    scanned (masking stays cheap however long the model made it), masked like any carried
    agent line, scrubbed of the call's PINs, then cut to what is stored."""
    if not text:
        return ""
    bounded = text[: MODEL_TEXT_CHARS * 4]
    return state.pins.scrub(mask_sensitive(bounded))[:MODEL_TEXT_CHARS]


_SPOKEN_REJECTIONS: dict[str, RefusalReason] = {
    "verification_required": "verification_required",
    "edge_not_allowed": "edge_not_allowed",
    "same_agent": "same_agent",
}


KEYPAD = "keypad"


def verify_by(state: SessionState, reason: RefusalReason) -> str:
    """How this caller can verify: a phone caller whose number matched a customer keys the
    PIN on the keypad (the digits never reach a model); everyone else says them."""
    if reason == "verification_required" and state.channel == "sip":
        if state.caller.candidate_customer_id is not None:
            return KEYPAD
    return ""


def _rejection_reason(plan: HandoffPlan) -> RefusalReason:
    rejection = plan.decision.rejection
    value = rejection.value if rejection is not None else ""
    return _SPOKEN_REJECTIONS.get(value, "not_transferred")
