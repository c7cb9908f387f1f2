"""Identity verification: the only place (besides the agent server's signed-token path)
that binds a verified principal to the session. The PIN is checked in code against the
stored hash, lockout is persisted in the DB, and the PIN is redacted from the chat context
right after the check (see `redact_pin_from_context`, run by the session on every call of
`verify_identity`)."""

from __future__ import annotations

import logging
import re

from livekit.agents import AgentSession, llm

from shared_state import Assurance, Principal, SessionState, now_iso
from tools.db import Customer, DatabaseUnavailable, VerificationResult, VerificationStatus

logger = logging.getLogger("bank.verification")

MAX_ATTEMPTS_PER_SESSION = 5
PIN_REDACTED = "[PIN redacted]"
_DIGITS = re.compile(r"\D")


class VerificationRefused(Exception):
    """Carries the sentence the caller hears when verification does not succeed."""


def normalise_digits(raw: str, *, min_len: int, max_len: int, what: str) -> str:
    digits = _DIGITS.sub("", raw or "")
    if not raw or len(raw) > 40 or not (min_len <= len(digits) <= max_len):
        raise VerificationRefused(
            f"That doesn't look like a valid {what}. It should be {min_len} to {max_len} digits."
        )
    return digits


async def verify_customer(
    state: SessionState, customer_number: str, pin: str, *, assurance: Assurance = Assurance.PIN
) -> Customer:
    """Check the PIN and bind the principal, or raise VerificationRefused with what to say."""
    if state.db is None:
        raise VerificationRefused("Verification is unavailable right now.")
    if state.verification_attempts >= MAX_ATTEMPTS_PER_SESSION:
        await _security_event(state, None, "verification_session_limit", "too many attempts")
        raise VerificationRefused(
            "There have been too many verification attempts on this call, so I can't try "
            "again. I can connect you with a person, or you can call back later."
        )
    number = normalise_digits(customer_number, min_len=4, max_len=12, what="customer number")
    digits = normalise_digits(pin, min_len=4, max_len=8, what="PIN")
    state.verification_attempts += 1
    if state.principal is not None and state.principal.customer_number != number:
        await _security_event(
            state, state.principal.customer_id, "identity_switch_refused", "second customer"
        )
        raise VerificationRefused(
            "This call is already verified for one customer. For another customer's accounts, "
            "they need to call us themselves."
        )
    try:
        result = await state.db.verify_pin(number, digits)
    except DatabaseUnavailable as exc:
        state.verification_attempts -= 1  # not the caller's fault
        raise VerificationRefused(
            "I'm sorry, I can't reach our verification system right now. Please try again in "
            "a moment."
        ) from exc
    customer_id = result.customer.id if result.customer else None
    await _security_event(state, customer_id, f"verification_{result.status.value}", "pin check")
    if result.status is VerificationStatus.VERIFIED:
        assert result.customer is not None
        bind_principal(state, result.customer, assurance)
        return result.customer
    raise VerificationRefused(_refusal_text(result))


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


def _refusal_text(result: VerificationResult) -> str:
    if result.status is VerificationStatus.LOCKED:
        return (
            "Verification for that customer number is locked for 15 minutes after too many "
            "incorrect PINs. I can connect you with a person, or you can try again later."
        )
    # Same words for an unknown customer and a wrong PIN: no customer-number enumeration.
    return "That customer number and PIN don't match our records. Please check them and try again."


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


def redact_pin_from_context(session: AgentSession[SessionState], call: llm.FunctionCall) -> None:
    """Remove the PIN from the tool call's arguments and from the caller's words, in the
    agent's context and the session history, so no later LLM call ever sees it."""
    import json

    try:
        args = json.loads(call.arguments or "{}")
    except ValueError:
        args = {}
    pin = str(args.get("pin", "")) if isinstance(args, dict) else ""
    if isinstance(args, dict) and "pin" in args:
        args["pin"] = PIN_REDACTED
        call.arguments = json.dumps(args)
    digits = _DIGITS.sub("", pin)
    if not digits:
        return
    contexts = [session.history]
    if session.current_agent is not None:
        contexts.append(session.current_agent.chat_ctx)  # a copy: see the _chat_ctx below
        contexts.append(session.current_agent._chat_ctx)
    pattern = _pin_pattern(digits)
    for ctx in contexts:
        for item in ctx.items:
            if item.type == "message" and item.role == "user":
                item.content = [
                    pattern.sub(PIN_REDACTED, c) if isinstance(c, str) else c for c in item.content
                ]
            elif item.type == "function_call" and item.name == "verify_identity":
                try:
                    other = json.loads(item.arguments or "{}")
                except ValueError:
                    continue
                if isinstance(other, dict) and "pin" in other:
                    other["pin"] = PIN_REDACTED
                    item.arguments = json.dumps(other)


_DIGIT_WORDS = ("zero|oh", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def _pin_pattern(digits: str) -> re.Pattern[str]:
    # Matches "1234", "1 2 3 4", "1-2-3-4" and "one two three four" as spoken or typed.
    parts = [rf"(?:{d}|\b(?:{_DIGIT_WORDS[int(d)]})\b)" for d in digits]
    return re.compile(r"(?<!\d)" + r"[\s,.-]*".join(parts) + r"(?!\d)", re.IGNORECASE)
