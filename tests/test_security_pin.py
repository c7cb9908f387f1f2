"""The PIN never reaches a model once it has been tried, in any form (digits, words,
separators, mixed), on any path: the pending-desk continuation, tool-argument errors, a
model repeating it in a reply, an argument or a transfer reason, or a verified caller
saying it again. Checked on every context the model is sent (snapshotted at call time, so
a later clean-up cannot hide a leak), the stored history, the checkpoint and the audit."""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any

import pytest
from core_helpers import SnapshotLLM, ToolCall, all_text, desk, settle

from agents import BalanceAgent, Greeter, new_session
from models import OfflineBankLLM
from shared_state import SessionState
from tools.db import Database

_DIGIT_WORDS = {
    "zero": "0", "oh": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
    "six": "6", "seven": "7", "eight": "8", "nine": "9", "ten": "10", "eleven": "11",
    "twelve": "12", "thirteen": "13", "twenty": "2", "thirty": "3", "forty": "4", "fifty": "5",
}  # fmt: skip


def holds_pin(text: str, pin: str) -> bool:
    """An independent detector: digits and digit words become digits, separators vanish,
    anything else breaks the run; then look for the PIN as a whole number."""
    tokens = re.findall(r"\d|[a-z]+|[^\w\s.,;:/_\-]", text.lower())
    seq = "".join(t if t.isdigit() else _DIGIT_WORDS.get(t, "|") for t in tokens)
    return re.search(rf"(?<!\d){pin}(?!\d)", seq) is not None


def test_the_detector_sees_every_form() -> None:
    for form in ("1234", "1 2 3 4", "one two three four", "1.2.3.4", "1,2,3,4", "one 2 three 4",
                 "twelve thirty four", "PIN: 1-2-3-4"):  # fmt: skip
        assert holds_pin(f"my pin is {form} ok", "1234"), form
    assert not holds_pin("customer 1001, [PIN redacted]", "1234")
    assert not holds_pin("card 12345", "1234")


class RecordingOfflineLLM(OfflineBankLLM):
    """The project's own offline model, keeping the text of every context it is sent."""

    def __init__(self) -> None:
        super().__init__()
        self.snapshots: list[str] = []

    def chat(self, *, chat_ctx: Any, **kwargs: Any) -> Any:
        self.snapshots.append(all_text(chat_ctx))
        return super().chat(chat_ctx=chat_ctx, **kwargs)


def _after_first_check(snapshots: list[str], said: str) -> list[str]:
    """Every context after the one that decided to check the PIN the caller just said."""
    deciding = next(i for i, s in enumerate(snapshots) if said in s)
    return snapshots[deciding + 1 :]


async def _stored(db: Database, state: SessionState) -> list[str]:
    await settle(state)
    saved = await db.load_checkpoint(state.room_name or "")
    audit = await db.handoff_audit(state.session_id)
    events = await db.security_events(state.session_id)
    return [
        json.dumps(saved),
        *(r["reason"] for r in audit),
        *(e["detail"] for e in events),
    ]


@pytest.mark.parametrize("form", ["1234", "one two three four", "1 2 3 4"])
async def test_offline_call_pending_desk_never_sees_the_pin(db: Database, form: str) -> None:
    """A plain call: the caller asks first, then verifies, and verification continues
    straight to the balance desk (the new desk's context is built inside the tool)."""
    state = SessionState(db=db, channel="console", room_name=f"pin-{form}")
    model = RecordingOfflineLLM()
    async with new_session(state, llm=model) as session:
        await session.start(Greeter())
        for line in (
            "what's my balance?",
            "my customer number is 1001",
            f"my PIN is {form}",
            "and my recent transactions?",
            "thanks, that's all",
        ):
            await session.run(user_input=line)
        assert state.is_verified and state.principal is not None
        history = all_text(session.history)
    contexts = _after_first_check(model.snapshots, f"my PIN is {form}")
    assert len(contexts) >= 4
    for i, text in enumerate(contexts):
        assert not holds_pin(text, "1234"), f"PIN in model context #{i} after the check: {text}"
    assert not holds_pin(history, "1234"), history
    for text in await _stored(db, state):
        assert not holds_pin(text, "1234"), text


@pytest.mark.parametrize(
    "said", ["1.2.3.4", "1,2,3,4", "one 2 three 4", "twelve thirty-four", "1-2 3 4"]
)
async def test_every_form_is_scrubbed_once_tried(db: Database, said: str) -> None:
    async with desk(db) as d:
        d.state.room_name = "pin-forms"
        await d.say(
            f"1001, and my PIN is {said}",
            ToolCall("verify_identity", {"customer_number": "1001", "pin": "1234"}),
            "Verified. What can I do?",
        )
        await d.say("balance", ToolCall("transfer_to_balance"), "Balance desk here.")
        await d.say("how much?", "Let me check.")
        assert d.state.is_verified
        for text in d.llm.snapshots[1:]:
            assert not holds_pin(text, "1234"), text
        assert not holds_pin(all_text(d.session.history), "1234")
        for text in await _stored(d.db, d.state):
            assert not holds_pin(text, "1234"), text


