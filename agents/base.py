"""`BankAgent`: what every agent of the desk shares: instructions from prompts, graph-driven
transfer tools, the one-opening-line rule, and the identity guard for sensitive tools."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterable, AsyncIterator, Callable
from functools import cache
from typing import Any, ClassVar, Literal, NoReturn

from livekit.agents import (
    Agent,
    FlushSentinel,
    ModelSettings,
    RunContext,
    function_tool,
    llm,
)
from livekit.agents.voice import SpeechHandle

from handoffs import (
    DISPLAY_NAMES,
    EDGES,
    GREETER,
    HUMAN,
    CallbackEscalation,
    carried_context,
    decide_handoff,
    mask_sensitive,
    transfer_tool_name,
)
from handoffs.engine import audit_log
from handoffs.policy import Rejection
from shared_state import HandoffBrief, Intent, Principal, SessionState, SuspectTransaction
from tools.db import DatabaseUnavailable, NotFound, is_valid_id
from tools.outcomes import Escalated, RefusalReason, Refused

from .acknowledgement import acknowledged
from .prefetch import OpeningRead, ReadResult, start_read
from .prompts import instructions_for, prompt
from .redaction import checks_pins, scrub_contexts, scrub_for_model, scrub_item
from .render import fail, render

logger = logging.getLogger("bank.agents")


_INTENT_FOR_TARGET: dict[str, Intent] = {
    "balance": Intent.BALANCE,
    "transactions": Intent.TRANSACTIONS,
    "card_security": Intent.CARD_SECURITY,
    "human": Intent.HUMAN,
}


# Per-agent voice (pipeline mode): set once per process by the agent server so each
# desk sounds different and the caller hears the handoff. None: the session's TTS, if any.
VoiceFactory = Callable[[str], Any]
_voice_factory: VoiceFactory | None = None


def configure_voices(factory: VoiceFactory | None) -> None:
    global _voice_factory
    _voice_factory = factory


ROOM_READY_TIMEOUT_S = 20.0

RESUMED_LINE = (
    "Sorry about that, we were cut off for a moment. I'm back, and you're still with "
    "{desk}. Where were we?"
)


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
        await self._room_ready()
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

    async def _room_ready(self) -> None:
        """Wait until the room's I/O is linked before the first words. livekit-agents 1.8.9
        links the agent's transcription output in a background task after `session.start`
        and silently drops any text written before it: on a busy machine the greeting was
        lost and the caller faced a silent agent. Immediate once linked; no room: no wait."""
        try:
            room_io = self.session.room_io
        except RuntimeError:
            return  # console or tests: no room
        if not room_io.room.isconnected():
            return  # a room never connected (a simulated job): nobody to wait for
        # Bounded: a caller who never shows up must not hold the desk's words forever.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(room_io.wait_for_ready(), ROOM_READY_TIMEOUT_S)

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
        scrub_for_model(state.pins, chat_ctx, checks_pins=checks_pins(self))
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


def require_principal(ctx: RunContext[SessionState], *, action: str) -> Principal:
    """The identity guard of every sensitive tool: the principal comes from the session,
    never from the model. Refuses with a clear spoken reason and records the attempt.

    It also refuses a call carrying arguments the tool does not declare (`customer_id`,
    `customer_number`, ...): the schema would silently drop them and answer for the verified
    caller, hiding that the model was steered toward someone else's data."""
    state = ctx.userdata
    principal = state.principal
    forged = undeclared_arguments(ctx)
    if forged:
        audit_refusal(state, kind="forged_argument", detail=f"{action}: {', '.join(forged)}")
    if principal is None or not state.is_verified:
        audit_refusal(state, kind="refused_unverified", detail=action)
        raise fail(Refused(reason="unverified"))
    if forged:
        raise fail(Refused(reason="forged_argument", detail=", ".join(forged)))
    return principal


_MAX_REPORTED_KEYS = 5


def undeclared_arguments(ctx: RunContext[Any]) -> list[str]:
    """Argument names the model sent that the called tool does not declare (sanitised for
    logs and messages). Empty when the tool cannot be found or has no schema."""
    call = ctx.function_call
    try:
        raw = json.loads(call.arguments or "{}")
    except ValueError:
        return []  # livekit already refused unparseable arguments
    if not isinstance(raw, dict) or not raw:
        return []
    agent = ctx.session.current_agent
    tool = _find_tool(agent.tools, call.name)
    if not isinstance(tool, llm.FunctionTool):
        return []  # raw tools take free-form arguments
    declared = _declared_arguments(tool)
    extra = [str(key) for key in raw if key not in declared]
    return [
        "".join(ch for ch in key if ch.isprintable())[:40] or "?"
        for key in extra[:_MAX_REPORTED_KEYS]
    ]


