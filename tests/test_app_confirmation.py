"""The app's Confirm / Cancel sheet as a way to answer a card write's read-back: asked over
RPC of the linked participant only, with the action and the masked card and nothing more;
its yes writes (audited as confirmed by the app), its no clears the read-back, a spoken
answer first wins, and an RPC error or a stale answer leaves the spoken path as it was.

The app is stood in for at the RPC boundary (`Perform`); the session, the desks, the card
tools and the database are the real ones."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from core_helpers import Desk, ToolCall, desk, hop
from livekit import rtc

from agents.app_confirm import (
    CANCELLED_LINE,
    CLOSE_METHOD,
    CONFIRM_METHOD,
    AppConfirmation,
    ConfirmRequest,
    answer_from_app,
    parse_answer,
)
from shared_state import CallerHints, PendingConfirmation, SessionState
from tools.db import Database

APP_IDENTITY = "app_alice"
LOCK = {"card_last_four": "5454"}
READ_BACK = "To confirm: lock the Mastercard credit card ending 5454? Please say yes to confirm."


class AppStandIn:
    """The app at the RPC boundary: records what it is asked; answers when the test taps."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.closed: list[str] = []
        self._tap: asyncio.Future[str] | None = None

    async def perform(self, identity: str, method: str, payload: str, wait_s: float) -> str:
        assert wait_s > 0
        if method == CLOSE_METHOD:
            self.closed.append(json.loads(payload)["id"])
            return ""
        assert method == CONFIRM_METHOD
        request = json.loads(payload)
        self.requests.append((identity, request))
        self._tap = asyncio.get_running_loop().create_future()
        answer = await self._tap
        if answer == "timeout":
            raise rtc.RpcError(rtc.RpcError.ErrorCode.RESPONSE_TIMEOUT, "Response timeout")
        return json.dumps({"id": request["id"], "answer": answer})

    async def tap(self, answer: str) -> None:
        for _ in range(200):  # the request goes out once the read-back has been said
            if self._tap is not None and not self._tap.done():
                self._tap.set_result(answer)
                return
            await asyncio.sleep(0.01)
        raise AssertionError("the app was never asked")


def _app_state(db: Database) -> SessionState:
    return SessionState(db=db, channel="app", caller=CallerHints(participant_identity=APP_IDENTITY))


async def _read_back(d: Desk, app: AppStandIn) -> AppConfirmation:
    confirmation = AppConfirmation(d.session, d.state, APP_IDENTITY, app.perform).attach()
    await d.verify("1001")
    await hop(d, "card_security")
    await d.say("lock my credit card", ToolCall("lock_card", LOCK), READ_BACK)
    assert d.state.pending_confirmation is not None
    return confirmation


async def _status(db: Database, last_four: str = "5454") -> str:
    alice = await db.customer_by_number("1001")
    return {c.last_four: c.status for c in await db.cards(alice.id)}[last_four]


async def _events(db: Database, last_four: str = "5454") -> list[dict[str, Any]]:
    alice = await db.customer_by_number("1001")
    card = next(c for c in await db.cards(alice.id) if c.last_four == last_four)
    return await db.card_events(card.id)


async def test_app_confirm_writes_and_the_audit_says_the_app_confirmed(db: Database) -> None:
    app = AppStandIn()
    async with desk(db, state=_app_state(db)) as d:
        confirmation = await _read_back(d, app)
        d.push("Done: your card ending 5454 is locked.")
        await app.tap("confirm")
        await confirmation.settled()
        await d.settle()
        assert await _status(db) == "locked"
        assert d.state.pending_confirmation is None
        assert d.state.app_consent is None  # held only while the write ran
        # The desk spoke the outcome of the confirming call made for the app's answer.
        assert d.llm.remaining == 0
    [(identity, request)] = app.requests
    assert identity == APP_IDENTITY  # the participant the session is linked to
    # What the caller already heard, no more: the action and the card's last four.
    assert set(request) == {"version", "id", "action", "card_last_four", "timeout_s"}
    assert (request["action"], request["card_last_four"]) == ("lock", "5454")
    [event] = await _events(db)
    assert event["to_status"] == "locked"
    assert "confirmed by app" in event["reason"]


