"""The app as a second way to answer a card write's read-back (besides the caller's words).

When a write awaits confirmation and the caller is in the app, the agent asks the app over
LiveKit RPC (`bank.confirm`); the app shows a Confirm / Cancel sheet and answers. Its answer
is the caller's own yes or no, judged in code like a spoken one:

* Only the participant this session is linked to is asked (identity from the session,
  never from the model): `perform_rpc` addresses that identity, so nobody else in the room
  can answer. The agent registers no RPC method a participant could call to confirm.
* The request carries what the read-back says and no more: the action and the card's
  last four digits.
* An answer counts only while the read-back it answers is still the pending one and the
  caller has not spoken since: whichever comes first wins. A spoken answer withdraws the
  request (`bank.confirm.close`); an RPC error or timeout leaves the spoken path as it was.
* A yes runs the desk's own card tool with confirm=true, in code, with `Consent.APP`
  recorded for exactly that read-back (the tool's consent check and audit are the same as
  for words); the model then speaks the outcome. A no clears the read-back.

The SIP keypad's `1` / `2` (agents.keypad) is answered by the same code
(`answer_read_back`, as `Consent.KEYPAD`)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from livekit import rtc
from livekit.agents import AgentSession, RunContext, ToolError, llm, utils
from livekit.agents.voice.speech_handle import SpeechHandle

from shared_state import PendingConfirmation, SessionState

from .consent import Consent, consent_key

logger = logging.getLogger("bank.app_confirm")

CONFIRM_METHOD = "bank.confirm"
CLOSE_METHOD = "bank.confirm.close"
PAYLOAD_VERSION = 1
# The sheet's own countdown (sent in the request); the agent waits a little longer so the
# app's own "timed out" answer, not a transport timeout, ends an unanswered request.
SHEET_TIMEOUT_S = 30.0
RESPONSE_TIMEOUT_S = SHEET_TIMEOUT_S + 10.0
# Confirming calls made for an app (keypad) answer carry this call-id prefix in the
# transcript.
APP_CALL_PREFIX = "app_confirm_"
KEYPAD_CALL_PREFIX = "keypad_confirm_"

CANCELLED_LINE = "Okay, I haven't changed anything on the card. What else can I do for you?"

Answer = Literal["confirm", "cancel"]
# (destination identity, method, payload, response timeout) -> the response payload.
Perform = Callable[[str, str, str, float], Awaitable[str]]

_TOOLS: dict[str, str] = {
    "lock": "lock_card",
    "unlock": "unlock_card",
    "lost": "report_card_lost_or_stolen",
    "stolen": "report_card_lost_or_stolen",
}


@dataclass(frozen=True)
class ConfirmRequest:
    """What the app's sheet shows: the action and the masked card, as the read-back says."""

    id: str
    action: str
    card_last_four: str
    timeout_s: float = SHEET_TIMEOUT_S

    @classmethod
    def for_pending(cls, pending: PendingConfirmation) -> ConfirmRequest:
        return cls(utils.shortuuid("confirm_"), pending.action, pending.card_last_four)

    def payload(self) -> str:
        return json.dumps(
            {
                "version": PAYLOAD_VERSION,
                "id": self.id,
                "action": self.action,
                "card_last_four": self.card_last_four,
                "timeout_s": self.timeout_s,
            }
        )


def parse_answer(raw: str, request: ConfirmRequest) -> Answer | None:
    """The app's answer to this request, or None for anything else (another request's
    answer, a timeout, malformed text)."""
    try:
        data = json.loads(raw[:1000])
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("id") != request.id:
        return None
    answer = data.get("answer")
    return answer if answer in ("confirm", "cancel") else None


@dataclass
class _Asking:
    pending: PendingConfirmation
    request: ConfirmRequest
    task: asyncio.Task[None]


