"""The OFFLINE MODEL: the project's own deterministic banking "LLM".

An `llm.LLM` that needs no keys and no network. It reads the chat context the session gives
it (the caller's words, the handoff brief, tool outputs) and the tools the current agent
offers, and either calls one of those tools — the same tools a real LLM would call, through
the same code paths and policy — or phrases a reply from the last tool result. It is not a
canned script: every answer comes from the database through the tools."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from livekit.agents import llm
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, NOT_GIVEN, APIConnectOptions

from handoffs.transaction import KEYPAD
from shared_state import Intent
from tools.outcomes import (
    AmbiguousCard,
    AnyOutcome,
    Balance,
    CardChanged,
    DisputeOpened,
    NeedsConfirmation,
    NoSuchAccount,
    Refused,
    Transactions,
    Verified,
)

from .offline_cards import after_card_list, which_card_prefix
from .offline_charges import after_more, charge_purpose, charge_question, in_window, pick_frame
from .offline_context import (
    Context,
    is_brief,
    is_prefetched,
    outcome_of,
    said_of,
    without_unused_reads,
)
from .offline_dialog import (
    all_cards_requested,
    cards_of,
    choose_card,
    collect_credentials,
    means_all_cards,
    request_with_credentials,
)
from .offline_frames import Frame, frame_for_outcome, last_question
from .offline_nlu import (
    DISPUTE,
    LOCK,
    NEGATED_ACTION,
    NEGATED_LOCK,
    Ask,
    Understanding,
    understand,
)
from .offline_recovery import forgot_pin, is_off_script, off_script_prefix
from .offline_reply import Reply, call
from .offline_turns import (
    CARD_WRITES,
    INJECTION_REFUSAL,
    VERIFY_FIRST,
    also_offer,
    answer_user,
    card_type,
    desk_of,
    dispute,
    route,
    suspect_merchant,
    then_words,
    transactions_call,
    why_balances_differ,
)
from .scripted import InstantStream, ToolCall

OFFLINE_MODEL_NAME = "northwind-offline-banking-model"
GOODBYE_LINE = "Glad I could help. Thank you for calling Northwind Bank. Goodbye!"


class OfflineBankLLM(llm.LLM[Any]):
    """Deterministic offline model (clearly not a real LLM; used when no provider keys)."""

    @property
    def model(self) -> str:
        return OFFLINE_MODEL_NAME

    @property
    def provider(self) -> str:
        return "offline"

    def chat(
        self,
        *,
        chat_ctx: llm.ChatContext,
        tools: list[llm.Tool] | None = None,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
        parallel_tool_calls: Any = NOT_GIVEN,
        tool_choice: Any = NOT_GIVEN,
        extra_kwargs: Any = NOT_GIVEN,
    ) -> llm.LLMStream:
        names = {t.id for t in tools or []} if tool_choice != "none" else set()
        reply = decide(chat_ctx, names)
        turn = ToolCall(reply.tool, reply.arguments or {}) if reply.tool else (reply.text or "")
        frame = reply.frame
        if frame is not None and not frame.question:
            frame = frame.model_copy(update={"question": last_question(reply.text or "")})
        return InstantStream(
            self,
            turn=turn,
            extra=frame.extra() if frame is not None and not reply.tool else None,
            chat_ctx=chat_ctx,
            tools=tools or [],
            conn_options=conn_options,
        )


def decide(chat_ctx: llm.ChatContext, tools: set[str]) -> Reply:
    ctx = Context(without_unused_reads(list(chat_ctx.items)), tools)
    conversation = ctx.conversation()
    last = conversation[-1] if conversation else None
    if last is not None and last.type == "function_call_output":
        return _after_tool(ctx, last)
    if _is_opening(ctx, last):
        # A desk just took the call over (the session asked for a reply, no caller words
        # since the handoff brief): which opening follows from this desk's own tools.
        if ctx.has("verify_identity"):
            return _greeter_returning(ctx)
        return _opening_after_prefetch(ctx)
    if last is not None and last.type == "message" and last.role == "user":
        return answer_user(ctx, last.text_content or "")
    return Reply(text="How can I help you today?")


def _is_opening(ctx: Context, last: llm.ChatItem | None) -> bool:
    if last is None or last.type != "message" or last.role not in ("system", "developer"):
        return False
    seen_brief = False
    for item in ctx.conversation():
        if is_brief(item):
            seen_brief = True
        elif is_prefetched(item):
            continue  # the desk's read on entry (agents/prefetch.py): still its opening
        elif seen_brief and (item.type != "message" or item.role in ("user", "assistant")):
            return False
    return seen_brief


# -- after a tool ran --------------------------------------------------------------------------


def _after_tool(ctx: Context, output: llm.FunctionCallOutput) -> Reply:
    outcome = outcome_of(output)
    text = said_of(output)
    previous = ctx.call_for(output)
    name = previous.name if previous else output.name
    if output.is_error:
        retry = _retry_with_card(ctx, previous, outcome) if previous else None
        if retry is not None:
            return retry
        spoken = _spoken_error(ctx, name, outcome, text)
        if name == "dispute_transaction" and (done := _done_this_turn(ctx, output, then=" ")):
            return Reply(text=done + (spoken.text or ""), frame=spoken.frame)  # the lock first
        if previous is not None and previous.name in CARD_WRITES:
            prefix = which_card_prefix(ctx, outcome, _card_request(ctx))
            return Reply(text=prefix + (spoken.text or ""), frame=spoken.frame)
        return spoken
    if isinstance(outcome, Verified):
        return _after_verification(ctx, outcome)
    if name == "end_call":
        return Reply(text=GOODBYE_LINE)
    if isinstance(outcome, DisputeOpened) and (queued := _queued_lock(ctx)) is not None:
        return queued
    frame = frame_for_outcome(name, outcome)
    if isinstance(outcome, Transactions) and previous is not None:
        args = json.loads(previous.arguments or "{}")
        if not outcome.items and args.get("merchant"):
            # A word taken for a merchant matched nothing of theirs (a typo, "last weak"):
            # read their recent ones instead of a false "nothing matches".
            args.pop("merchant")
            if not args.get("days_back"):
                args.pop("count", None)  # the filter's longer listing: back to the usual few
            return Reply(tool="get_transactions", arguments=args)
        missed = _unmatched_merchant(ctx, output)
        asked = _latest_request(ctx)
        if asked and asked.window and asked.days_back == args.get("days_back"):
            text = in_window(outcome, asked.window)
        text = missed + text
    if isinstance(outcome, NeedsConfirmation):
        text = _disputed_this_turn(ctx, output) + text
    changed = isinstance(outcome, CardChanged)
    if previous is not None and previous.name in CARD_WRITES:
        if changed and (following := _next_card(ctx, previous)) is not None:
            return following
        if changed and name == "lock_card" and (queued := _queued_dispute(ctx)) is not None:
            return queued
        text = _done_this_turn(ctx, output) + text
    declined = ""
    if name == "dispute_transaction":
        done = _done_this_turn(ctx, output, then=" And the dispute: ")
        text = done + text
        read_back = ctx.asked("confirm_card")
        if not done and read_back is not None and read_back.tool == "lock_card":
            declined = "Okay, I haven't locked your card. "  # "no, don't lock it, just dispute it"
    prefix = _opening_prefix(ctx) + declined
    if name == "get_transactions":
        text = after_more(ctx, output) or text
        if (purpose := charge_purpose(ctx)) is not None and ctx.has("transfer_to_card_security"):
            text += " " + charge_question(purpose)
            frame = pick_frame(purpose)
    read_back = ctx.asked("confirm_card")
    if (
        isinstance(outcome, NeedsConfirmation)
        and read_back is not None
        and is_off_script(said := understand(ctx.last_of_role("user") or ""), read_back)
    ):
        prefix += off_script_prefix(said, name)
    if name == "list_cards":
        text, frame = after_card_list(ctx, outcome, text)
    if name == "lock_card" and changed and ctx.has("dispute_transaction"):
        merchant = suspect_merchant(ctx)
        if merchant and not ctx.last_call(("dispute_transaction",)):
            text += f" Would you also like me to open a dispute for the {merchant} charge?"
            return Reply(
                text=f"{prefix}{text}", frame=Frame(kind="offer_dispute", merchant=merchant)
            )
    if name == "get_balance" and isinstance(outcome, Balance) and _asked_why(ctx):
        text += " " + why_balances_differ(outcome)
    if name in ("get_balance", "get_transactions") or name in CARD_WRITES:
        if (then := also_offer(ctx, name, changed)) is not None:
            text += f" Would you like your {then_words(then)} too?"
            frame = Frame(kind="offer_also", then=then)
    return Reply(text=f"{prefix}{text}", frame=frame)


def _after_verification(ctx: Context, verified: Verified) -> Reply:
    request = request_with_credentials(ctx)
    if request is not None:
        routed = route(ctx, request)
        if routed.tool == "transfer_to_human":
            return routed
        if routed.tool is not None and routed.tool.startswith("transfer_to_"):
            return routed  # the brief says verification just happened (typed, in code)
    return Reply(
        text=f"Thank you, {verified.first_name}, you're verified. Would you like your "
        "balance, your recent transactions, or help with a card?",
        frame=Frame(kind="menu"),
    )


def _retry_with_card(
    ctx: Context, previous: llm.FunctionCall, outcome: AnyOutcome | None
) -> Reply | None:
    """'Which card do you mean?': if the caller already said ('freeze my credit card'),
    call the tool again for that card instead of asking."""
    if not isinstance(outcome, AmbiguousCard) or outcome.why != "which":
        return None
    if previous.name not in CARD_WRITES:
        return None
    args = json.loads(previous.arguments or "{}")
    if args.get("card_last_four"):
        return None
    listed = cards_of(outcome)
    said_by_caller = ctx.user_messages()
    for n, said in enumerate(reversed(said_by_caller)):
        u = understand(said)
        if last_four := choose_card(listed, u, said):
            break
        if means_all_cards(said) and listed:
            last_four = listed[0].last_four  # one at a time; _next_card reads back the next
            break
        if u.ask not in (Ask.VERIFY, Ask.YES, Ask.NO, Ask.UNKNOWN, Ask.GREETING) and n > 0:
            return None  # no card named with the request, nor just before it: ask
    else:
        return None
    args["card_last_four"] = last_four
    return Reply(tool=previous.name, arguments=args)


def _card_request(ctx: Context) -> str:
    """The caller's words that asked for the card action under way."""
    for said in reversed(ctx.user_messages()):
        u = understand(said)
        if (u.then if u.ask is Ask.VERIFY else u.ask) in _CARD_ASKS or u.card_hint:
            return said
    return ""


