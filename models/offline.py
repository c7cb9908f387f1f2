"""The OFFLINE MODEL: the project's own deterministic banking "LLM".

An `llm.LLM` that needs no keys and no network. It reads the chat context the session gives
it (the caller's words, the typed handoff brief, typed tool outcomes) and the tools the
current agent offers, and either calls one of those tools — the same tools a real LLM would
call, through the same code paths and policy — or phrases a reply from the last tool result.
It is not a canned script: every answer comes from the database through the tools."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date
from typing import Any

from livekit.agents import llm
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, NOT_GIVEN, APIConnectOptions

from agents.render import say as render_say
from handoffs.transaction import KEYPAD
from shared_state import Intent
from tools.outcomes import (
    AmbiguousCard,
    AnyOutcome,
    Balance,
    CardChanged,
    Cards,
    DisputeOpened,
    NeedsConfirmation,
    NoSuchAccount,
    Refused,
    Transactions,
    Verified,
)

from .offline_context import (
    Context,
    Frame,
    Reply,
    args_of,
    call,
    frame_for_outcome,
    is_brief,
    is_prefetched,
    last_question,
    line,
    outcome_of,
    said_of,
    say,
    wanted,
    without_unused_reads,
)
from .offline_nlu import (
    DISPUTE,
    LIST_CARDS,
    LOCK,
    NEGATED_ACTION,
    NEGATED_LOCK,
    Ask,
    Understanding,
    understand,
)
from .offline_slots import (
    NETWORK,
    NETWORKS,
    all_cards_requested,
    cards_in,
    choose_card,
    collect_credentials,
    means_all_cards,
    parse_listing,
    refs_before,
)
from .offline_text import normalise
from .offline_turns import (
    CARD_WRITES,
    NONE_OF_THEM,
    also_offer,
    answer_user,
    card_type,
    charge_purpose,
    charge_question,
    desk_of,
    dispute,
    forgot_pin,
    is_off_script,
    off_script_prefix,
    pick_frame,
    route,
    suspect_merchant,
    transactions_call,
    why_balances_differ,
)
from .scripted import InstantStream, ToolCall

OFFLINE_MODEL_NAME = "northwind-offline-banking-model"
GOODBYE_LINE = line("goodbye")
_CARD_ASKS = (Ask.LOCK, Ask.UNLOCK, Ask.LOST, Ask.STOLEN)
_NOT_A_REQUEST = (Ask.VERIFY, Ask.UNKNOWN, Ask.YES, Ask.NO, Ask.REPEAT, Ask.ABOUT, Ask.THANKS,
                  Ask.MORE)  # fmt: skip
_ROUTABLE = (Ask.BALANCE, Ask.TRANSACTIONS, *_CARD_ASKS, Ask.SUSPICIOUS, Ask.LIST_CARDS,
             Ask.DISPUTE, Ask.HUMAN, Ask.CARD_HELP)  # fmt: skip
# The ask a typed need (or the brief's intent) stands for, when the caller's words don't show it.
_ASK_OF_NEED: dict[str | None, Ask] = {
    "balance": Ask.BALANCE, "transactions": Ask.TRANSACTIONS, "card_security": Ask.CARD_HELP,
    "lock": Ask.LOCK, "unlock": Ask.UNLOCK, "lost": Ask.LOST, "stolen": Ask.STOLEN,
    "list_cards": Ask.LIST_CARDS, "suspicious_charge": Ask.SUSPICIOUS, "dispute": Ask.DISPUTE,
    "nothing_more": Ask.GOODBYE,
}  # fmt: skip
_ASK_OF_INTENT: dict[Intent | None, Ask] = {Intent.BALANCE: Ask.BALANCE,
    Intent.TRANSACTIONS: Ask.TRANSACTIONS, Intent.SUSPICIOUS_CHARGE: Ask.SUSPICIOUS}  # fmt: skip
_NOT_TRANSFERRED = ("same_agent", "one_handoff_per_turn", "interrupted", "not_transferred")
_DECLINED = re.compile(
    r"\b(?:declined|rejected|refused|not working|isn'?t working|won'?t work|doesn'?t work|"
    r"didn'?t work|stopped working)\b",
    re.IGNORECASE,
)
# Card digits the handoff masked in carried turns (never passed between desks); masked
# credentials ("it's [number] and [number]") are not card digits.
_MASKED_CARD = re.compile(
    r"\b(?:card|ending(?: in| with)?|ends (?:in|with)|last (?:four|4)(?: digits)?(?: are| is)?)"
    r"\W*\[number\]",
    re.IGNORECASE,
)


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
        extra = frame.extra() if frame is not None and not reply.tool else None
        return InstantStream(
            self,
            turn=turn,
            extra=extra,
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
        return (
            _greeter_returning(ctx) if ctx.has("verify_identity") else _opening_after_prefetch(ctx)
        )
    if last is not None and last.type == "message" and last.role == "user":
        return answer_user(ctx, last.text_content or "")
    return say("how_can_i_help")


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


def _after_tool(ctx: Context, output: llm.FunctionCallOutput) -> Reply:  # noqa: C901
    outcome, text, previous = outcome_of(output), said_of(output), ctx.call_for(output)
    name = previous.name if previous else output.name
    if output.is_error:
        return _after_error(ctx, output, previous, outcome, text)
    if isinstance(outcome, Verified):
        return _after_verification(ctx, outcome)
    if name == "end_call":
        return Reply(text=GOODBYE_LINE)
    if isinstance(outcome, DisputeOpened) and (queued := _queued_lock(ctx)) is not None:
        return queued
    frame, args = frame_for_outcome(name, outcome), args_of(previous)
    if isinstance(outcome, Transactions) and previous is not None:
        if not outcome.items and args.get("merchant"):
            # "Netflix this month" when the last one was in the last: that merchant at any
            # time. A word taken for a merchant that matched nothing of theirs (a typo, "last
            # weak"): their recent ones, instead of a false "nothing matches".
            if args.pop("days_back", None) is None:
                args.pop("merchant")
                args.pop("count", None)  # the filter's longer listing: back to the usual few
            return Reply(tool="get_transactions", arguments=args)
        asked = _latest_request(ctx)
        if asked and asked.window and asked.days_back == args.get("days_back"):
            text = _in_window(outcome, asked.window)
        text = _unmatched_merchant(ctx, output) + text
    if isinstance(outcome, NeedsConfirmation):
        text = _earlier(ctx, output, DisputeOpened, " And the card: ") + text
    changed = isinstance(outcome, CardChanged)
    if name in CARD_WRITES:
        if changed and (following := _next_card(ctx, name, args)) is not None:
            return following
        if changed and name == "lock_card" and (queued := _queued_dispute(ctx)) is not None:
            return queued
        text = _earlier(ctx, output, CardChanged, " Now the next card. ") + text
    prefix = _opening_prefix(ctx)
    if name == "dispute_transaction":
        done = _earlier(ctx, output, CardChanged, " And the dispute: ")
        text = done + text
        read_back = ctx.asked("confirm_card")
        if not done and read_back is not None and read_back.tool == "lock_card":
            prefix += line("not_locked") + " "  # "no, don't lock it, just dispute it"
    if name == "get_transactions":
        text = _after_more(ctx, output) or text
        if (purpose := charge_purpose(ctx)) is not None and ctx.has("transfer_to_card_security"):
            text, frame = f"{text} {charge_question(purpose)}", pick_frame(purpose)
    read_back = ctx.asked("confirm_card")
    said = ctx.heard[-1] if ctx.heard else Understanding(Ask.UNKNOWN)
    again = (
        isinstance(outcome, NeedsConfirmation)
        and read_back
        and read_back.cards[:1] == (outcome.card,)
    )
    if again and is_off_script(said, read_back):  # the same read-back again, not a switch
        prefix += off_script_prefix(said, name)
    if name == "list_cards":
        text, frame = _after_card_list(ctx, outcome, text)
    merchant = suspect_merchant(ctx) if name == "lock_card" and changed else None
    if (
        merchant
        and ctx.has("dispute_transaction")
        and not ctx.last_outcome(("dispute_transaction",))
    ):
        offer = Frame(kind="offer_dispute", merchant=merchant)
        return Reply(text=f"{prefix}{text} {line('offer_dispute', merchant=merchant)}", frame=offer)
    if name == "get_balance" and isinstance(outcome, Balance) and _asked(ctx, Ask.BALANCE_WHY):
        text += " " + why_balances_differ(outcome)
    if name in ("get_balance", "get_transactions", *CARD_WRITES):
        if (then := also_offer(ctx, name, changed)) is not None:
            words = "recent transactions" if then == "transactions" else "balance"
            text, frame = (
                f"{text} {line('offer_also', what=words)}",
                Frame(kind="offer_also", then=then),
            )
    return Reply(text=f"{prefix}{text}", frame=frame)


def _after_error(
    ctx: Context,
    output: llm.FunctionCallOutput,
    previous: llm.FunctionCall | None,
    outcome: AnyOutcome | None,
    text: str,
) -> Reply:
    name = previous.name if previous else output.name
    if previous is not None and (retry := _retry_with_card(ctx, previous, outcome)) is not None:
        return retry
    spoken = _spoken_error(ctx, name, outcome, text)
    prefix = ""
    if name == "dispute_transaction":
        prefix = _earlier(ctx, output, CardChanged, " ")  # the lock first
    elif previous is not None and name in CARD_WRITES:
        prefix = _which_card_prefix(outcome, _card_request(ctx))
    return Reply(text=prefix + (spoken.text or ""), frame=spoken.frame) if prefix else spoken


def _after_verification(ctx: Context, verified: Verified) -> Reply:
    """Verified: on to what they asked for with their credentials, or the menu."""
    for text in reversed(ctx.user_messages_since_call("verify_identity", before_latest=True)):
        if (u := _understood(text)).ask in _ROUTABLE:
            routed = route(ctx, u)
            if routed.tool is not None and routed.tool.startswith("transfer_to_"):
                return routed  # the brief says verification just happened (typed, in code)
            break
    return say("verified_menu", Frame(kind="menu"), name=verified.first_name)


def _understood(text: str) -> Understanding:
    u = understand(text)
    return replace(u, ask=wanted(u))


def _retry_with_card(
    ctx: Context, previous: llm.FunctionCall, outcome: AnyOutcome | None
) -> Reply | None:
    """'Which card do you mean?': if the caller already said ('freeze my credit card'),
    call the tool again for that card instead of asking."""
    args = args_of(previous)
    if not isinstance(outcome, AmbiguousCard) or outcome.why != "which":
        return None
    if previous.name not in CARD_WRITES or args.get("card_last_four"):
        return None
    listed = cards_in(outcome)
    for n, u in enumerate(reversed(ctx.heard)):
        said = u.extras.get("text", "")
        if last_four := choose_card(listed, u, said):
            break
        if means_all_cards(said) and listed:
            last_four = listed[0].last_four  # one at a time; _next_card reads back the next
            break
        if u.ask not in (Ask.VERIFY, Ask.YES, Ask.NO, Ask.UNKNOWN, Ask.GREETING) and n > 0:
            return None  # no card named with the request, nor just before it: ask
    else:
        return None
    return Reply(tool=previous.name, arguments={**args, "card_last_four": last_four})


def _card_request(ctx: Context) -> str:
    """The caller's words that asked for the card action under way."""
    pairs = zip(ctx.heard, ctx.user_messages(), strict=True)
    asked = (t for u, t in reversed(list(pairs)) if wanted(u) in _CARD_ASKS or u.card_hint)
    return next(asked, "")


