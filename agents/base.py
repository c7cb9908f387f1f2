"""`BankAgent`: what every agent of the desk shares: instructions from prompts, graph-driven
transfer tools (agents/transfer.py), the one-opening-line rule (agents/opening.py), the audit
durability gate and PIN scrubbing before every model call. The identity guard is in
agents/guard.py, refusal auditing in agents/refusals.py."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterable, AsyncIterator, Callable
from typing import Any, ClassVar

from livekit.agents import (
    Agent,
    FlushSentinel,
    ModelSettings,
    llm,
)
from livekit.agents.voice import SpeechHandle

from handoffs import DISPLAY_NAMES, EDGES, GREETER
from handoffs.audit import audit_durable, audit_settled
from handoffs.transaction import build_desk as build_agent
from handoffs.transaction import model_text
from shared_state import HandoffBrief, SessionState

from .acknowledgement import acknowledged
from .guard import (
    hold_the_floor,
    refuse_unknown_transaction,
    require_principal,
    undeclared_arguments,
)
from .opening import RESUMED_LINE, ROOM_READY_TIMEOUT_S, room_ready
from .prefetch import OpeningRead, ReadResult
from .prompts import instructions_for, prompt
from .redaction import checks_pins, scrub_for_model, scrub_item
from .refusals import audit_refusal, flush_background
from .transfer import escalate_to_human, handoff, make_transfer_tool

logger = logging.getLogger("bank.agents")

# Names other modules, tests and benches import from here (moved in the split of this module).
__all__ = [
    "AUDIT_NOT_DURABLE",
    "RESUMED_LINE",
    "ROOM_READY_TIMEOUT_S",
    "BankAgent",
    "audit_durable",
    "audit_refusal",
    "audit_settled",
    "build_agent",
    "configure_voices",
    "escalate_to_human",
    "flush_background",
    "handoff",
    "hold_the_floor",
    "make_transfer_tool",
    "model_text",
    "refuse_unknown_transaction",
    "require_principal",
    "undeclared_arguments",
]


# Per-agent voice (pipeline mode): set once per process by the agent server so each
# desk sounds different and the caller hears the handoff. None: the session's TTS, if any.
VoiceFactory = Callable[[str], Any]


_voice_factory: VoiceFactory | None = None


def configure_voices(factory: VoiceFactory | None) -> None:
    global _voice_factory
    _voice_factory = factory


class BankAgent(Agent):
    agent_id: ClassVar[str]

    def __init__(
        self, *, chat_ctx: llm.ChatContext | None = None, extra_tools: list[Any] | None = None
    ) -> None:
        tools: list[Any] = [
            make_transfer_tool(target) for target in sorted(EDGES.get(self.agent_id, ()))
        ]
        tools += extra_tools or []
        extra: dict[str, Any] = {}
        if _voice_factory is not None:
            extra["tts"] = _voice_factory(self.agent_id)
        super().__init__(
            id=self.agent_id,
            instructions=instructions_for(self.agent_id),
            chat_ctx=chat_ctx,
            tools=list(tools),
            **extra,
        )
        # The read started by the transfer that brought the caller here (agents/prefetch.py).
        self.prefetch: asyncio.Task[ReadResult | None] | None = None
        self._opening: SpeechHandle | None = None

    @classmethod
    def opening_read(cls, brief: HandoffBrief, slots: dict[str, Any]) -> OpeningRead | None:
        """The read this desk makes first for a clear request in `brief` (with the slots the
        transfer carried), or None when it must ask first. Desks with read tools override."""
        return None

    @property
    def state(self) -> SessionState:
        return self.session.userdata  # type: ignore[no-any-return]

    async def on_enter(self) -> None:
        state = self.state
        state.current_agent = self.agent_id
        if state.on_agent_changed is not None:
            try:
                await state.on_agent_changed(self.agent_id)
            except Exception:  # the room attribute is cosmetic: never break the call for it
                logger.warning("could not publish current agent", exc_info=True)
        if isinstance(self.session.llm, llm.RealtimeModel):
            # A realtime model speaks without our llm_node: gate its opening here instead.
            await audit_settled(state)
        await room_ready(self.session)
        if state.resumed:
            state.resumed = False
            # A fixed line, not an opening: the caller heard silence, not a new call.
            self.session.say(RESUMED_LINE.format(desk=DISPLAY_NAMES[self.agent_id]))
            return
        read = await self._take_prefetch()
        if read is not None:
            # The read goes into this desk's context as a tool call and its output, so its
            # opening (one model call) answers from it instead of calling the tool first.
            items = read.items()
            chat_ctx = self.chat_ctx.copy()
            chat_ctx.insert(items)
            await self.update_chat_ctx(chat_ctx)
            self.session.history.insert(items)
        greeting = not state.greeted  # the call's first words: not a desk taking over
        handle = await self.speak_opening()
        self._opening = None if greeting else handle
        if read is not None and handle is not None:
            handle._item_added(items)  # livekit 1.8.9: how a run (RunResult) records items

    async def _take_prefetch(self) -> ReadResult | None:
        task, self.prefetch = self.prefetch, None
        if task is None:
            return None
        try:
            return await task
        except Exception:  # a failed read costs the call a model round trip, nothing else
            logger.warning("prefetched read failed", exc_info=True)
            return None

    async def llm_node(
        self,
        chat_ctx: llm.ChatContext,
        tools: list[llm.Tool],
        model_settings: ModelSettings,
    ) -> AsyncIterable[llm.ChatChunk | str | FlushSentinel]:
        """The durability gate of write-behind handoff audit (handoffs/audit.py): this agent
        says nothing and calls no tool before the audit row (and checkpoint) of the handoff
        that brought it here is written. Waiting here, not at the tool's return, lets the
        round trip overlap the framework's agent switch. Nothing in flight: no wait.

        Every context a model is sent is scrubbed of the call's PINs here, whatever path
        built it (agents/redaction.py)."""
        state = self.state
        if not await audit_durable(state):
            # The database cannot take the audit yet: nothing of this desk's own (no model
            # call, no tool) until it can; the caller hears one fixed line, the next turn
            # tries again.
            return _only(AUDIT_NOT_DURABLE)
        scrub_for_model(
            state.pins, chat_ctx, checks_pins=checks_pins(self), verified=state.is_verified
        )
        stream = Agent.default.llm_node(self, chat_ctx, tools, model_settings)
        if self._opening is not None and not self._opening.done():
            # The caller heard the acknowledgement (or the greeting) already this turn: a
            # desk passing them on from its opening does so silently.
            return stream
        return acknowledged(stream, state, self.agent_id)

    async def on_user_turn_completed(
        self, turn_ctx: llm.ChatContext, new_message: llm.ChatMessage
    ) -> None:
        """Away from the front desk no model needs a PIN: the caller's words are scrubbed
        before they are added to any context, of every known PIN and of any they name
        ("my PIN is 1 2 3 4"). At the front desk, see `scrub_for_model`."""
        state = self.state
        if not checks_pins(self):
            state.pins.learn_named(new_message.text_content or "")
            scrub_item(state.pins, new_message)

    async def speak_opening(self) -> SpeechHandle | None:
        """Exactly one line that continues the conversation (overridden by the greeter)."""
        brief = self.state.brief
        from_agent = brief.from_agent if brief is not None else None
        from_desk = DISPLAY_NAMES.get(from_agent or GREETER, "the front desk")
        return self.session.generate_reply(
            instructions=prompt("opening").format(
                from_desk=from_desk, this_desk=DISPLAY_NAMES[self.agent_id]
            ),
            tool_choice="auto",
        )


AUDIT_NOT_DURABLE = (
    "I'm sorry, I'm having technical trouble on my side, so I can't go on just yet. "
    "Nothing on your accounts has changed. Please say that again in a moment."
)


async def _only(text: str) -> AsyncIterator[str]:
    yield text