_CARD_ASKS = (Ask.LOCK, Ask.UNLOCK, Ask.LOST, Ask.STOLEN)


def _next_card(ctx: Context, previous: llm.FunctionCall) -> Reply | None:
    """The caller said 'both' to 'which card?': after one is done, read back the next."""
    outcomes = ctx.outcomes()
    question = next((o for o in reversed(outcomes) if _asks_which(o)), None)
    if not isinstance(question, AmbiguousCard) or not all_cards_requested(ctx):
        return None
    done = {o.card.last_four for o in outcomes if isinstance(o, CardChanged)}
    for card in cards_of(question):
        if card.last_four not in done:
            args = json.loads(previous.arguments or "{}")
            args["card_last_four"] = card.last_four
            args.pop("confirm", None)
            return Reply(tool=previous.name, arguments=args)
    return None


def _earlier_this_turn(
    ctx: Context, output: llm.FunctionCallOutput
) -> list[tuple[llm.FunctionCallOutput, AnyOutcome | None]]:
    """The tool outputs of this turn before `output` (since the caller last spoke)."""
    found: list[tuple[llm.FunctionCallOutput, AnyOutcome | None]] = []
    for item in ctx.items:
        if item is output:
            break
        if item.type == "message" and item.role == "user":
            found = []
        elif item.type == "function_call_output":
            found.append((item, outcome_of(item)))
    return found


