"""The transfer tools: one per outgoing edge of the handoff graph, each asking the handoff
policy, and the escalation to a person."""

from __future__ import annotations

from functools import cache
from typing import Any, Literal

from livekit.agents import RunContext, function_tool, llm

from handoffs import (
    DISPLAY_NAMES,
    HUMAN,
    CallbackEscalation,
    carried_context,
    decide_handoff,
    mask_sensitive,
    transfer_tool_name,
)
from handoffs.audit import audit_settled
from handoffs.engine import audit_log
from handoffs.policy import Rejection
from shared_state import HandoffBrief, Intent, SessionState, SuspectTransaction
from tools.db import DatabaseUnavailable, NotFound, is_valid_id
from tools.outcomes import Escalated, RefusalReason, Refused

from .guard import hold_the_floor, refuse_unknown_transaction
from .prefetch import start_read
from .redaction import scrub_contexts
from .render import fail, render

_INTENT_FOR_TARGET: dict[str, Intent] = {
    "balance": Intent.BALANCE,
    "transactions": Intent.TRANSACTIONS,
    "card_security": Intent.CARD_SECURITY,
    "human": Intent.HUMAN,
}


@cache
def make_transfer_tool(target: str) -> llm.FunctionTool[..., Any]:
    """One transfer tool per outgoing edge of the graph: an agent only ever sees the tools
    for the edges it has. The policy still re-checks every call in code. Built once per
    target and shared (a tool holds no per-agent state), like the class-level tools."""
    if target == HUMAN:
        return function_tool(
            _transfer_to_human,
            name=transfer_tool_name(HUMAN),
            description="Connect the caller with a person from the bank's team when they ask "
            "for one or when you cannot help.\n\nArgs:\n    reason: why, in a few words",
        )
    if target == "balance":
        return function_tool(
            _transfer_to_balance,
            name=transfer_tool_name(target),
            description=f"Hand the caller to {DISPLAY_NAMES[target]}.\n\nArgs:\n"
            "    reason: why, in a few words\n"
            "    account: the account the caller asked about, if they named one",
        )
    if target == "card_security":
        return function_tool(
            _transfer_to_card_security,
            name=transfer_tool_name(target),
            description="Hand the caller to card security: lost, stolen or suspicious cards, "
            "locking/unlocking, disputes, and charges they do not recognise.\n\nArgs:\n"
            "    reason: why, in a few words\n"
            "    merchant: merchant of a charge the caller does not recognise, if any\n"
            "    transaction_ref: reference number of that charge, if known",
        )

    async def transfer(ctx: RunContext[SessionState], reason: str = "") -> Any:
        return await handoff(ctx, target, reason=reason)

    return function_tool(
        transfer,
        name=transfer_tool_name(target),
        description=f"Hand the caller to {DISPLAY_NAMES[target]}.\n\nArgs:\n"
        "    reason: why, in a few words",
    )


async def _transfer_to_balance(
    ctx: RunContext[SessionState],
    reason: str = "",
    account: Literal["all", "checking", "savings", "credit_card"] = "all",
) -> Any:
    return await handoff(ctx, "balance", reason=reason, slots={"account": account})


async def _transfer_to_card_security(
    ctx: RunContext[SessionState],
    reason: str = "",
    merchant: str | None = None,
    transaction_ref: int | None = None,
) -> Any:
    suspect = None
    if merchant or transaction_ref is not None:
        suspect = await _resolve_suspect(ctx.userdata, merchant, transaction_ref)
    intent = Intent.SUSPICIOUS_CHARGE if suspect else Intent.CARD_SECURITY
    return await handoff(ctx, "card_security", reason=reason, intent=intent, suspect=suspect)


async def _transfer_to_human(ctx: RunContext[SessionState], reason: str = "") -> str:
    return await escalate_to_human(ctx, reason=reason or "caller asked for a person")


async def _resolve_suspect(
    state: SessionState, merchant: str | None, transaction_ref: int | None
) -> SuspectTransaction | None:
    """Find the charge the caller means, only among the verified customer's transactions.

    A named reference that is not one of theirs refuses the transfer (ToolError); a merchant
    with no match, or a database outage, just transfers without a suspect charge."""
    principal = state.principal
    if principal is None or not state.is_verified or state.db is None:
        return None  # the policy refuses the transfer itself (verification required)
    action = "transfer_to_card_security"
    if transaction_ref is not None and not is_valid_id(transaction_ref):
        refuse_unknown_transaction(state, transaction_ref, action=action)
    try:
        if transaction_ref is not None:
            txn = await state.db.transaction_for_customer(principal.customer_id, transaction_ref)
        else:
            matches = await state.db.transactions(
                principal.customer_id, merchant=(merchant or "")[:60], limit=1
            )
            if not matches:
                return None
            txn = matches[0]
        card = await state.db.card_for_account(principal.customer_id, txn.account_id)
    except NotFound:
        if transaction_ref is None:
            return None
        refuse_unknown_transaction(state, transaction_ref, action=action)
    except DatabaseUnavailable:
        return None
    return SuspectTransaction(
        transaction_id=txn.id,
        merchant=txn.merchant,
        amount_cents=txn.amount_cents,
        occurred_on=txn.occurred_at.date().isoformat(),
        card_last_four=card.last_four if card else None,
    )