class AppConfirmation:
    """Asks the linked app participant to confirm each read-back the session leaves pending."""

    def __init__(
        self,
        session: AgentSession[SessionState],
        state: SessionState,
        identity: str,
        perform: Perform,
    ) -> None:
        self._session = session
        self._state = state
        self._identity = identity  # the participant the session is linked to
        self._perform = perform
        self._asking: _Asking | None = None
        self._closing: set[asyncio.Task[Any]] = set()
        self._reply: SpeechHandle | None = None  # what the last answer started

    def attach(self) -> AppConfirmation:
        self._session.on("function_tools_executed", self._on_tools)
        self._session.on("conversation_item_added", self._on_item)
        self._session.on("close", lambda _ev: self._withdraw())
        return self

    async def settled(self) -> None:
        """Wait for the request in flight and what its answer started (for tests)."""
        asking = self._asking
        if asking is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asking.task
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)
        if self._reply is not None:
            await self._reply

    # -- session events -----------------------------------------------------------------------

    def _on_tools(self, _ev: Any) -> None:
        if (
            self._asking is not None
            and self._asking.pending is not self._state.pending_confirmation
        ):
            self._withdraw()  # answered by words, or replaced by another read-back

    def _on_item(self, ev: Any) -> None:
        role = getattr(ev.item, "role", None)
        if role == "user":
            self._withdraw()  # the caller spoke: their words answer the read-back
        elif role == "assistant":
            self._ask_if_new()  # the read-back has been said (by a tool call or on entry)

    def _ask_if_new(self) -> None:
        state = self._state
        pending = state.pending_confirmation
        if pending is None or not state.is_verified or talked_over(state, pending):
            return
        if self._asking is not None and self._asking.pending is pending:
            return
        self._withdraw()
        request = ConfirmRequest.for_pending(pending)
        task = asyncio.get_running_loop().create_task(self._ask(pending, request))
        self._asking = _Asking(pending, request, task)

    def _withdraw(self) -> None:
        asking, self._asking = self._asking, None
        if asking is None or asking.task.done():
            return
        asking.task.cancel()
        # Close the sheet; an app that already answered, or left, ignores it.
        close = asyncio.get_running_loop().create_task(self._close(asking.request))
        self._closing.add(close)
        close.add_done_callback(self._closing.discard)

    async def _close(self, request: ConfirmRequest) -> None:
        try:
            await self._perform(self._identity, CLOSE_METHOD, json.dumps({"id": request.id}), 10.0)
        except Exception:  # best effort: the sheet also times out by itself
            logger.info("could not withdraw the app's confirmation sheet")

    # -- the request and its answer -----------------------------------------------------------

    async def _ask(self, pending: PendingConfirmation, request: ConfirmRequest) -> None:
        try:
            raw = await self._perform(
                self._identity, CONFIRM_METHOD, request.payload(), RESPONSE_TIMEOUT_S
            )
        except rtc.RpcError as error:
            # No sheet (an older app), no answer in time, or the caller left: the spoken
            # path is unchanged.
            logger.info("app confirmation unanswered", extra={"code": error.code})
            return
        answer = parse_answer(raw, request)
        if answer is None:
            return
        try:
            # Shielded: once acted on, a caller's turn starting meanwhile must not cut the
            # write off from the context that records it (staleness is checked inside).
            self._reply = await asyncio.shield(
                answer_from_app(self._session, self._state, pending, answer)
            )
        except Exception:
            logger.exception("app confirmation failed")


def talked_over(state: SessionState, pending: PendingConfirmation) -> bool:
    """The caller has spoken since `pending` was read back: a yes no longer follows it."""
    return state.user_turns != pending.asked_on_turn


def _stale(state: SessionState, pending: PendingConfirmation) -> bool:
    """The read-back was answered, replaced or talked over since it was asked."""
    return state.pending_confirmation is not pending or talked_over(state, pending)


async def answer_from_app(
    session: AgentSession[SessionState],
    state: SessionState,
    pending: PendingConfirmation,
    answer: Answer,
) -> SpeechHandle | None:
    """Act on the linked app's answer to `pending`. Returns the reply it started, or None
    when the answer was not acted on."""
    return await answer_read_back(session, state, pending, answer, by=Consent.APP)


# The channels that answer a read-back in code, and how their answers are held and named.
Channel = Literal[Consent.APP, Consent.KEYPAD]
_BY: dict[Channel, tuple[str, str]] = {
    Consent.APP: (APP_CALL_PREFIX, "tapped Cancel in the app"),
    Consent.KEYPAD: (KEYPAD_CALL_PREFIX, "pressed 2 on their keypad"),
}