def _said_earlier(ctx: Context, output: llm.FunctionCallOutput, kind: type, then: str) -> str:
    """The sentence of the last `kind` outcome earlier this turn, said before this one."""
    earlier = [said_of(i) for i, o in _earlier_this_turn(ctx, output) if isinstance(o, kind)]
    return earlier[-1] + then if earlier else ""


def _done_this_turn(
    ctx: Context, output: llm.FunctionCallOutput, then: str = " Now the next card. "
) -> str:
    """A card action completed earlier in this same turn, said before the next read-back."""
    return _said_earlier(ctx, output, CardChanged, then)


def _queued_lock(ctx: Context) -> Reply | None:
    """'Lock my visa and dispute the uber charge': the dispute is open; the lock the same
    sentence asked for comes next (read back for a yes), not dropped."""
    # The request that started the dispute: this turn, or before "which charge?" was asked.
    said = next((t for t in reversed(ctx.user_messages()) if understand(t).ask is Ask.DISPUTE), "")
    if not ctx.has("lock_card") or not LOCK.search(said) or NEGATED_LOCK.search(said):
        return None
    if ctx.last_call(("lock_card",)) is not None:
        return None
    u = understand(said)
    return call("lock_card", card_last_four=u.card_last_four, card_type=card_type(u))