def _next_card(ctx: Context, tool: str, args: dict[str, Any]) -> Reply | None:
    """The caller said 'both' to 'which card?': after one is done, read back the next."""
    outcomes = ctx.outcomes()
    which = [o for o in outcomes if isinstance(o, AmbiguousCard) and o.why == "which"]
    if not which or not all_cards_requested(ctx):
        return None
    done = {o.card.last_four for o in outcomes if isinstance(o, CardChanged)}
    for card in cards_in(which[-1]):
        if card.last_four not in done:
            args = {k: v for k, v in args.items() if k != "confirm"}
            return Reply(tool=tool, arguments={**args, "card_last_four": card.last_four})
    return None


def _earlier(ctx: Context, output: llm.FunctionCallOutput, kind: type, then: str) -> str:
    """The sentence of the last `kind` outcome earlier this turn (since the caller last
    spoke), said before this one."""
    earlier: list[str] = []
    for item in ctx.items:
        if item is output:
            break
        if item.type == "message" and item.role == "user":
            earlier = []
        elif item.type == "function_call_output" and isinstance(outcome_of(item), kind):
            earlier.append(said_of(item))
    return earlier[-1] + then if earlier else ""


def _unmatched_merchant(ctx: Context, output: llm.FunctionCallOutput) -> str:
    """A merchant filter that matched nothing earlier this turn (the latest were read
    instead, or that merchant's at any time); a filter that did match is no miss."""
    missed, now = "", args_of(ctx.call_for(output)).get("merchant")
    for item in ctx.items:
        if item is output:
            break
        if item.type == "message" and item.role == "user":
            missed = ""
        found = outcome_of(item)
        if isinstance(item, llm.FunctionCallOutput) and isinstance(found, Transactions):
            merchant = args_of(ctx.call_for(item)).get("merchant")
            if merchant and not found.items:
                key = "none_in_period" if merchant == now else "no_merchant_match"
                missed = line(key, merchant=merchant) + " "
    return missed


