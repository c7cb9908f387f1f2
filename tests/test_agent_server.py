"""The Agent Server's pieces: model selection, state from the joining participant,
SIP keypad verification and human transfer (the job's transfer call faked at its boundary),
the console fallback, and the guard that keeps real providers out of tests."""

from __future__ import annotations

import asyncio
import io
import socket
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
from livekit import rtc

import agent as server_module
from agents import Greeter, new_session
from agents.keypad import verify_keyed_pin
from handoffs import SipTransferEscalation
from models import ConfigError, OfflineBankLLM, build_models, choose_mode
from shared_state import Assurance, SessionState
from telephony.channel import CallerInfo, detect_channel
from tests.scripted_llm import ScriptedLLM, ToolCall
from token_service.redispatch import REDISPATCH_METADATA
from tools.db import Database


def test_mode_defaults_to_local_voice_without_keys() -> None:
    assert choose_mode({}) == "local"
    assert choose_mode({}, text_only=True) == "offline"
    keys = {"OPENAI_API_KEY": "x", "DEEPGRAM_API_KEY": "y", "ELEVEN_API_KEY": "z"}
    assert choose_mode(keys) == "pipeline"


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"BANK_MODEL_MODE": "pipeline", "OPENAI_API_KEY": "x"}, "DEEPGRAM_API_KEY"),
        ({"BANK_MODEL_MODE": "realtime"}, "OPENAI_API_KEY"),
        ({"BANK_MODEL_MODE": "telepathy"}, "BANK_MODEL_MODE"),
    ],
)
def test_missing_or_wrong_keys_name_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        choose_mode(env)


def test_offline_models_need_no_network() -> None:
    models = build_models("offline")
    assert isinstance(models.llm, OfflineBankLLM) and models.stt is None
    assert models.voice_for("greeter") is None


def test_real_providers_are_blocked_in_tests() -> None:
    """conftest's guard: any non-loopback connection fails loudly."""
    with pytest.raises(RuntimeError, match="real providers are forbidden"):
        socket.getaddrinfo("api.openai.com", 443)
    sock = socket.socket()
    try:
        with pytest.raises(RuntimeError, match="forbidden"):
            sock.connect(("104.18.7.192", 443))
    finally:
        sock.close()


@dataclass
class FakeParticipant:
    kind: int
    identity: str = "caller"
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass
class FakeRoom:
    name: str = "room-x"


@dataclass
class FakeJob:
    room: FakeRoom = field(default_factory=FakeRoom)
    job: SimpleNamespace = field(default_factory=lambda: SimpleNamespace(metadata=""))

    def is_fake_job(self) -> bool:
        return False


async def test_state_for_app_participant_is_app_auth(db: Database) -> None:
    alice = await db.customer_by_number("1001")
    participant = FakeParticipant(
        rtc.ParticipantKind.PARTICIPANT_KIND_STANDARD,
        attributes={"bank.auth": "app", "bank.customer_id": str(alice.id)},
    )
    state = await server_module._build_state(FakeJob(), db, detect_channel(participant))  # type: ignore[arg-type]
    assert state.channel == "app" and state.assurance is Assurance.APP_AUTH
    assert state.principal is not None and state.principal.customer_id == alice.id


async def test_redispatched_job_without_checkpoint_says_it_is_back(db: Database) -> None:
    """A worker lost before the call's first checkpoint: the token service re-dispatches,
    and the new job tells the caller it is back rather than greeting a new call."""
    participant = FakeParticipant(rtc.ParticipantKind.PARTICIPANT_KIND_STANDARD)
    job = FakeJob(job=SimpleNamespace(metadata=REDISPATCH_METADATA))
    state = await server_module._build_state(job, db, detect_channel(participant))  # type: ignore[arg-type]
    assert state.resumed and state.greeted
    fresh = await server_module._build_state(FakeJob(), db, detect_channel(participant))  # type: ignore[arg-type]
    assert not fresh.resumed and not fresh.greeted


async def test_state_for_unknown_app_customer_is_unverified(db: Database) -> None:
    participant = FakeParticipant(
        rtc.ParticipantKind.PARTICIPANT_KIND_STANDARD,
        attributes={"bank.auth": "app", "bank.customer_id": "999999"},
    )
    state = await server_module._build_state(FakeJob(), db, detect_channel(participant))  # type: ignore[arg-type]
    assert state.principal is None and not state.is_verified


async def test_state_for_sip_caller_is_caller_id_only(db: Database) -> None:
    participant = FakeParticipant(
        rtc.ParticipantKind.PARTICIPANT_KIND_SIP, attributes={"sip.phoneNumber": "+14155550102"}
    )
    state = await server_module._build_state(FakeJob(), db, detect_channel(participant))  # type: ignore[arg-type]
    ben = await db.customer_by_number("1002")
    assert state.channel == "sip" and state.caller.candidate_customer_id == ben.id
    assert state.assurance is Assurance.CALLER_ID and not state.is_verified