def _queued_dispute(ctx: Context) -> Reply | None:
    """'Lock my card and dispute the uber charge': the card is locked; the dispute the same
    request asked for comes next (read back for a yes), not dropped."""
    request = _card_request(ctx)
    if not ctx.has("dispute_transaction") or ctx.last_call(("dispute_transaction",)):
        return None
    if not DISPUTE.search(NEGATED_ACTION.sub(" ", request)):
        return None
    merchant = understand(request).merchant or suspect_merchant(ctx)
    if merchant is None:
        return None  # the offer after the lock asks which charge
    return call("dispute_transaction", merchant=merchant)


def _asked_why(ctx: Context) -> bool:
    request = _latest_request(ctx)
    return request is not None and request.ask is Ask.BALANCE_WHY


def _unmatched_merchant(ctx: Context, output: llm.FunctionCallOutput) -> str:
    """A merchant filter that matched nothing earlier this turn (the latest were read
    instead); a filter that did match ("what was the amazon charge?") is no miss."""
    missed = ""
    for item, found in _earlier_this_turn(ctx, output):
        call_made = ctx.call_for(item)
        merchant = json.loads(call_made.arguments or "{}").get("merchant") if call_made else None
        if merchant and isinstance(found, Transactions) and not found.items:
            missed = f"I couldn't find anything from {merchant}, so here are your latest. "
    return missed


def _disputed_this_turn(ctx: Context, output: llm.FunctionCallOutput) -> str:
    return _said_earlier(ctx, output, DisputeOpened, " And the card: ")


def _asks_which(outcome: AnyOutcome | None) -> bool:
    return isinstance(outcome, AmbiguousCard) and outcome.why == "which"


def _spoken_error(ctx: Context, tool: str, outcome: AnyOutcome | None, text: str) -> Reply:
    if outcome is None:
        # livekit's own failure: a tool this desk doesn't have, or a crash inside one.
        if not ctx.has(tool):
            return Reply(text="Sorry, I can't do that here. What else can I help you with?")
        return Reply(text="I'm sorry, something went wrong on my side. Could you say that again?")
    reason = outcome.reason if isinstance(outcome, Refused) else None
    if reason == "verification_required":
        return _verify_first(ctx, outcome)
    if reason in ("credentials_locked", "too_many_attempts") and not ctx.is_verified():
        # The outcome's sentence offers a person; a call back needs a verified caller
        # (handoffs/escalation.py), so accepting would be refused: say what does work.
        return Reply(text=_LOCKED_OUT[reason])
    if reason == "edge_not_allowed":
        return Reply(
            text="I can't do that from this desk. Say 'something else' and I'll take you back "
            "to the front desk."
        )
    if reason in _NOT_TRANSFERRED:
        return Reply(text="Sorry, let me make sure I help with the right thing. What do you need?")
    if isinstance(outcome, NoSuchAccount):
        return Reply(
            text=f"You don't have a {outcome.asked.replace('_', ' ')} account with us; you "
            f"have: {', '.join(outcome.have)}. Just name one and I'll read it."
        )
    return Reply(text=text, frame=frame_for_outcome(tool, outcome))