async def test_app_cancel_clears_the_read_back_and_writes_nothing(db: Database) -> None:
    app = AppStandIn()
    async with desk(db, state=_app_state(db)) as d:
        confirmation = await _read_back(d, app)
        await app.tap("cancel")
        await confirmation.settled()
        assert d.state.pending_confirmation is None
        await d.settle()
        assert CANCELLED_LINE in [m.text_content for m in d.session.history.messages()]
        # A model confirming anyway on the caller's next (non-yes) turn writes nothing.
        await d.say("ok thanks", ToolCall("lock_card", {**LOCK, "confirm": True}), "Hm.")
        assert await _status(db) == "active"


async def test_a_spoken_yes_first_wins_and_withdraws_the_request(db: Database) -> None:
    app = AppStandIn()
    async with desk(db, state=_app_state(db)) as d:
        confirmation = await _read_back(d, app)
        for _ in range(200):
            if app.requests:
                break
            await asyncio.sleep(0.01)
        [(_, request)] = app.requests
        await d.say("yes", ToolCall("lock_card", {**LOCK, "confirm": True}), "Done.")
        await confirmation.settled()
        assert request["id"] in app.closed  # the sheet is told to close
        assert await _status(db) == "locked"
    [event] = await _events(db)
    assert "confirmed by words" in event["reason"]


async def test_an_rpc_timeout_leaves_the_spoken_path(db: Database) -> None:
    app = AppStandIn()
    async with desk(db, state=_app_state(db)) as d:
        confirmation = await _read_back(d, app)
        await app.tap("timeout")
        await confirmation.settled()
        assert d.state.pending_confirmation is not None
        assert await _status(db) == "active"
        await d.say("yes", ToolCall("lock_card", {**LOCK, "confirm": True}), "Done.")
        assert await _status(db) == "locked"


async def test_a_stale_app_answer_confirms_nothing(db: Database) -> None:
    """An answer to a read-back the caller has since talked over, or that another read-back
    replaced, is not acted on."""
    async with desk(db, state=_app_state(db)) as d:
        await d.verify("1001")
        await hop(d, "card_security")
        await d.say("lock my credit card", ToolCall("lock_card", LOCK), READ_BACK)
        pending = d.state.pending_confirmation
        assert pending is not None
        await d.say("hmm", "Would you like me to lock it?")  # the caller spoke since
        assert await answer_from_app(d.session, d.state, pending, "confirm") is None
        other = PendingConfirmation("lock", pending.card_id, "5454", d.state.user_turns)
        assert await answer_from_app(d.session, d.state, other, "confirm") is None
        assert await _status(db) == "active"


def test_only_this_requests_answer_counts() -> None:
    request = ConfirmRequest("confirm_1", "lock", "5454")
    assert parse_answer(json.dumps({"id": "confirm_1", "answer": "confirm"}), request) == "confirm"
    assert parse_answer(json.dumps({"id": "confirm_1", "answer": "cancel"}), request) == "cancel"
    for raw in (
        json.dumps({"id": "confirm_2", "answer": "confirm"}),  # another request's answer
        json.dumps({"id": "confirm_1", "answer": "timeout"}),
        json.dumps({"id": "confirm_1", "answer": "yes please"}),
        json.dumps(["confirm"]),
        "confirm",
        "",
    ):
        assert parse_answer(raw, request) is None, raw


async def test_a_read_back_made_on_entry_is_asked_too(db: Database) -> None:
    """A charge the caller does not recognise: card security reads back locking the card it
    was on as it takes over (no model tool call); the app is asked about that one too."""
    app = AppStandIn()
    async with desk(db, state=_app_state(db)) as d:
        confirmation = AppConfirmation(d.session, d.state, APP_IDENTITY, app.perform).attach()
        await d.verify("1001")
        await hop(d, "transactions")
        await d.say(
            "I don't recognise that Uber charge",
            ToolCall(
                "transfer_to_card_security", {"reason": "unrecognised charge", "merchant": "Uber"}
            ),
            "To confirm: lock the Visa debit card ending 4242? Please say yes to confirm.",
        )
        assert d.state.pending_confirmation is not None
        d.push("Done: your card ending 4242 is locked.")
        await app.tap("confirm")
        await confirmation.settled()
        assert await _status(db, "4242") == "locked"
    [(_, request)] = app.requests
    assert request["card_last_four"] == "4242"
    [event] = await _events(db, "4242")
    assert "confirmed by app" in event["reason"]
