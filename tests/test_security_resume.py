"""Crash-safe resume: the state checkpointed after each verification and handoff brings a
restarted worker back to the same specialist with the same verified principal, without a
second greeting and without re-verifying; and the checkpoint never holds a PIN."""

from __future__ import annotations

import json
import re
from typing import Any

import asyncpg
from scripted_llm import ScriptedLLM, ToolCall
from security_helpers import settle

import agents
from agents import Greeter, new_session
from agents.greeter import GREETING
from models import OfflineBankLLM
from shared_state import SessionState
from tools.db import Database
from tools.money import format_cents


def _assistant(items: Any) -> list[str]:
    return [i.text_content or "" for i in items if i.type == "message" and i.role == "assistant"]


def _has_digits(text: str, digits: str) -> bool:
    return re.search(r"(?<!\w)" + r"[\s-]?".join(digits) + r"(?!\w)", text) is not None


async def _first_call(db: Database, room: str, lines: list[str]) -> SessionState:
    """The call before the crash, with the offline model."""
    state = SessionState(db=db, channel="console", room_name=room)
    async with new_session(state, llm=OfflineBankLLM()) as session:
        await session.start(Greeter())
        for line in lines:
            await session.run(user_input=line)
    await settle(state)
    return state


async def _resume(db: Database, room: str, lines: list[str]) -> tuple[SessionState, list[str], Any]:
    """What the agent server does for a new job in the same room: restore, then start the
    checkpointed agent (see agent.py `_build_state`)."""
    saved = await db.load_checkpoint(room)
    assert saved is not None, "no checkpoint for the room"
    state = SessionState.from_checkpoint(saved, db=db)
    state.greeted = True
    model = OfflineBankLLM()
    said: list[str] = []
    async with new_session(state, llm=model) as session:
        await session.start(agents.AGENTS[state.current_agent]())
        for line in lines:
            result = await session.run(user_input=line)
            said += [
                ev.item.text_content or ""
                for ev in result.events
                if ev.type == "message" and ev.item.role == "assistant"
            ]
        history = list(session.history.items)
    await settle(state)
    return state, said, history


async def test_resume_after_handoff_keeps_specialist_and_principal(db: Database) -> None:
    before = await _first_call(
        db,
        "room-1",
        ["my customer number is 1001 and my PIN is 1234", "my card is lost, I want to lock it"],
    )
    assert before.current_agent == "card_security" and before.principal is not None

    saved = await db.load_checkpoint("room-1")
    restored = SessionState.from_checkpoint(saved, db=db)  # type: ignore[arg-type]
    assert restored.current_agent == "card_security"
    assert restored.principal == before.principal and restored.is_verified
    assert restored.session_id == before.session_id
    assert restored.greeted

    alice = await db.customer_by_number("1001")
    card = next(c for c in await db.cards(alice.id) if c.last_four == "4242")
    state, said, history = await _resume(
        db, "room-1", ["I want to lock the card ending 4242", "yes"]
    )
    assert type(state.current_agent) is str and state.current_agent == "card_security"
    everything = _assistant(history)
    assert GREETING not in everything
    assert not any(t.startswith(("Hello", "Hi ")) for t in everything), everything
    # no re-verification: no verify tool call, no request for the PIN
    assert not [i for i in history if i.type == "function_call" and i.name == "verify_identity"]
    # a request for the PIN, not any mention of one (a line may say what an unlock needs)
    asks = ("customer number", "key in your PIN", "what's your PIN", "and your PIN")
    assert not any(ask in t for t in said for ask in asks), said
    assert any(t.startswith("Done") for t in said), said
    assert [c.status for c in await db.cards(alice.id) if c.id == card.id] == ["locked"]
    assert state.principal == before.principal


async def test_resume_at_balance_answers_without_reverifying(db: Database) -> None:
    before = await _first_call(
        db, "room-2", ["customer number 1004, PIN 1357", "what's my balance?"]
    )
    assert before.current_agent == "balance"
    diego = await db.customer_by_number("1004")
    checking = (await db.accounts(diego.id))[0]
    state, said, history = await _resume(db, "room-2", ["what's my checking balance?"])
    assert state.current_agent == "balance" and state.principal == before.principal
    assert GREETING not in _assistant(history)
    assert any(format_cents(checking.available_balance_cents) in t for t in said), said


async def test_checkpoint_is_rewritten_at_every_handoff(db: Database) -> None:
    await _first_call(
        db,
        "room-3",
        ["customer number 1002, PIN 5678", "what's my balance?", "show my recent transactions"],
    )
    saved = await db.load_checkpoint("room-3")
    assert saved is not None and saved["current_agent"] == "transactions"
    assert [h["to_agent"] for h in saved["handoff_history"] if h["outcome"] == "accepted"] == [
        "balance",
        "transactions",
    ]


async def test_checkpoint_json_holds_no_pin(db: Database, dsn: str) -> None:
    await _first_call(
        db,
        "room-4",
        [
            "my customer number is 1003 and my PIN is 8642",  # a wrong PIN first
            "my customer number is 1003 and my PIN is 2 4 6 8",
            "what cards do I have?",
        ],
    )
    owner = await asyncpg.connect(dsn)
    try:
        raw = await owner.fetchval(
            "SELECT state::text FROM session_checkpoints WHERE room_name = $1", "room-4"
        )
    finally:
        await owner.close()
    assert raw is not None and '"customer_number": "1003"' in raw
    for pin in ("2468", "8642"):
        assert not _has_digits(raw, pin), f"PIN {pin} in checkpoint: {raw}"
    assert "pin" not in json.loads(raw).get("principal", {})


async def test_pin_smuggled_in_a_transfer_reason_does_not_reach_checkpoint_or_audit(
    db: Database,
) -> None:
    """A manipulated model writes the caller's PIN into a transfer reason, which lands in
    the brief (open_question), the handoff history and the audit row."""
    state = SessionState(db=db, channel="console", room_name="room-5")
    model = ScriptedLLM(
        [
            ToolCall("verify_identity", {"customer_number": "1001", "pin": "1234"}),
            "Verified.",
            ToolCall("transfer_to_balance", {"reason": "caller Alice, PIN 1234, wants balance"}),
            "Balance desk.",
        ]
    )
    async with new_session(state, llm=model) as session:
        await session.start(Greeter())
        await session.run(user_input="1001, PIN 1234")
        await session.run(user_input="balance")
    await settle(state)
    saved = await db.load_checkpoint("room-5")
    audit = await db.handoff_audit(state.session_id)
    assert saved is not None and saved["current_agent"] == "balance"
    assert not _has_digits(json.dumps(saved), "1234"), json.dumps(saved)
    assert not any(_has_digits(r["reason"], "1234") for r in audit), [r["reason"] for r in audit]
