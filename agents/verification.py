"""Identity verification: the only place (besides the agent server's signed-token path)
that binds a verified principal to the session. The PIN is checked in code against the
stored hash, lockout is persisted in the DB, and the PIN is learnt by the session's
`PinRedactor` before it is checked, so it is scrubbed from every context from then on
(see agents/redaction.py)."""

from __future__ import annotations

import logging
import re

from shared_state import Assurance, Principal, SessionState, now_iso
from tools.db import Customer, DatabaseUnavailable, VerificationResult, VerificationStatus
from tools.outcomes import RefusalReason, Refused
from tools.pin_redaction import PIN_REDACTED

from .render import say

__all__ = ["PIN_REDACTED", "VerificationRefused", "bind_principal", "verify_customer"]

logger = logging.getLogger("bank.verification")

MAX_ATTEMPTS_PER_SESSION = 5
_DIGITS = re.compile(r"\D")


class VerificationRefused(Exception):
    """Carries the typed refusal; str() is the sentence the caller hears."""

    def __init__(self, reason: RefusalReason, *, subject: str = "", detail: str = "") -> None:
        self.outcome = Refused(reason=reason, subject=subject, detail=detail)
        super().__init__(say(self.outcome))


def normalise_digits(raw: str, *, min_len: int, max_len: int, what: str) -> str:
    digits = _DIGITS.sub("", raw or "")
    if not raw or len(raw) > 40 or not (min_len <= len(digits) <= max_len):
        raise VerificationRefused(
            "invalid_credentials", subject=what, detail=f"{min_len} to {max_len}"
        )
    return digits


async def verify_customer(
    state: SessionState, customer_number: str, pin: str, *, assurance: Assurance = Assurance.PIN
) -> Customer:
    """Check the PIN and bind the principal, or raise VerificationRefused with what to say."""
    state.pins.add(pin)  # from now on no context, brief or checkpoint may hold it
    if state.db is None:
        raise VerificationRefused("verification_unavailable")
    if state.verification_attempts >= MAX_ATTEMPTS_PER_SESSION:
        await _security_event(state, None, "verification_session_limit", "too many attempts")
        raise VerificationRefused("too_many_attempts")
    number = normalise_digits(customer_number, min_len=4, max_len=12, what="customer number")
    if state.principal is not None and state.principal.customer_number != number:
        # Refused on the number alone: the PIN a verified caller says is scrubbed before any
        # model hears it, so it may arrive as "[PIN redacted]".
        state.verification_attempts += 1
        await _security_event(
            state, state.principal.customer_id, "identity_switch_refused", "second customer"
        )
        raise VerificationRefused("other_customer")
    digits = normalise_digits(pin, min_len=4, max_len=8, what="PIN")
    state.verification_attempts += 1
    try:
        result = await state.db.verify_pin(number, digits)
    except DatabaseUnavailable as exc:
        state.verification_attempts -= 1  # not the caller's fault
        raise VerificationRefused("verification_unavailable") from exc
    customer_id = result.customer.id if result.customer else None
    await _security_event(state, customer_id, f"verification_{result.status.value}", "pin check")
    if result.status is VerificationStatus.VERIFIED:
        assert result.customer is not None
        bind_principal(state, result.customer, assurance)
        return result.customer
    raise VerificationRefused(_refusal_reason(result))


def bind_principal(state: SessionState, customer: Customer, assurance: Assurance) -> None:
    state._bind_principal(
        Principal(
            customer_id=customer.id,
            customer_number=customer.customer_number,
            first_name=customer.first_name,
            assurance=assurance,
            verified_at=now_iso(),
        )
    )
    state.verified_on_turn = state.user_turns


def _refusal_reason(result: VerificationResult) -> RefusalReason:
    if result.status is VerificationStatus.LOCKED:
        return "credentials_locked"
    # One outcome for an unknown customer and a wrong PIN: no customer-number enumeration.
    return "credentials_mismatch"


async def _security_event(
    state: SessionState, customer_id: int | None, kind: str, detail: str
) -> None:
    if state.db is None:
        return
    try:
        await state.db.record_security_event(
            session_id=state.session_id,
            customer_id=customer_id,
            kind=kind,
            detail=detail,
            channel=state.channel,
        )
    except DatabaseUnavailable:
        logger.warning("security event not recorded", extra={"kind": kind})