async def handoff(
    ctx: RunContext[SessionState],
    target: str,
    *,
    reason: str,
    intent: Intent | None = None,
    suspect: SuspectTransaction | None = None,
    slots: dict[str, Any] | None = None,
) -> Any:
    """Ask the policy; on acceptance return the next agent *bare* so the old agent says
    nothing and the new one speaks exactly one opening line. When the brief holds a clear
    request, the next desk's read starts here (agents/prefetch.py), alongside the audit.

    One handoff per model reply: livekit switches agents once per reply, and when two
    tools of one reply each return an agent it switches to *neither* (agent_activity.py:
    "expected to receive only one AgentTask"), while our policy, audit, checkpoint and
    `state.current_agent` would already say otherwise. So the first transfer of a reply
    claims the switch; any other transfer in that reply is refused and audited as rejected
    (`one_handoff_per_turn`), and livekit performs exactly the claimed one. (Refusing both
    is not possible: tool calls stream in and run as they arrive, so the first has usually
    been decided and audited before the second exists.)"""
    hold_the_floor(ctx)
    state = ctx.userdata
    current = ctx.session.current_agent
    from_agent = getattr(current, "agent_id", None)
    reason = model_text(state, reason)
    speech_id, call_id = ctx.speech_handle.id, ctx.function_call.call_id
    claim = state.handoff_claim
    if claim is not None and claim[0] == speech_id and claim[1] != call_id:
        await decide_handoff(
            state,
            from_agent=from_agent,
            to_agent=target,
            reason=reason or "requested",
            brief=HandoffBrief(
                intent=intent or _INTENT_FOR_TARGET.get(target), from_agent=from_agent
            ),
            refuse=Rejection.ONE_HANDOFF_PER_TURN,
        )
        busy = DISPLAY_NAMES.get(claim[2], "another desk")
        raise fail(Refused(reason="one_handoff_per_turn", subject=target, detail=busy))
    # Claimed before the first await, so a transfer running alongside sees it.
    state.handoff_claim = mine = (speech_id, call_id, target)
    facts = []
    if state.principal is not None:
        facts.append(f"caller verified as {state.principal.first_name} ({state.assurance.value})")
    brief = HandoffBrief(
        intent=intent or _INTENT_FOR_TARGET.get(target),
        from_agent=from_agent,
        verified_facts=facts,
        # The model wrote the reason: masked above like any carried agent text.
        open_question=reason or None,
        suspect_transaction=suspect,
    )
    # Write-behind: the audit row and the checkpoint are written while livekit switches
    # agents; the next agent's llm_node waits for that write before it says anything.
    plan = await decide_handoff(
        state,
        from_agent=from_agent,
        to_agent=target,
        reason=reason or "requested",
        brief=brief,
        write_behind=True,
    )
    if plan.target is None:
        if state.handoff_claim == mine:
            state.handoff_claim = None  # nothing switches: a later step may transfer
        await audit_settled(state)  # a refusal is on record before the model hears of it
        reason = _rejection_reason(plan)
        raise fail(Refused(reason=reason, subject=target, detail=_verify_by(state, reason)))
    if plan.target == HUMAN:
        # The policy already recorded this escalation (the fallback row): don't audit twice.
        return await escalate_to_human(
            ctx, reason="loop guard: repeated failed transfers", already_audited=True
        )
    carried = carried_context(current.chat_ctx, plan.brief or brief)
    scrub_contexts(state.pins, carried)
    final_brief = plan.brief or brief
    agent = build_agent(state, plan.target, carried)
    read = agent.opening_read(final_brief, slots or {})
    if read is not None:
        agent.prefetch = start_read(ctx, agent, read)
    return agent


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


def _verify_by(state: SessionState, reason: RefusalReason) -> str:
    """How this caller can verify: a phone caller whose number matched a customer keys the
    PIN on the keypad (the digits never reach a model); everyone else says them."""
    if reason == "verification_required" and state.channel == "sip":
        if state.caller.candidate_customer_id is not None:
            return KEYPAD
    return ""


def _rejection_reason(plan: Any) -> RefusalReason:
    rejection = plan.decision.rejection
    value = rejection.value if rejection is not None else ""
    return _SPOKEN_REJECTIONS.get(value, "not_transferred")


async def escalate_to_human(
    ctx: RunContext[SessionState], *, reason: str, already_audited: bool = False
) -> str:
    state = ctx.userdata
    current = ctx.session.current_agent
    from_agent = getattr(current, "agent_id", None)
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
    return render(Escalated(ok=result.ok, message=result.spoken))


def build_agent(state: SessionState, agent_id: str, chat_ctx: llm.ChatContext | None) -> Any:
    """The next desk, built by the session's desk factory (agents.registry.build_agent)."""
    if state.desks is None:
        raise RuntimeError("no desk factory: build the session with agents.new_session")
    return state.desks(agent_id, chat_ctx)