def _verify_first(ctx: Context, outcome: AnyOutcome) -> Reply:
    said = understand(ctx.last_of_role("user") or "")
    if said.ask is Ask.INJECTION:
        return Reply(text=f"{INJECTION_REFUSAL} {VERIFY_FIRST}")
    if said.extras.get("forgot_pin"):
        return forgot_pin(ctx)
    if isinstance(outcome, Refused) and outcome.detail == KEYPAD:
        text = (
            "I can help with that. First I need to verify you: please key in your PIN on "
            "your phone's keypad, followed by the pound key."
        )
    elif collect_credentials(ctx).customer_number:
        text = "I can help with that. First I need to verify you: what's your PIN?"
    else:
        text = (
            "I can help with that. First I need to verify your identity: please tell me "
            "your customer number and your PIN."
        )
    return Reply(text=text, frame=Frame(kind="credentials"))


_LOCKED_OUT = {
    "credentials_locked": "Verification for that customer number is locked for 15 minutes "
    "after too many incorrect PINs. You can try again after that, or call the number on the "
    "back of your card to speak with a person.",
    "too_many_attempts": "There have been too many verification attempts on this call, so I "
    "can't try again. You can call back later, or call the number on the back of your card "
    "to speak with a person.",
}


_NOT_TRANSFERRED = ("same_agent", "one_handoff_per_turn", "interrupted", "not_transferred")


def _opening_prefix(ctx: Context) -> str:
    """One-time context for the first answer after a handoff (still a single reply)."""
    conversation = ctx.conversation()
    assistant_after_brief = any(
        i.type == "message" and i.role == "assistant" for i in conversation[-3:]
    )
    brief = ctx.brief()
    if brief.from_agent is None or assistant_after_brief or _spoke_since_brief(ctx):
        return ""
    prefix = ""
    if brief.continuing:
        prefix = (
            f"Thank you{', ' + brief.verified_as if brief.verified_as else ''}, you're verified. "
        )
    request = _latest_request(ctx)
    merchant = suspect_merchant(ctx)
    if merchant and ctx.has("lock_card") and request and request.ask is Ask.SUSPICIOUS:
        prefix += f"About the {merchant} charge you don't recognise. "
    return prefix


def _spoke_since_brief(ctx: Context) -> bool:
    seen_brief = False
    for item in ctx.items:
        if is_brief(item):
            seen_brief = True
        elif seen_brief and item.type == "message" and item.role == "assistant":
            return True
    return False


# -- openings after a handoff ---------------------------------------------------------------


def _opening_after_prefetch(ctx: Context) -> Reply:
    """The desk may have made its read on taking over (agents/prefetch.py). Decide as if it
    had not: when that is the very call already made, speak its output (one model call);
    otherwise (the caller asked for more than the plain read) make the call meant."""
    prefetched = [i for i in ctx.items if is_prefetched(i)]
    if not prefetched:
        return _specialist_opening(ctx)
    own = _specialist_opening(Context([i for i in ctx.items if not is_prefetched(i)], ctx.tools))
    made = next((i for i in prefetched if isinstance(i, llm.FunctionCall)), None)
    output = next((i for i in prefetched if isinstance(i, llm.FunctionCallOutput)), None)
    if made is None or output is None or own.tool != made.name:
        return own
    if (own.arguments or {}) != json.loads(made.arguments or "{}"):
        return own
    return _after_tool(ctx, output)


def _specialist_opening(ctx: Context) -> Reply:
    brief = ctx.brief()
    # What the previous desk said the caller needs (typed) outranks older words of theirs.
    request = _what_the_desk_passed_on(ctx, _latest_request(ctx))
    ask = request.ask if request else None
    if (
        ctx.has("lock_card")
        and ask not in (Ask.DISPUTE, Ask.LOST, Ask.STOLEN)
        and (
            brief.intent is Intent.SUSPICIOUS_CHARGE
            or (ask is Ask.SUSPICIOUS and suspect_merchant(ctx))
        )
    ):
        suspect = brief.suspect_transaction
        return call("lock_card", card_last_four=suspect.card_last_four if suspect else None)
    if request is not None and ask is Ask.DISPUTE and ctx.has("dispute_transaction"):
        return dispute(ctx, request)
    if request is not None and ask not in (Ask.VERIFY, Ask.UNKNOWN, Ask.GREETING):
        routed = route(ctx, request)
        if routed.tool is None or not routed.tool.startswith("transfer_to_"):
            return routed
        if routed.tool == "transfer_to_card_security" or ask is Ask.HUMAN:
            return routed
    if ctx.has("get_balance"):
        return call("get_balance", account=(request.account if request else None) or "all")
    if ctx.has("get_transactions"):
        return transactions_call(request or Understanding(Ask.TRANSACTIONS))
    if ctx.has("list_cards"):
        return Reply(
            text="You're through to card security. I can lock or unlock a card, report "
            "one lost or stolen, or dispute a charge. What would you like to do?"
        )
    return Reply(text="How can I help?")