def _find_tool(tools: list[Any], name: str) -> Any:
    """`llm.ToolContext(tools).get_function_tool(name)` without building a ToolContext on
    every call; anything but plain function and provider tools (a toolset, a wrapped tool)
    takes livekit's own path, so the answer is always the same."""
    for tool in tools:
        if isinstance(tool, (llm.FunctionTool, llm.RawFunctionTool)):
            if tool.info.name == name:
                return tool
        elif not isinstance(tool, llm.ProviderTool):
            return llm.ToolContext(tools).get_function_tool(name)
    return None


# Declared argument names per tool function. A tool's signature never changes, but building
# the pydantic model to read it took ~2 ms on every call that carried arguments (e.g. every
# confirmed card write); livekit's own per-call validation builds its own model regardless.
_DECLARED: dict[Any, frozenset[str]] = {}


def _declared_arguments(tool: llm.FunctionTool[..., Any]) -> frozenset[str]:
    key = getattr(tool, "__wrapped__", tool)  # the function, shared by every bound copy
    declared = _DECLARED.get(key)
    if declared is None:
        model = llm.utils.function_arguments_to_pydantic_model(tool)
        declared = _DECLARED[key] = frozenset(model.model_fields)
    return declared


def audit_refusal(state: SessionState, *, kind: str, detail: str) -> None:
    """Record a refused attempt in security_events without blocking the caller's turn."""
    if state.db is None:
        return
    principal = state.principal

    async def write() -> None:
        assert state.db is not None
        try:
            await state.db.record_security_event(
                session_id=state.session_id,
                customer_id=principal.customer_id if principal else None,
                kind=kind,
                detail=state.pins.scrub(detail[:400])[:200],
                channel=state.channel,
            )
        except Exception:
            logger.warning("security event not recorded", extra={"kind": kind})

    state.tasks.start(write())


async def flush_background(state: SessionState) -> None:
    """Wait for this call's background writes: security events and audit rows (tests,
    benches, the call's end). Watchers run on."""
    await state.tasks.settled()
    await audit_settled(state)
    await state.tasks.settled()  # a write that finished may have started another


async def audit_settled(state: SessionState) -> None:
    if state.audit is not None:
        await state.audit.settled()


AUDIT_NOT_DURABLE = (
    "I'm sorry, I'm having technical trouble on my side, so I can't go on just yet. "
    "Nothing on your accounts has changed. Please say that again in a moment."
)


async def _only(text: str) -> AsyncIterator[str]:
    yield text


async def audit_durable(state: SessionState) -> bool:
    """Every audit row of this session so far is written (after the writes in flight, and
    one more attempt, with the database's own bounded retries, for rows a failed write left
    behind)."""
    if state.audit is None:
        return True
    await state.audit.settled()
    if state.audit.pending:
        await state.audit.flush()
    return state.audit.pending == 0


@cache
def make_transfer_tool(target: str) -> llm.FunctionTool[..., Any]:
    """One transfer tool per outgoing edge of the graph: an agent only ever sees the tools
    for the edges it has. The policy still re-checks every call in code. Built once per
    target and shared (a tool holds no per-agent state), like the class-level tools."""
    if target == HUMAN:
        return function_tool(
            _transfer_to_human,
            name=transfer_tool_name(HUMAN),
            description="Connect the caller with a person from the bank's team when they ask "
            "for one or when you cannot help.\n\nArgs:\n    reason: why, in a few words",
        )
    if target == "balance":
        return function_tool(
            _transfer_to_balance,
            name=transfer_tool_name(target),
            description=f"Hand the caller to {DISPLAY_NAMES[target]}.\n\nArgs:\n"
            "    reason: why, in a few words\n"
            "    account: the account the caller asked about, if they named one",
        )
    if target == "card_security":
        return function_tool(
            _transfer_to_card_security,
            name=transfer_tool_name(target),
            description="Hand the caller to card security: lost, stolen or suspicious cards, "
            "locking/unlocking, disputes, and charges they do not recognise.\n\nArgs:\n"
            "    reason: why, in a few words\n"
            "    merchant: merchant of a charge the caller does not recognise, if any\n"
            "    transaction_ref: reference number of that charge, if known",
        )

    async def transfer(ctx: RunContext[SessionState], reason: str = "") -> Any:
        return await handoff(ctx, target, reason=reason)

    return function_tool(
        transfer,
        name=transfer_tool_name(target),
        description=f"Hand the caller to {DISPLAY_NAMES[target]}.\n\nArgs:\n"
        "    reason: why, in a few words",
    )


async def _transfer_to_balance(
    ctx: RunContext[SessionState],
    reason: str = "",
    account: Literal["all", "checking", "savings", "credit_card"] = "all",
) -> Any:
    return await handoff(ctx, "balance", reason=reason, slots={"account": account})


