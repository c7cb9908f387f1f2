"""Escalation to a human. The channel decides what that means: a SIP call is transferred
(cold here; warm in telephony/warm_transfer.py); an app or console caller gets a callback
case in the DB. On failure the caller stays with the agent, state intact, and is told so."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from shared_state import SessionState
from shared_state.state import EscalationResult, HumanEscalation
from tools.db import Database, DatabaseUnavailable

logger = logging.getLogger("bank.handoffs.escalation")


__all__ = ["CallbackEscalation", "EscalationResult", "HumanEscalation", "SipTransferEscalation"]


async def open_callback_case(
    db: Database, customer_id: int, state: SessionState, summary: str
) -> int:
    """The call's one callback case (idempotent per session): its id. Raises
    DatabaseUnavailable; the caller of this says what that means for the call."""
    case = await db.open_case(
        customer_id,
        "callback",
        summary=summary[:500],
        idempotency_key=f"{state.session_id}:callback",
    )
    return case.id


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
            case_id = await open_callback_case(state.db, principal.customer_id, state, summary)
        except DatabaseUnavailable:
            return EscalationResult(
                False,
                "I'm sorry, I can't reach our case system right now, so I couldn't book the "
                "call back. I'm still here and can keep helping, or you can try again shortly.",
            )
        return EscalationResult(
            True,
            f"I've asked a member of our team to call you back; your case number is {case_id}. "
            "Is there anything else I can help with meanwhile?",
        )


TransferFn = Callable[[str, str], Awaitable[object]]  # (participant identity, transfer_to)


class SipTransferEscalation:
    """SIP: cold-transfer the caller to `transfer_to` (tel:/sip: URI); the warm transfer
    is telephony.warm_transfer.WarmTransferEscalation. If the transfer fails the caller
    stays with the agent, state intact, and is told so."""

    def __init__(
        self,
        *,
        participant_identity: str,
        transfer_to: str | None,
        transfer: TransferFn,
    ) -> None:
        self._identity = participant_identity
        self._transfer_to = transfer_to
        self._transfer = transfer

    async def escalate(self, state: SessionState, summary: str) -> EscalationResult:
        if not self._transfer_to:
            fallback = await CallbackEscalation().escalate(state, summary)
            return EscalationResult(fallback.ok, fallback.spoken)
        try:
            await self._transfer(self._identity, self._transfer_to)
        except Exception:
            logger.warning("SIP transfer failed", exc_info=True)
            return EscalationResult(
                False,
                "I'm sorry, I couldn't connect you to a colleague just now. I'm still here, "
                "and everything we've done so far is kept. Would you like me to try again, or "
                "can I help with something else?",
            )
        return EscalationResult(True, "Connecting you to a member of our team now.", True)