def _queued_lock(ctx: Context) -> Reply | None:
    """'Lock my visa and dispute the uber charge': the dispute is open; the lock the same
    sentence asked for comes next (read back for a yes), not dropped."""
    u = next((u for u in reversed(ctx.heard) if u.ask is Ask.DISPUTE), None)
    said = u.extras.get("text", "") if u else ""
    if not ctx.has("lock_card") or not LOCK.search(said) or NEGATED_LOCK.search(said):
        return None
    if u is None or ctx.last_outcome(("lock_card",)) is not None:
        return None
    return call("lock_card", card_last_four=u.card_last_four, card_type=card_type(u))


def _queued_dispute(ctx: Context) -> Reply | None:
    """'Lock my card and dispute the uber charge': the card is locked; the dispute the same
    request asked for comes next (read back for a yes), not dropped."""
    request = _card_request(ctx)
    if not ctx.has("dispute_transaction") or ctx.last_outcome(("dispute_transaction",)):
        return None
    if not DISPUTE.search(NEGATED_ACTION.sub(" ", request)):
        return None
    merchant = _understood(request).merchant or suspect_merchant(ctx)
    return call("dispute_transaction", merchant=merchant) if merchant else None


def _asked(ctx: Context, ask: Ask) -> bool:
    request = _latest_request(ctx)
    return request is not None and request.ask is ask