_ROUTABLE = (
    Ask.BALANCE, Ask.TRANSACTIONS, Ask.LOCK, Ask.UNLOCK, Ask.LOST, Ask.STOLEN,
    Ask.SUSPICIOUS, Ask.LIST_CARDS, Ask.DISPUTE, Ask.HUMAN, Ask.CARD_HELP,
)  # fmt: skip


def _greeter_returning(ctx: Context) -> Reply:
    request = _latest_request(ctx)
    need = ctx.brief().need
    if need == "start_over":  # the loop guard: ask afresh
        return Reply(
            text="Sorry about the back and forth. In a few words, what would you like "
            "help with: your balance, your transactions, or a card?",
            frame=Frame(kind="menu"),
        )
    if (request is not None and request.ask is Ask.GOODBYE) or need == "nothing_more":
        return call("end_call") if ctx.has("end_call") else Reply(text=GOODBYE_LINE)
    passed_on = _what_the_desk_passed_on(ctx, request)
    if passed_on is not None and passed_on.ask in _ROUTABLE and ctx.tools:
        return route(ctx, passed_on)
    return Reply(text="Sure. What else can I help you with today?")


# The ask a typed need stands for, when the caller's own words no longer show it.
_ASK_OF_NEED: dict[str, Ask] = {
    "balance": Ask.BALANCE, "transactions": Ask.TRANSACTIONS, "card_security": Ask.CARD_HELP,
    "lock": Ask.LOCK, "unlock": Ask.UNLOCK, "lost": Ask.LOST, "stolen": Ask.STOLEN,
    "list_cards": Ask.LIST_CARDS, "suspicious_charge": Ask.SUSPICIOUS, "dispute": Ask.DISPUTE,
    "nothing_more": Ask.GOODBYE,
}  # fmt: skip


def _what_the_desk_passed_on(ctx: Context, request: Understanding | None) -> Understanding | None:
    """A desk sent the caller back for something it can't do (the brief's typed need): the
    caller's own request for that desk, with its slots, or the need itself."""
    need = ctx.brief().need
    if need is None or need in ("nothing_more", "start_over"):
        return request
    needed = _ASK_OF_NEED[need]
    if request is not None and desk_of(request.ask) == desk_of(needed):
        return request
    for text in reversed(ctx.user_messages()):
        u = understand(text)
        if desk_of(u.ask) == desk_of(needed):
            return u
    # "My checking balance and my transactions": the same words, for the other desk.
    return replace(request, ask=needed) if request else Understanding(needed)


_NOT_A_REQUEST = (
    Ask.VERIFY, Ask.UNKNOWN, Ask.YES, Ask.NO, Ask.REPEAT, Ask.ABOUT, Ask.THANKS, Ask.MORE,
)  # fmt: skip


def _latest_request(ctx: Context) -> Understanding | None:
    """The caller's most recent meaningful request among the carried turns."""
    for text in reversed(ctx.user_messages()):
        u = understand(text)
        if u.ask is Ask.VERIFY and u.then is not None:
            u.ask = u.then
        if u.ask not in _NOT_A_REQUEST:
            return u
    # Older than the carried turns: what the brief says, typed.
    brief = ctx.brief()
    if brief.need in _ASK_OF_NEED and brief.need != "nothing_more":
        return Understanding(_ASK_OF_NEED[brief.need])
    return Understanding(_ASK_OF_INTENT[brief.intent]) if brief.intent in _ASK_OF_INTENT else None


_ASK_OF_INTENT: dict[Intent | None, Ask] = {
    Intent.BALANCE: Ask.BALANCE, Intent.TRANSACTIONS: Ask.TRANSACTIONS,
    Intent.SUSPICIOUS_CHARGE: Ask.SUSPICIOUS,
}  # fmt: skip