async def _transfer_to_card_security(
    ctx: RunContext[SessionState],
    reason: str = "",
    merchant: str | None = None,
    transaction_ref: int | None = None,
) -> Any:
    suspect = None
    if merchant or transaction_ref is not None:
        suspect = await _resolve_suspect(ctx.userdata, merchant, transaction_ref)
    intent = Intent.SUSPICIOUS_CHARGE if suspect else Intent.CARD_SECURITY
    return await handoff(ctx, "card_security", reason=reason, intent=intent, suspect=suspect)


async def _transfer_to_human(ctx: RunContext[SessionState], reason: str = "") -> str:
    return await escalate_to_human(ctx, reason=reason or "caller asked for a person")


def refuse_unknown_transaction(
    state: SessionState, transaction_ref: int, *, action: str
) -> NoReturn:
    """A transaction reference that is not the verified caller's (another customer's, or
    one that cannot exist): recorded, and refused with the same words either way, so the
    caller learns nothing about other customers' transactions."""
    audit_refusal(state, kind="dispute_unknown_transaction", detail=f"{action}:{transaction_ref}")
    raise fail(Refused(reason="unknown_transaction"))


async def _resolve_suspect(
    state: SessionState, merchant: str | None, transaction_ref: int | None
) -> SuspectTransaction | None:
    """Find the charge the caller means, only among the verified customer's transactions.

    A named reference that is not one of theirs refuses the transfer (ToolError); a merchant
    with no match, or a database outage, just transfers without a suspect charge."""
    principal = state.principal
    if principal is None or not state.is_verified or state.db is None:
        return None  # the policy refuses the transfer itself (verification required)
    action = "transfer_to_card_security"
    if transaction_ref is not None and not is_valid_id(transaction_ref):
        refuse_unknown_transaction(state, transaction_ref, action=action)
    try:
        if transaction_ref is not None:
            txn = await state.db.transaction_for_customer(principal.customer_id, transaction_ref)
        else:
            matches = await state.db.transactions(
                principal.customer_id, merchant=(merchant or "")[:60], limit=1
            )
            if not matches:
                return None
            txn = matches[0]
        card = await state.db.card_for_account(principal.customer_id, txn.account_id)
    except NotFound:
        if transaction_ref is None:
            return None
        refuse_unknown_transaction(state, transaction_ref, action=action)
    except DatabaseUnavailable:
        return None
    return SuspectTransaction(
        transaction_id=txn.id,
        merchant=txn.merchant,
        amount_cents=txn.amount_cents,
        occurred_on=txn.occurred_at.date().isoformat(),
        card_last_four=card.last_four if card else None,
    )


async def handoff(
    ctx: RunContext[SessionState],
    target: str,
    *,
    reason: str,
    intent: Intent | None = None,
    suspect: SuspectTransaction | None = None,
    slots: dict[str, Any] | None = None,
) -> Any:
    """Ask the policy; on acceptance return the next agent *bare* so the old agent says
    nothing and the new one speaks exactly one opening line. When the brief holds a clear
    request, the next desk's read starts here (agents/prefetch.py), alongside the audit.

    One handoff per model reply: livekit switches agents once per reply, and when two
    tools of one reply each return an agent it switches to *neither* (agent_activity.py:
    "expected to receive only one AgentTask"), while our policy, audit, checkpoint and
    `state.current_agent` would already say otherwise. So the first transfer of a reply
    claims the switch; any other transfer in that reply is refused and audited as rejected
    (`one_handoff_per_turn`), and livekit performs exactly the claimed one. (Refusing both
    is not possible: tool calls stream in and run as they arrive, so the first has usually
    been decided and audited before the second exists.)"""
    hold_the_floor(ctx)
    state = ctx.userdata
    current = ctx.session.current_agent
    from_agent = getattr(current, "agent_id", None)
    reason = model_text(state, reason)
    speech_id, call_id = ctx.speech_handle.id, ctx.function_call.call_id
    claim = state.handoff_claim
    if claim is not None and claim[0] == speech_id and claim[1] != call_id:
        await decide_handoff(
            state,
            from_agent=from_agent,
            to_agent=target,
            reason=reason or "requested",
            brief=HandoffBrief(
                intent=intent or _INTENT_FOR_TARGET.get(target), from_agent=from_agent
            ),
            refuse=Rejection.ONE_HANDOFF_PER_TURN,
        )
        busy = DISPLAY_NAMES.get(claim[2], "another desk")
        raise fail(Refused(reason="one_handoff_per_turn", subject=target, detail=busy))
    # Claimed before the first await, so a transfer running alongside sees it.
    state.handoff_claim = mine = (speech_id, call_id, target)
    facts = []
    if state.principal is not None:
        facts.append(f"caller verified as {state.principal.first_name} ({state.assurance.value})")
    brief = HandoffBrief(
        intent=intent or _INTENT_FOR_TARGET.get(target),
        from_agent=from_agent,
        verified_facts=facts,
        # The model wrote the reason: masked above like any carried agent text.
        open_question=reason or None,
        suspect_transaction=suspect,
    )
    # Write-behind: the audit row and the checkpoint are written while livekit switches
    # agents; the next agent's llm_node waits for that write before it says anything.
    plan = await decide_handoff(
        state,
        from_agent=from_agent,
        to_agent=target,
        reason=reason or "requested",
        brief=brief,
        write_behind=True,
    )
    if plan.target is None:
        if state.handoff_claim == mine:
            state.handoff_claim = None  # nothing switches: a later step may transfer
        await audit_settled(state)  # a refusal is on record before the model hears of it
        reason = _rejection_reason(plan)
        raise fail(Refused(reason=reason, subject=target, detail=_verify_by(state, reason)))
    if plan.target == HUMAN:
        # The policy already recorded this escalation (the fallback row): don't audit twice.
        return await escalate_to_human(
            ctx, reason="loop guard: repeated failed transfers", already_audited=True
        )
    carried = carried_context(current.chat_ctx, plan.brief or brief)
    scrub_contexts(state.pins, carried)
    final_brief = plan.brief or brief
    agent: BankAgent = build_agent(state, plan.target, carried)
    read = agent.opening_read(final_brief, slots or {})
    if read is not None:
        agent.prefetch = start_read(ctx, agent, read)
    return agent


