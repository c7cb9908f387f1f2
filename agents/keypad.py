"""SIP keypad verification: a PIN keyed on the phone (DTMF) never passes through the model.

The caller-id match proposes *which* customer; the keyed PIN proves it, checked in code with
the same lockout rules as spoken verification. On success the call continues to what the
caller asked for (or the greeter asks), with no PIN anywhere in the chat context."""

from __future__ import annotations

import logging

from livekit.agents import AgentSession
from livekit.agents.voice.speech_handle import SpeechHandle

from handoffs import carried_context, decide_handoff, save_checkpoint
from handoffs.transaction import build_desk
from shared_state import Assurance, HandoffBrief, Intent, SessionState

from .consent import keypad_key
from .verification import VerificationRefused, verify_customer

logger = logging.getLogger("bank.keypad")


async def verify_keyed_pin(
    session: AgentSession[SessionState], state: SessionState, pin: str
) -> bool:
    """Verify a keyed PIN against the caller-id candidate. Returns True when verified."""
    if state.is_verified:
        return True
    if state.caller.candidate_customer_id is None or state.db is None:
        session.say(
            "I couldn't match your phone number to a customer, so please tell me your "
            "customer number and PIN instead."
        )
        return False
    customer = await state.db.customer_by_id(state.caller.candidate_customer_id)
    try:
        await verify_customer(state, customer.customer_number, pin, assurance=Assurance.PIN)
    except VerificationRefused as refusal:
        session.say(str(refusal))
        return False
    await save_checkpoint(state)
    pending = state.pending_intent
    current = session.current_agent
    from_agent = getattr(current, "agent_id", None)
    if pending in (Intent.BALANCE, Intent.TRANSACTIONS, Intent.CARD_SECURITY):
        assert pending is not None
        state.pending_intent = None
        brief = HandoffBrief(
            intent=pending,
            from_agent=from_agent,
            verified_facts=[f"caller verified as {customer.first_name} (keypad PIN)"],
            open_question="continuing after verification",
        )
        plan = await decide_handoff(
            state,
            from_agent=from_agent,
            to_agent=pending.value,
            reason="continuing after keypad verification",
            brief=brief,
        )
        if plan.target is not None and plan.brief is not None:
            session.update_agent(
                build_desk(state, plan.target, carried_context(current.chat_ctx, plan.brief))
            )
            return True
    session.generate_reply(
        instructions=f"The caller has just verified by keypad as {customer.first_name}. "
        "Thank them by name and ask what they need: balance, transactions, or card security.",
        tool_choice="none",
    )
    return True


def confirm_by_keypad(
    session: AgentSession[SessionState], state: SessionState, key: str
) -> SpeechHandle | None:
    """The SIP keypad as a second way to answer a card write's read-back: `1` is the
    caller's yes (recorded in code, so the write may run on it without spoken words), `2`
    is no. Any other key, or no read-back pending, is not an answer: None. Returns the
    reply it started."""
    pending = state.pending_confirmation
    if pending is None or not state.is_verified or key not in ("1", "2"):
        return None
    if key == "2":
        state.pending_confirmation = None
        return session.generate_reply(
            instructions="The caller pressed 2 on their keypad: they do not confirm. Say that "
            "nothing was changed and ask what else you can do.",
            tool_choice="none",
        )
    state.keypad_consent = keypad_key(pending.action, pending.card_last_four)
    return session.generate_reply(
        instructions="The caller pressed 1 on their keypad to confirm the read-back: call the "
        f"same card tool again for the card ending {pending.card_last_four} with confirm=true.",
        tool_choice="auto",
    )