async def answer_read_back(
    session: AgentSession[SessionState],
    state: SessionState,
    pending: PendingConfirmation,
    answer: Answer,
    *,
    by: Channel,
) -> SpeechHandle | None:
    """Act on a yes or no to `pending` given `by` another channel than words (the app's
    sheet, the SIP keypad), in code: a yes runs the desk's card tool, a no clears the
    read-back with a fixed line. Returns the reply it started, or None when the answer was
    not acted on (stale, or no longer at the card desk)."""
    if _stale(state, pending) or not state.is_verified:
        return None
    speech = session.current_speech
    if speech is not None:
        await speech.wait_for_playout()  # the caller hears the desk out first
        if _stale(state, pending):
            return None
    if answer == "cancel":
        state.pending_confirmation = None
        # A fixed line: no model can turn a cancel into anything else.
        return say_line(
            session,
            CANCELLED_LINE,
            otherwise=f"The caller {_BY[by][1]}: they do not confirm. Say that nothing was "
            "changed and ask what else you can do.",
        )
    agent = session.current_agent
    name = _TOOLS[pending.action]
    tool = next((t for t in agent.tools if isinstance(t, llm.FunctionTool) and t.id == name), None)
    if tool is None:
        return None  # no longer at the card desk
    arguments: dict[str, Any] = {"card_last_four": pending.card_last_four, "confirm": True}
    if name == "report_card_lost_or_stolen":
        arguments["kind"] = pending.action
    items = await _run_confirmed(session, state, pending, tool, arguments, by)
    chat_ctx = agent.chat_ctx.copy()
    chat_ctx.insert(items)
    await agent.update_chat_ctx(chat_ctx)
    session.history.insert(items)
    return session.generate_reply(tool_choice="auto")  # the desk speaks the outcome


def say_line(session: AgentSession[SessionState], line: str, *, otherwise: str) -> SpeechHandle:
    """Say a fixed line as written. A realtime model with no TTS of ours cannot `say`
    (livekit raises): it is given `otherwise`, instructions to say it in its own voice."""
    own = session.current_agent.tts
    if (own if utils.is_given(own) else session.tts) is not None or session.output.audio is None:
        return session.say(line)
    return session.generate_reply(instructions=otherwise, tool_choice="none")


async def _run_confirmed(
    session: AgentSession[SessionState],
    state: SessionState,
    pending: PendingConfirmation,
    tool: llm.FunctionTool[..., Any],
    arguments: dict[str, Any],
    by: Channel,
) -> list[llm.ChatItem]:
    """The desk's own tool, called as livekit's executor calls it, with the channel's yes
    recorded for this read-back only while it runs."""
    raw = json.dumps(arguments)
    call = llm.FunctionCall(call_id=utils.shortuuid(_BY[by][0]), name=tool.id, arguments=raw)
    ctx: RunContext[SessionState] = RunContext(
        session=session, speech_handle=SpeechHandle.create(), function_call=call
    )
    _hold_consent(state, by, consent_key(pending.action, pending.card_last_four))
    is_error = False
    try:
        output = str(await tool(ctx, **arguments))
    except ToolError as refused:  # as the executor does: the model hears the tool's words
        output, is_error = refused.message, True
    finally:
        _hold_consent(state, by, None)
    return [
        call,
        llm.FunctionCallOutput(
            call_id=call.call_id, name=tool.id, output=output, is_error=is_error
        ),
    ]


def _hold_consent(state: SessionState, by: Channel, key: str | None) -> None:
    if by is Consent.KEYPAD:
        state.keypad_consent = key
    else:
        state.app_consent = key


def room_rpc(room: rtc.Room) -> Perform:
    """`Perform` through the job's room: RPC from the agent to one participant."""

    async def perform(identity: str, method: str, payload: str, wait_s: float) -> str:
        return await room.local_participant.perform_rpc(
            destination_identity=identity, method=method, payload=payload, response_timeout=wait_s
        )

    return perform