MODEL_TEXT_CHARS = 200


def model_text(state: SessionState, text: str) -> str:
    """A model-written string kept by the desk (a transfer reason): bounded before it is
    scanned (masking stays cheap however long the model made it), masked like any carried
    agent line, scrubbed of the call's PINs, then cut to what is stored."""
    if not text:
        return ""
    bounded = text[: MODEL_TEXT_CHARS * 4]
    return state.pins.scrub(mask_sensitive(bounded))[:MODEL_TEXT_CHARS]


def hold_the_floor(ctx: RunContext[SessionState], step: str = "transferred") -> None:
    """Make a step all-or-nothing. A barge-in while a tool runs makes livekit cancel it
    and drop what it returns ("the agent handoff was interrupted and did not happen"),
    possibly after our policy, audit and checkpoint had already moved on, leaving the call
    half-switched (or a verification half-done, its PIN not yet redacted). So the turn that
    hands off or verifies cannot be interrupted; the caller's words are heard next."""
    try:
        ctx.disallow_interruptions()
    except RuntimeError:  # already interrupted: nothing was decided yet, so refuse cleanly
        raise fail(Refused(reason="interrupted", detail=step)) from None


_SPOKEN_REJECTIONS: dict[str, RefusalReason] = {
    "verification_required": "verification_required",
    "edge_not_allowed": "edge_not_allowed",
    "same_agent": "same_agent",
}


KEYPAD = "keypad"


def _verify_by(state: SessionState, reason: RefusalReason) -> str:
    """How this caller can verify: a phone caller whose number matched a customer keys the
    PIN on the keypad (the digits never reach a model); everyone else says them."""
    if reason == "verification_required" and state.channel == "sip":
        if state.caller.candidate_customer_id is not None:
            return KEYPAD
    return ""


def _rejection_reason(plan: Any) -> RefusalReason:
    rejection = plan.decision.rejection
    value = rejection.value if rejection is not None else ""
    return _SPOKEN_REJECTIONS.get(value, "not_transferred")


async def escalate_to_human(
    ctx: RunContext[SessionState], *, reason: str, already_audited: bool = False
) -> str:
    state = ctx.userdata
    current = ctx.session.current_agent
    from_agent = getattr(current, "agent_id", None)
    reason = model_text(state, reason)
    if not already_audited:
        brief = HandoffBrief(intent=Intent.HUMAN, from_agent=from_agent, open_question=reason)
        await decide_handoff(
            state, from_agent=from_agent, to_agent=HUMAN, reason=reason, brief=brief
        )
    escalation = state.escalation or CallbackEscalation()
    summary = f"Caller escalated from {from_agent}: {reason}"
    result = await escalation.escalate(state, summary)
    await audit_log(state).flush()
    return render(Escalated(ok=result.ok, message=result.spoken))


def build_agent(state: SessionState, agent_id: str, chat_ctx: llm.ChatContext | None) -> Any:
    """The next desk, built by the session's desk factory (agents.registry.build_agent)."""
    if state.desks is None:
        raise RuntimeError("no desk factory: build the session with agents.new_session")
    return state.desks(agent_id, chat_ctx)
