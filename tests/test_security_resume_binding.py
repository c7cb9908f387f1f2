"""Resume is bound to the caller: a checkpoint comes back only for the participant and
channel identity that created it (the signed app customer, or the phone number); anyone
else starts fresh and unverified. Checkpoints end with the call and expire."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
import pytest
from livekit.agents.voice.events import CloseReason
from scripted_llm import ScriptedLLM, ToolCall
from security_helpers import settle

from agents import Greeter, new_session
from agents.resume import CHECKPOINT_TTL, resume_for, same_caller
from agents.verification import bind_principal
from handoffs import save_checkpoint
from shared_state import Assurance, CallerHints, SessionState
from telephony.channel import CallerInfo
from tools.db import Database

ALICE_APP = CallerInfo(channel="app", app_customer_id=1, participant_identity="customer-1-aa")
ALICE_SIP = CallerInfo(channel="sip", phone_number="+14155550101", participant_identity="sip_1")


async def _checkpoint(db: Database, room: str, caller: CallerInfo) -> SessionState:
    alice = await db.customer_by_number("1001")
    state = SessionState(
        db=db,
        channel=caller.channel,
        room_name=room,
        caller=CallerHints(
            phone_number=caller.phone_number, participant_identity=caller.participant_identity
        ),
        current_agent="balance",
    )
    bind_principal(state, alice, Assurance.APP_AUTH if caller.channel == "app" else Assurance.PIN)
    await save_checkpoint(state)
    return state


def _app(customer_id: int, identity: str) -> CallerInfo:
    return CallerInfo(channel="app", app_customer_id=customer_id, participant_identity=identity)


@pytest.mark.parametrize(
    ("joining", "resumes"),
    [
        (None, True),  # the same caller (filled in below)
        ("other app user", False),
        ("same identity, other customer", False),
        ("unauthenticated participant", False),
        ("phone call", False),
    ],
)
async def test_app_checkpoint_resumes_only_for_its_caller(
    db: Database, joining: str | None, resumes: bool
) -> None:
    alice = await db.customer_by_number("1001")
    ben = await db.customer_by_number("1002")
    created = CallerInfo("app", app_customer_id=alice.id, participant_identity="customer-a-1")
    first = await _checkpoint(db, "bank-room", created)
    caller = {
        None: created,
        "other app user": _app(ben.id, "customer-b-2"),
        "same identity, other customer": _app(ben.id, "customer-a-1"),
        "unauthenticated participant": CallerInfo("console", participant_identity="customer-a-1"),
        "phone call": CallerInfo("sip", phone_number="+14155550102", participant_identity="x"),
    }[joining]
    state = await resume_for(db, "bank-room", caller)
    if resumes:
        assert state is not None and state.is_verified
        assert state.principal is not None and state.principal.customer_id == alice.id
        assert state.current_agent == "balance"
        return
    assert state is None  # the agent server then builds a fresh, unverified state
    assert await db.load_checkpoint("bank-room") is None  # and the stale one is gone
    events = await db.security_events(first.session_id)
    assert [e["kind"] for e in events] == ["resume_refused"]


async def test_phone_checkpoint_needs_the_same_number(db: Database) -> None:
    await _checkpoint(db, "call-1", ALICE_SIP)
    assert same_caller((await db.load_checkpoint("call-1")) or {}, ALICE_SIP)
    other = CallerInfo("sip", phone_number="+14155550199", participant_identity="sip_1")
    assert await resume_for(db, "call-1", other) is None
    await _checkpoint(db, "call-2", ALICE_SIP)
    resumed = await resume_for(db, "call-2", ALICE_SIP)
    assert resumed is not None and resumed.is_verified


def test_same_caller_needs_every_part() -> None:
    saved = {
        "channel": "sip",
        "caller": {"participant_identity": "sip_1", "phone_number": "+14155550101"},
    }
    assert same_caller(saved, ALICE_SIP)
    assert not same_caller(saved, CallerInfo("sip", phone_number="+14155550101"))
    assert not same_caller({**saved, "caller": {}}, ALICE_SIP)
    assert not same_caller({"channel": "console", "caller": {}}, CallerInfo("console"))


async def test_checkpoint_expires(db: Database, dsn: str) -> None:
    await _checkpoint(db, "call-old", ALICE_SIP)
    owner = await asyncpg.connect(dsn)
    try:
        await owner.execute(
            "UPDATE session_checkpoints SET updated_at = now() - $1::interval WHERE room_name = $2",
            CHECKPOINT_TTL + timedelta(minutes=1),
            "call-old",
        )
    finally:
        await owner.close()
    assert await resume_for(db, "call-old", ALICE_SIP) is None


async def test_checkpoint_is_deleted_when_the_caller_hangs_up(db: Database) -> None:
    state = SessionState(db=db, channel="console", room_name="room-hangup")
    model = ScriptedLLM(
        [
            ToolCall("verify_identity", {"customer_number": "1001", "pin": "1234"}),
            "Verified.",
            ToolCall("transfer_to_balance"),
            "Balance desk.",
        ]
    )
    session = new_session(state, llm=model)
    await session.start(Greeter())
    await session.run(user_input="1001, PIN 1234")
    await session.run(user_input="balance")
    await settle(state)
    assert await db.load_checkpoint("room-hangup") is not None
    # What room_io does when the linked participant leaves the room.
    await session._aclose_impl(reason=CloseReason.PARTICIPANT_DISCONNECTED)
    await settle(state)
    assert await db.load_checkpoint("room-hangup") is None