@pytest.mark.parametrize(
    "said",
    [
        "\uff11\uff12\uff13\uff14",  # fullwidth digits: a model reads them as 1234
        "1 ... 2 ... 3 ... 4",
        "1234",  # said again to the front desk's model once verified
        "twelve hundred thirty-four",
        "one thousand two hundred and thirty-four",
    ],
)
async def test_other_scripts_wide_gaps_and_whole_numbers_are_scrubbed(
    db: Database, said: str
) -> None:
    """Forms a caller can type or say that the scrub once let through to a model, the
    history and the checkpoint; and the PIN said again at the front desk once verified,
    whose newest words no longer need to reach its model as said."""
    async with desk(db) as d:
        d.state.room_name = "pin-more-forms"
        await d.say(
            f"1001, and my PIN is {said}",
            ToolCall("verify_identity", {"customer_number": "1001", "pin": "1234"}),
            "Verified. What can I do?",
        )
        await d.say(
            f"balance please, and my PIN was {said}", ToolCall("transfer_to_balance"), "Hi."
        )
        await d.say("how much?", "Let me check.")
        texts = [*d.llm.snapshots[1:], all_text(d.session.history)]
        texts += await _stored(d.db, d.state)
        for text in texts:
            assert said.lower() not in text.lower(), text
            assert not holds_pin(unicodedata.normalize("NFKC", text), "1234"), text


async def test_argument_error_does_not_echo_the_pin(db: Database) -> None:
    """The model sends the PIN as a number: livekit refuses the arguments and its error
    quotes the value (`input_value=1234`) in a tool output."""
    async with desk(db) as d:
        await d.say(
            "1001, PIN 1234",
            ToolCall("verify_identity", {"customer_number": "1001", "pin": 1234}),
            "Sorry, could you repeat that?",
        )
        await d.say("ok", "Go ahead.")
        outputs = [i for i in d.session.history.items if i.type == "function_call_output"]
        assert outputs and outputs[0].is_error
        for text in d.llm.snapshots[1:]:
            assert not holds_pin(text, "1234"), text
        assert not holds_pin(all_text(d.session.history), "1234")


async def test_model_repeating_the_pin_leaves_no_trace(db: Database) -> None:
    """A hostile model says the PIN back, puts it in an undeclared argument and in a
    transfer reason (in words): none of it reaches a context, the history, the brief,
    the audit or the checkpoint."""
    async with desk(db) as d:
        d.state.room_name = "pin-repeat"
        await d.verify("1001", "Verified: your PIN 1 2 3 4 was right, Alice.")
        await d.say(
            "balance please",
            ToolCall("transfer_to_balance", {"reason": "PIN is one two three four; balance"}),
            "Balance desk.",
        )
        await d.say(
            "how much?",
            ToolCall("get_balance", {"pin": "1234", "note": "one-two-three-four"}),
            "Your PIN twelve thirty-four checks out.",
        )
        await d.say("thanks", "You're welcome.")
        assert type(d.session.current_agent) is BalanceAgent
        for text in d.llm.snapshots[1:]:
            assert not holds_pin(text, "1234"), text
        history = all_text(d.session.history)
        assert not holds_pin(history, "1234"), history
        assert d.state.brief is not None
        assert not holds_pin(d.state.brief.render(), "1234")
        for text in await _stored(d.db, d.state):
            assert not holds_pin(text, "1234"), text


async def test_verified_caller_saying_the_pin_again_never_adds_it(db: Database) -> None:
    """Away from the front desk no model needs a PIN: one the caller names never enters."""
    async with desk(db) as d:
        await d.verify("1001")
        await d.say("balance", ToolCall("transfer_to_balance"), "Balance desk.")
        before = len(d.llm.snapshots)
        await d.say("by the way my PIN is one two three four", "Noted.")
        await d.say("oh and my pin code: 9 8 7 6", "Noted.")
        for text in d.llm.snapshots[before:]:
            assert not holds_pin(text, "1234") and not holds_pin(text, "9876"), text
        assert not holds_pin(all_text(d.session.history), "9876")


async def test_wrong_pin_retry_is_heard_then_scrubbed(db: Database) -> None:
    """Before verification a retry of a known wrong PIN must still reach the model that
    checks it; once checked, it is gone from every later context."""
    model = SnapshotLLM(
        [
            ToolCall("verify_identity", {"customer_number": "1001", "pin": "1111"}),
            "That didn't match.",
            ToolCall("verify_identity", {"customer_number": "1001", "pin": "1111"}),
            "Still no match.",
            "Anything else?",
        ]
    )
    state = SessionState(db=db, channel="console")
    async with new_session(state, llm=model) as session:
        await session.start(Greeter())
        await session.run(user_input="1001 pin 1111")
        await session.run(user_input="1001 pin 1111 again")
        await session.run(user_input="hmm")
    await settle(state)
    assert "1111" in model.snapshots[2]  # the retry is heard by the model that checks it
    assert not holds_pin(model.snapshots[-1], "1111")
    events = await db.security_events(state.session_id)
    assert [e["kind"] for e in events] == ["verification_wrong_pin"] * 2