def _spoken_error(ctx: Context, tool: str, outcome: AnyOutcome | None, text: str) -> Reply:
    if outcome is None:
        # livekit's own failure: a tool this desk doesn't have, or a crash inside one.
        return say("cannot_here" if not ctx.has(tool) else "went_wrong")
    reason = outcome.reason if isinstance(outcome, Refused) else None
    if reason == "verification_required":
        return _verify_first(ctx, outcome)
    if reason in ("credentials_locked", "too_many_attempts") and not ctx.is_verified():
        # The outcome's sentence offers a person; a call back needs a verified caller
        # (handoffs/escalation.py), so accepting would be refused: say what does work.
        return say(str(reason))
    if reason == "edge_not_allowed":
        return say("edge_not_allowed")
    if reason in _NOT_TRANSFERRED:
        return say("not_transferred")
    if isinstance(outcome, NoSuchAccount):
        have = ", ".join(outcome.have)
        return say("no_such_account", asked=outcome.asked.replace("_", " "), have=have)
    return Reply(text=text, frame=frame_for_outcome(tool, outcome))


def _verify_first(ctx: Context, outcome: AnyOutcome) -> Reply:
    said = ctx.heard[-1] if ctx.heard else Understanding(Ask.UNKNOWN)
    if said.ask is Ask.INJECTION:
        return Reply(text=f"{line('injection')} {line('verify_first')}")
    if said.extras.get("forgot_pin"):
        return forgot_pin(ctx)
    if isinstance(outcome, Refused) and outcome.detail == KEYPAD:
        key = "verify_keypad"
    else:
        key = "verify_pin" if collect_credentials(ctx).customer_number else "verify_both"
    return say(key, Frame(kind="credentials"))


