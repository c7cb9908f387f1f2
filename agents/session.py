"""`new_session`: the one AgentSession of a call, wired with the desk's session-level
guards: caller-turn counting, PIN redaction, and auditing of transfers to agents the
current agent has no edge to (a manipulated model calling a tool it was never given)."""

from __future__ import annotations

import logging
from typing import Any

from livekit.agents import AgentSession, APIError, llm
from livekit.agents.voice.agent_session import (
    DEFAULT_TTS_TEXT_TRANSFORMS,
    SessionConnectOptions,
)
from livekit.agents.voice.events import (
    CloseReason,
    ConversationItemAddedEvent,
    ErrorEvent,
    FunctionToolsExecutedEvent,
)

from handoffs.engine import decide_handoff
from shared_state import HandoffBrief, SessionState
from tools.log_redaction import install_log_redaction
from tools.money import spoken_amounts

from .redaction import checks_pins, learn_pin_from_call, scrub_contexts, scrub_item, scrub_items
from .refusals import audit_refusal
from .registry import build_agent
from .resume import forget_call

logger = logging.getLogger("bank.session")

APOLOGY = "I'm sorry, I had a technical problem on my side just then. Could you say that again?"
APOLOGY_REPEATED = (
    "I'm sorry, I'm having technical trouble right now. Nothing on your accounts has changed. "
    "You can try again, call back in a few minutes, or ask for a person."
)


def new_session(
    state: SessionState,
    *,
    llm: llm.LLM[Any] | llm.RealtimeModel,
    stt: Any = None,
    tts: Any = None,
    vad: Any = None,
    turn_detection: Any = None,
    max_tool_steps: int = 4,
    conn_options: SessionConnectOptions | None = None,
) -> AgentSession[SessionState]:
    """Build the session every agent of this call runs in. No tool is registered
    session-wide: each agent carries only its own tools."""
    install_log_redaction()
    if state.desks is None:
        state.desks = build_agent
    # Provider failures never close the call: the guard below apologises instead, so the
    # caller never sits in silence (provider retries still apply per request).
    options = conn_options or SessionConnectOptions(max_unrecoverable_errors=1_000_000)
    kwargs: dict[str, Any] = {"conn_options": options}
    if stt is not None:
        kwargs["stt"] = stt
    if tts is not None:
        kwargs["tts"] = tts
    session = AgentSession[SessionState](
        llm=llm,
        vad=vad,
        # Barge-in by the local VAD: livekit's adaptive detector is a LiveKit Cloud service,
        # which dev mode otherwise tries to reach (a network call per session, failing here).
        turn_handling={"turn_detection": turn_detection, "interruption": {"mode": "vad"}},
        userdata=state,
        max_tool_steps=max_tool_steps,
        # Desks write amounts as "$4,500.12", which the transcript shows; the TTS says words.
        tts_text_transforms=[*DEFAULT_TTS_TEXT_TRANSFORMS, spoken_amounts],
        **kwargs,
    )
    attach_guards(session, state)
    return session


def attach_guards(session: AgentSession[SessionState], state: SessionState) -> None:
    failures = {"consecutive": 0}

    @session.on("conversation_item_added")
    def _count_turns(ev: ConversationItemAddedEvent) -> None:
        item = ev.item
        # The same object sits in the agent's context and the history: scrubbed in both.
        # (At the front desk the caller's own words wait for the tool call answering them.)
        if getattr(item, "role", None) != "user" or not checks_pins(session.current_agent):
            scrub_item(state.pins, item)
        if isinstance(item, llm.ChatMessage) and item.role == "user":
            state.user_turns += 1
            # What this turn said, and the question it answered: consent is judged on these.
            state.caller_words = (item.text_content or "")[:500]
            state.heard_before = state.last_heard
            state.keypad_consent = None
        elif isinstance(item, llm.ChatMessage) and item.role == "assistant":
            state.last_heard = (item.text_content or "")[:500]
            if item.text_content not in (APOLOGY, APOLOGY_REPEATED):
                failures["consecutive"] = 0

    @session.on("error")
    def _apologise(ev: ErrorEvent) -> None:
        if getattr(ev.error, "recoverable", True) and not _lost_realtime_reply(ev.error):
            return  # the provider is retrying; nothing was lost yet
        failures["consecutive"] += 1
        logger.warning("provider failed mid-turn", extra={"type": getattr(ev.error, "type", "")})
        text = APOLOGY if failures["consecutive"] < 3 else APOLOGY_REPEATED
        try:
            session.say(text, allow_interruptions=True)
        except RuntimeError:
            logger.warning("could not apologise: session is closing")

    @session.on("function_tools_executed")
    def _after_tools(ev: FunctionToolsExecutedEvent) -> None:
        # Emitted before these calls and outputs are added to any context: a PIN named in a
        # verify_identity call (even one livekit refused) is learnt, then scrubbed from them
        # and from everything said before.
        for call in ev.function_calls:
            learn_pin_from_call(state.pins, call)
        scrub_items(state.pins, [*ev.function_calls, *ev.function_call_outputs])
        if state.pins:
            agent = session.current_agent
            scrub_contexts(state.pins, session.history, agent._chat_ctx if agent else None)
        for call, output in ev.zipped():
            if output.is_error and not _offered(session, call.name):
                _on_unknown_tool(session, state, call.name)

    @session.on("close")
    def _on_close(ev: Any) -> None:
        if state.audit is not None and state.audit.pending:
            state.tasks.start(state.audit.flush())
        if getattr(ev, "reason", None) in CALL_ENDED:
            # The caller hung up: the checkpoint ends with the call (after any audit write
            # still pending, which would upsert it again).
            state.tasks.start(_end_call(state))


def _lost_realtime_reply(error: object) -> bool:
    """A Realtime API response the server failed or refused: livekit calls it recoverable,
    since the session lives on, but nobody retries that reply, so the caller would wait in
    silence. Connection trouble is an APIConnectionError, which livekit does retry."""
    return isinstance(error, llm.RealtimeModelError) and type(error.error) is APIError


def _offered(session: AgentSession[SessionState], name: str) -> bool:
    """Whether the current agent has a tool of this name: judged on the tools themselves,
    never on the wording of livekit's error for a call to a tool that does not exist."""
    agent = session.current_agent
    return any(
        isinstance(t, (llm.FunctionTool, llm.RawFunctionTool)) and t.info.name == name
        for t in (agent.tools if agent is not None else [])
    )


def _on_unknown_tool(session: AgentSession[SessionState], state: SessionState, name: str) -> None:
    current = getattr(session.current_agent, "agent_id", None)
    if name.startswith("transfer_to_"):
        target = name.removeprefix("transfer_to_")[:40]

        async def record() -> None:
            await decide_handoff(
                state,
                from_agent=current,
                to_agent=target,
                reason="model called a transfer tool this agent does not have",
                brief=HandoffBrief(from_agent=current),
            )

        state.tasks.start(record())
    else:
        audit_refusal(state, kind="tool_not_available", detail=f"{current}:{name[:60]}")


# The caller left: the call is over. A job shutdown (a worker restarting) is not: the
# checkpoint is what lets the next worker resume the call.
CALL_ENDED = frozenset({CloseReason.PARTICIPANT_DISCONNECTED})


async def _end_call(state: SessionState) -> None:
    if state.audit is not None:
        await state.audit.flush()
    await forget_call(state)