async def test_resume_from_checkpoint_keeps_desk_and_principal(db: Database) -> None:
    state = SessionState(db=db, channel="app", room_name="room-x")
    alice = await db.customer_by_number("1001")
    from agents.verification import bind_principal

    bind_principal(state, alice, Assurance.APP_AUTH)
    state.caller.participant_identity = "customer-1-x"
    state.current_agent = "card_security"
    await db.save_checkpoint("room-x", state.session_id, state.to_checkpoint())
    # Someone else joining the room starts fresh and unverified (issue 12) ...
    other = CallerInfo("app", app_customer_id=alice.id + 1, participant_identity="customer-2-y")
    fresh = await server_module._build_state(FakeJob(), db, other)  # type: ignore[arg-type]
    assert fresh.session_id != state.session_id and fresh.current_agent is None
    await db.save_checkpoint("room-x", state.session_id, state.to_checkpoint())
    # ... the caller who created the checkpoint resumes it.
    same = CallerInfo("app", app_customer_id=alice.id, participant_identity="customer-1-x")
    resumed = await server_module._build_state(FakeJob(), db, same)  # type: ignore[arg-type]
    assert resumed.session_id == state.session_id and resumed.current_agent == "card_security"
    assert resumed.principal == state.principal and resumed.greeted


async def test_keypad_pin_verifies_caller_id_candidate_without_the_model(db: Database) -> None:
    ben = await db.customer_by_number("1002")
    llm = ScriptedLLM([ToolCall("transfer_to_balance"), "Please key in your PIN."])
    state = SessionState(db=db, channel="sip")
    state.caller.candidate_customer_id = ben.id
    async with new_session(state, llm=llm) as session:
        await session.start(Greeter())
        await session.run(user_input="what's my balance")
        assert state.pending_intent is not None
        assert not await verify_keyed_pin(session, state, "1111")
        llm.push(ToolCall("get_balance"), "Here you go.")
        assert await verify_keyed_pin(session, state, "5678")
        for _ in range(50):
            if state.current_agent == "balance" and llm.remaining == 0:
                break
            await asyncio.sleep(0.02)
    assert state.principal is not None and state.principal.customer_id == ben.id
    assert state.current_agent == "balance"
    assert not [t for c in llm.contexts for t in _llm_visible_text(c) if "5678" in t]
    audit = await db.handoff_audit(state.session_id)
    assert [r["outcome"] for r in audit] == ["rejected", "accepted"]


def _llm_visible_text(ctx: Any) -> list[str]:
    """Everything of a chat context an LLM reads: message text, instructions, tool call
    arguments and outputs. (Not `str(ctx.items)`: that also holds random hex item ids and
    float timestamps, where any 4-digit run turns up by chance now and then.)"""
    texts: list[str] = []
    for item in ctx.items:
        if item.type == "message":
            texts.append(item.text_content or "")
        elif item.type == "function_call":
            texts += [item.name, item.arguments]
        elif item.type == "function_call_output":
            texts.append(str(item.output))
        elif item.type == "agent_config_update":
            texts.append(str(item.instructions or ""))
        else:  # handoff markers and any other item: its fields, less id and timestamp
            texts.append(str(item.model_dump(exclude={"id", "created_at"})))
    return texts


class FakeTransfer:
    def __init__(self, *, fail: bool) -> None:
        self.fail = fail
        self.calls: list[tuple[str, str]] = []

    async def __call__(self, identity: str, to: str) -> Any:
        self.calls.append((identity, to))
        if self.fail:
            raise RuntimeError("SIP 603 decline")
        return None


@pytest.mark.parametrize("fail", [False, True])
async def test_sip_transfer_to_human(db: Database, fail: bool) -> None:
    transfer = FakeTransfer(fail=fail)
    state = SessionState(db=db, channel="sip")
    state.escalation = SipTransferEscalation(
        participant_identity="sip-caller", transfer_to="tel:+15550001111", transfer=transfer
    )
    llm = ScriptedLLM(
        [
            ToolCall("transfer_to_human", {"reason": "wants a person"}),
            lambda ctx: ctx.items[-1].output,
        ]
    )
    async with new_session(state, llm=llm) as session:
        await session.start(Greeter())
        result = await session.run(user_input="let me talk to a person")
        reply = result.expect[-1].event().item.text_content
    assert transfer.calls == [("sip-caller", "tel:+15550001111")]
    if fail:
        assert "couldn't connect you" in reply and "still here" in reply
        assert isinstance(session.current_agent, Greeter)  # stays with the agent, state intact
    else:
        assert "Connecting you" in reply
    audit = await db.handoff_audit(state.session_id)
    assert [(r["to_agent"], r["outcome"]) for r in audit] == [("human", "accepted")]


async def test_plain_console_runs_a_conversation(
    pg_server: Any, dsn: str, monkeypatch: Any
) -> None:
    from agents.plain_console import run_plain_console

    monkeypatch.setenv("DATABASE_URL", dsn)
    out = io.StringIO()
    await run_plain_console(
        OfflineBankLLM(), stdin=io.StringIO("1001 1234\nwhat's my balance\n"), out=out
    )
    text = out.getvalue()
    assert "greeter: Hello" in text and "-- handoff: greeter -> balance" in text
    assert "balance: Your checking account" in text