def _opening_prefix(ctx: Context) -> str:
    """One-time context for the first answer after a handoff (still a single reply)."""
    recent = ctx.conversation()[-3:]
    brief = ctx.brief()
    if brief.from_agent is None or any(
        i.type == "message" and i.role == "assistant" for i in recent
    ):
        return ""
    seen_brief = False
    for item in ctx.items:  # the desk has spoken since the brief
        seen_brief = seen_brief or is_brief(item)
        if seen_brief and item.type == "message" and item.role == "assistant":
            return ""
    prefix = line("verified", name=f", {brief.verified_as}" if brief.verified_as else "") + " "
    prefix = prefix if brief.continuing else ""
    merchant = suspect_merchant(ctx)
    if merchant and ctx.has("lock_card") and _asked(ctx, Ask.SUSPICIOUS):
        prefix += line("about_charge", merchant=merchant) + " "
    return prefix


# -- what the tool said, finished off ------------------------------------------------------


def _after_card_list(
    ctx: Context, outcome: AnyOutcome | None, listing: str
) -> tuple[str, Frame | None]:
    """The listing, plus the next step: unlock a locked card, or why a decline isn't a lock."""
    cards = outcome.cards if isinstance(outcome, Cards) else []
    locked = tuple(c for c in cards if c.status == "locked")
    said = normalise(ctx.last_of_role("user") or "")
    declined = bool(_DECLINED.search(said))
    if locked and ctx.has("unlock_card"):
        offer = Frame(kind="offer_unlock", cards=locked)
        if len(locked) > 1:
            return f"{listing} {line('unlock_which')}", offer
        card = locked[0]
        why = line("why_declined") if declined else ""
        name = f"{card.network.title()} {card.kind}"
        return (
            f"{listing} {line('unlock_offer', card=name, last_four=card.last_four, why=why)}",
            offer,
        )
    if declined and cards and LIST_CARDS.search(said):
        return f"{listing} {line('not_locked_declined')}", None
    return listing, None


def _which_card_prefix(outcome: AnyOutcome | None, request: str) -> str:
    """Why the desk asks 'which card?' when the caller thought they had said: a card network
    they don't have ('my Discover card'), or digits given at another desk."""
    if not isinstance(outcome, AmbiguousCard) or outcome.why not in ("which", "not_owned"):
        return ""
    if m := NETWORK.search(request):
        network = NETWORKS[m.group(1).lower()]
        if network not in {c.network for c in outcome.cards}:
            an = "an" if network[0] in "aeiou" else "a"
            return line("no_such_network", an=an, network=network.title()) + " "
    return line("digits_not_passed") + " " if _MASKED_CARD.search(request) else ""


