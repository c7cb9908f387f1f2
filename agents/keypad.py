"""The SIP keypad: a PIN keyed on the phone (DTMF) never passes through the model, and `1` /
`2` answer a card write's read-back.

The caller-id match proposes *which* customer; the keyed PIN proves it, checked in code with
the same lockout rules as spoken verification. On success the call continues to what the
caller asked for through the one handoff transaction (handoffs.transaction), or the greeter
asks, with no PIN anywhere in the chat context."""

from __future__ import annotations

import logging

from livekit.agents import AgentSession
from livekit.agents.voice.speech_handle import SpeechHandle

from handoffs import Moved, NotMoved, continuation, save_checkpoint, transfer
from shared_state import Assurance, PendingConfirmation, SessionState
from tools.outcomes import Escalated, Refused

from .app_confirm import Answer, answer_read_back, say_line, talked_over
from .consent import Consent
from .render import say
from .verification import VerificationRefused, verify_customer

logger = logging.getLogger("bank.keypad")

KEYS: dict[str, Answer] = {"1": "confirm", "2": "cancel"}
EXPIRED_LINE = (
    "That confirmation has expired, so I haven't changed anything on the card. "
    "If you still want the change, please ask me again."
)
NO_MATCH_LINE = (
    "I couldn't match your phone number to a customer, so please tell me your "
    "customer number and PIN instead."
)


async def verify_keyed_pin(
    session: AgentSession[SessionState], state: SessionState, pin: str
) -> bool:
    """Verify a keyed PIN against the caller-id candidate. Returns True when verified."""
    if state.is_verified:
        return True
    if state.caller.candidate_customer_id is None or state.db is None:
        _say(session, NO_MATCH_LINE)
        return False
    customer = await state.db.customer_by_id(state.caller.candidate_customer_id)
    try:
        await verify_customer(state, customer.customer_number, pin, assurance=Assurance.PIN)
    except VerificationRefused as refusal:
        _say(session, str(refusal))
        return False
    await save_checkpoint(state)
    await _continue(session, state, customer.first_name)
    return True


async def _continue(session: AgentSession[SessionState], state: SessionState, name: str) -> None:
    """On to the desk the caller asked for before verifying: one handoff transaction,
    decided in code (no model reply asked for it, so none is claimed), and each of its
    results said the way a transfer tool's is. With nothing asked yet, the greeter asks."""
    verified = f"The caller has just verified by keypad as {name}. "
    request = continuation(state)
    if request is None:
        session.generate_reply(
            instructions=verified + "Thank them by name and ask what they need: balance, "
            "transactions, or card security.",
            tool_choice="none",
        )
        return
    result = await transfer(state, request, current=session.current_agent, claim=None)
    if isinstance(result, Moved):
        session.update_agent(result.agent)
    elif isinstance(result, NotMoved):
        # The desk's model hears the refusal a transfer tool would get, and tells the caller.
        refused = Refused(reason=result.reason, subject=result.subject, detail=result.detail)
        session.generate_reply(instructions=verified + say(refused), tool_choice="none")
    else:  # ToPerson: the loop guard gave up on desks
        escalation = result.escalation
        _say(session, say(Escalated(ok=escalation.ok, message=escalation.spoken)))


async def confirm_by_keypad(
    session: AgentSession[SessionState], state: SessionState, key: str
) -> SpeechHandle | None:
    """The keypad as a second way to answer a card write's read-back, judged in code like
    the app's sheet (agents.app_confirm.answer_read_back): `1` is the caller's yes, and the
    desk's card tool runs with it (`Consent.KEYPAD`) without any model asked to; `2` is
    no, and the read-back is cleared with a fixed line. A key on a read-back the caller
    has talked over since changes nothing, and they hear why (a fixed line). Any other
    key, or no read-back pending: None. Returns the reply it started."""
    pending = state.pending_confirmation
    answer = KEYS.get(key)
    if pending is None or answer is None or not state.is_verified:
        return None
    try:
        handle = await answer_read_back(session, state, pending, answer, by=Consent.KEYPAD)
        if handle is None and talked_over(state, pending):
            return await _expired(session, state, pending)
        return handle
    except Exception:  # a background task of the call: it logs its own failure
        logger.exception("keypad confirmation failed")
        return None


async def _expired(
    session: AgentSession[SessionState], state: SessionState, pending: PendingConfirmation
) -> SpeechHandle | None:
    """A key pressed after the caller spoke since the read-back: the yes must follow the
    read-back directly, so it is not one, but it is never dropped without a word. The desk
    answers what the caller said first; if that settled the read-back (their spoken yes on
    that very turn, or a new read-back), there is nothing to add."""
    speech = session.current_speech
    if speech is not None:
        await speech.wait_for_playout()
    if state.pending_confirmation is not pending:
        return None
    return _say(session, EXPIRED_LINE)


def _say(session: AgentSession[SessionState], line: str) -> SpeechHandle:
    return say_line(session, line, otherwise=f"Tell the caller, in these words: {line}")
