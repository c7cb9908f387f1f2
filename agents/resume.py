"""Resume bound to the caller. A checkpoint carries who created it (participant identity,
channel, and the channel's own identity: the signed app customer, or the phone number);
a new job for the room resumes it only for that same caller. Anyone else starts fresh and
unverified, the refusal is recorded, and the stale checkpoint is deleted. Checkpoints end
with the call (`forget_call`) and are never resumed past `CHECKPOINT_TTL` anyway."""

from __future__ import annotations

import logging
from datetime import timedelta

from shared_state import SessionState
from telephony.channel import CallerInfo
from tools.db import Database, DatabaseUnavailable

logger = logging.getLogger("bank.resume")

# A backstop for calls that ended without a clean close (a crashed worker nobody restarted).
CHECKPOINT_TTL = timedelta(hours=1)


def same_caller(saved: dict[str, object], caller: CallerInfo) -> bool:
    """Whether the caller joining now is the one who created the checkpoint."""
    hints = saved.get("caller")
    if not isinstance(hints, dict) or saved.get("channel") != caller.channel:
        return False
    identity = hints.get("participant_identity")
    if not identity or identity != caller.participant_identity:
        return False
    if caller.channel == "sip":
        return bool(caller.phone_number) and hints.get("phone_number") == caller.phone_number
    if caller.channel == "app":
        principal = saved.get("principal")
        saved_id = principal.get("customer_id") if isinstance(principal, dict) else None
        return caller.is_app_authenticated and saved_id == caller.app_customer_id
    return False  # the console has no room to resume


async def resume_for(db: Database, room: str, caller: CallerInfo) -> SessionState | None:
    """The checkpointed state of this room if `caller` created it, else None."""
    saved = await db.load_checkpoint(room, max_age=CHECKPOINT_TTL)
    if saved is None:
        return None
    if not same_caller(saved, caller):
        logger.warning("checkpoint not resumed: another caller", extra={"channel": caller.channel})
        try:
            await db.record_security_event(
                session_id=str(saved.get("session_id", "")),
                customer_id=None,
                kind="resume_refused",
                detail=f"{caller.channel}: checkpoint belongs to another caller",
                channel=caller.channel,
            )
            await db.delete_checkpoint(room)
        except DatabaseUnavailable:
            logger.warning("resume refusal not recorded")
        return None
    state = SessionState.from_checkpoint(saved, db=db)
    state.greeted = True
    return state


async def forget_call(state: SessionState) -> None:
    """The call is over: its checkpoint must not bring it back."""
    if state.db is None or state.room_name is None:
        return
    try:
        await state.db.delete_checkpoint(state.room_name)
    except DatabaseUnavailable:
        logger.warning("checkpoint not deleted at call end (it expires anyway)")