def _after_more(ctx: Context, output: llm.FunctionCallOutput) -> str | None:
    """The listing after 'more': only the ones not read out before."""
    said = ctx.heard[-1] if ctx.heard else Understanding(Ask.UNKNOWN)
    if said.ask is not Ask.MORE and not NONE_OF_THEM.search(said.extras.get("text", "")):
        return None
    before = refs_before(ctx, output)
    if not before:
        return None
    outcome = outcome_of(output)
    new = [x for x in parse_listing(outcome) if x.ref not in before]
    if not new:
        return line("no_older")
    end = " That's all of them." if isinstance(outcome, Transactions) and not outcome.more else ""
    return f"Before those: {'; '.join(x.text for x in new)}.{end}"


def _in_window(outcome: Transactions, window: tuple[date, date | None]) -> str:
    """The listing cut to a date window ("last month": the previous calendar month); the
    tool reads whole days back from now, so it may hold days either side."""
    start, end = window
    days = [(t, date.fromisoformat(t.on)) for t in outcome.items]
    items = [t for t, on in days if start <= on and (end is None or on < end)]
    return render_say(Transactions(items=items)) if items else line("none_in_window")


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
    if (
        made is None
        or output is None
        or own.tool != made.name
        or (own.arguments or {}) != args_of(made)
    ):
        return own
    return _after_tool(ctx, output)


def _specialist_opening(ctx: Context) -> Reply:
    brief = ctx.brief()
    # What the previous desk said the caller needs (typed) outranks older words of theirs.
    request = _what_the_desk_passed_on(ctx, _latest_request(ctx))
    ask = request.ask if request else None
    suspicious = brief.intent is Intent.SUSPICIOUS_CHARGE or (
        ask is Ask.SUSPICIOUS and suspect_merchant(ctx)
    )
    if ctx.has("lock_card") and ask not in (Ask.DISPUTE, Ask.LOST, Ask.STOLEN) and suspicious:
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
    return say("card_desk" if ctx.has("list_cards") else "how_can_i_help_short")


def _greeter_returning(ctx: Context) -> Reply:
    request = _latest_request(ctx)
    need = ctx.brief().need
    if need == "start_over":  # the loop guard: ask afresh
        return say("start_over", Frame(kind="menu"))
    if (request is not None and request.ask is Ask.GOODBYE) or need == "nothing_more":
        return call("end_call") if ctx.has("end_call") else Reply(text=GOODBYE_LINE)
    passed_on = _what_the_desk_passed_on(ctx, request)
    if passed_on is not None and passed_on.ask in _ROUTABLE and ctx.tools:
        return route(ctx, passed_on)
    return say("what_else")


def _what_the_desk_passed_on(ctx: Context, request: Understanding | None) -> Understanding | None:
    """A desk sent the caller back for something it can't do (the brief's typed need): the
    caller's own request for that desk, with its slots, or the need itself."""
    need = ctx.brief().need
    if need is None or need in ("nothing_more", "start_over"):
        return request
    needed = _ASK_OF_NEED[need]
    if request is not None and desk_of(request.ask) == desk_of(needed):
        return request
    for u in reversed(ctx.heard):
        if desk_of(u.ask) == desk_of(needed):
            return u
    # "My checking balance and my transactions": the same words, for the other desk.
    return replace(request, ask=needed) if request else Understanding(needed)


def _latest_request(ctx: Context) -> Understanding | None:
    """The caller's most recent meaningful request among the carried turns; older than
    them, what the brief says, typed."""
    if (request := ctx.latest(_NOT_A_REQUEST)) is not None:
        return request
    brief = ctx.brief()
    if brief.need in _ASK_OF_NEED and brief.need != "nothing_more":
        return Understanding(_ASK_OF_NEED[brief.need])
    return Understanding(_ASK_OF_INTENT[brief.intent]) if brief.intent in _ASK_OF_INTENT else None
