"""The transfer tools: one per outgoing edge of the handoff graph, each making one call to
the handoff transaction (handoffs/transaction.py), and the escalation to a person."""

from __future__ import annotations

from functools import cache
from typing import Any, Literal

from livekit.agents import RunContext, function_tool, llm

from handoffs import DISPLAY_NAMES, HUMAN, transfer_tool_name
from handoffs.transaction import (
    HandoffRequest,
    NotMoved,
    ToPerson,
    escalate,
    transfer,
)
from shared_state import Intent, Need, SessionState, SuspectTransaction
from shared_state.state import EscalationResult
from tools.db import DatabaseUnavailable, NotFound, is_valid_id
from tools.outcomes import Escalated, Refused

from .guard import hold_the_floor, refuse_unknown_transaction
from .prefetch import start_read
from .render import fail, render


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
            "    account: the account the caller asked about, if they named one\n" + _NEEDS_ARG,
        )
    if target == "card_security":
        return function_tool(
            _transfer_to_card_security,
            name=transfer_tool_name(target),
            description="Hand the caller to card security: lost, stolen or suspicious cards, "
            "locking/unlocking, disputes, and charges they do not recognise.\n\nArgs:\n"
            "    reason: why, in a few words\n"
            "    merchant: merchant of a charge the caller does not recognise, if any\n"
            "    transaction_ref: reference number of that charge, if known\n" + _NEEDS_ARG,
        )

    async def transfer(
        ctx: RunContext[SessionState], reason: str = "", caller_needs: CallerNeed | None = None
    ) -> Any:
        return await handoff(ctx, target, reason=reason, need=caller_needs)

    return function_tool(
        transfer,
        name=transfer_tool_name(target),
        description=f"Hand the caller to {DISPLAY_NAMES[target]}.\n\nArgs:\n"
        "    reason: why, in a few words\n" + _NEEDS_ARG,
    )


# What a model may say the caller needs next (shared_state.Need, less the loop guard's own).
CallerNeed = Literal[
    "balance", "transactions", "card_security", "lock", "unlock", "lost", "stolen",
    "list_cards", "suspicious_charge", "dispute", "nothing_more",
]  # fmt: skip
_NEEDS_ARG = (
    "    caller_needs: what the caller needs next, if you know: the next desk acts on it "
    "(nothing_more: they are finished)"
)


async def _transfer_to_balance(
    ctx: RunContext[SessionState],
    reason: str = "",
    account: Literal["all", "checking", "savings", "credit_card"] = "all",
    caller_needs: CallerNeed | None = None,
) -> Any:
    return await handoff(
        ctx, "balance", reason=reason, slots={"account": account}, need=caller_needs
    )


async def _transfer_to_card_security(
    ctx: RunContext[SessionState],
    reason: str = "",
    merchant: str | None = None,
    transaction_ref: int | None = None,
    caller_needs: CallerNeed | None = None,
) -> Any:
    suspect = None
    if merchant or transaction_ref is not None:
        suspect = await _resolve_suspect(ctx.userdata, merchant, transaction_ref)
    intent = Intent.SUSPICIOUS_CHARGE if suspect else Intent.CARD_SECURITY
    return await handoff(
        ctx, "card_security", reason=reason, intent=intent, suspect=suspect, need=caller_needs
    )


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
    need: Need | None = None,
) -> Any:
    """One call to the handoff transaction (handoffs/transaction.py); on acceptance return
    the next agent *bare* so the old agent says nothing and the new one speaks exactly one
    opening line. When the brief holds a clear request, the next desk's read starts here
    (agents/prefetch.py), alongside the audit."""
    hold_the_floor(ctx)
    result = await transfer(
        ctx.userdata,
        HandoffRequest(target, reason, intent, suspect, need),
        current=ctx.session.current_agent,
        claim=(ctx.speech_handle.id, ctx.function_call.call_id),
    )
    if isinstance(result, NotMoved):
        raise fail(Refused(reason=result.reason, subject=result.subject, detail=result.detail))
    if isinstance(result, ToPerson):
        return _spoken(result.escalation)
    agent = result.agent
    read = agent.opening_read(result.brief, slots or {})
    if read is not None:
        agent.prefetch = start_read(ctx, agent, read)
    return agent


async def escalate_to_human(
    ctx: RunContext[SessionState], *, reason: str, already_audited: bool = False
) -> str:
    from_agent = getattr(ctx.session.current_agent, "agent_id", None)
    return _spoken(
        await escalate(
            ctx.userdata, from_agent=from_agent, reason=reason, already_audited=already_audited
        )
    )


def _spoken(result: EscalationResult) -> str:
    return render(Escalated(ok=result.ok, message=result.spoken))
