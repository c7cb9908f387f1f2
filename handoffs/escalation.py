"""Escalation to a human. The channel decides what that means: a SIP call is transferred
(cold, or warm with a spoken brief); an app or console caller gets a callback case in the DB.
On failure the caller stays with the agent, state intact, and is told so."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from shared_state import SessionState
from tools.db import DatabaseUnavailable

logger = logging.getLogger("bank.handoffs.escalation")


@dataclass(frozen=True)
class EscalationResult:
    ok: bool
    spoken: str  # what the caller is told, success or failure
    ends_call_for_agent: bool = False  # True when the caller has left the agent (SIP transfer)


class HumanEscalation(Protocol):
    async def escalate(self, state: SessionState, summary: str) -> EscalationResult: ...


class CallbackEscalation:
    """App and console: record a callback case for the verified customer."""

    async def escalate(self, state: SessionState, summary: str) -> EscalationResult:
        principal = state.principal
        if principal is None or state.db is None:
            return EscalationResult(
                False,
                "I can arrange a call back from our team once you're verified. If you'd rather "
                "not verify, you can reach us any time on the number on the back of your card.",
            )
        try:
            case = await state.db.open_case(
                principal.customer_id,
                "callback",
                summary=summary[:500],
                idempotency_key=f"{state.session_id}:callback",
            )
        except DatabaseUnavailable:
            return EscalationResult(
                False,
                "I'm sorry, I can't reach our case system right now, so I couldn't book the "
                "call back. I'm still here and can keep helping, or you can try again shortly.",
            )
        return EscalationResult(
            True,
            f"I've asked a member of our team to call you back; your case number is {case.id}. "
            "Is there anything else I can help with meanwhile?",
        )
