"""The offline model's answer to one caller turn: call a tool, or say one short line.

What the caller wants comes from the understanding (offline_nlu); what the desk last asked
comes from its typed frame, never from its words. Routing follows from the intent table and
the handoff graph: a desk calls the intent's tool when it has it, otherwise it transfers one
hop toward the desk that owns it."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any, Literal, get_args

from agents.registry import owner_of
from handoffs.graph import next_hop, transfer_tool_name
from shared_state import Need
from tools.money import format_cents
from tools.outcomes import Balance, Transactions

from .intents import INTENTS, WORDS, Intent
from .offline_context import LINES, Context, Frame, Reply, args_of, call, line, say, wanted
from .offline_nlu import BALANCE, TRANSACTIONS, YES, Ask, Understanding, understand
from .offline_slots import (
    CARD_ACTIONS,
    Listed,
    all_cards_requested,
    cards_mentioned,
    choose_card,
    collect_credentials,
    last_listing,
    means_all_cards,
    parse_listing,
    pick_charge,
)
from .offline_text import normalise

CARD_WRITES = ("lock_card", "unlock_card", "report_card_lost_or_stolen")
MAX_COUNT, CHARGE_COUNT, FILTERED_COUNT = 20, 5, 10  # read more when filtered or hunting
Other = Literal["balance", "transactions"]


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


# "Yes, lock it", "yes thanks", "yes please dispute it": still a yes to the question asked.
_YES_WITH_WORDS = (*CARD_ACTIONS, Ask.THANKS, Ask.DISPUTE)
_ANSWERED_WITH_WORDS = ("confirm_card", "confirm_dispute", "offer_unlock", "offer_dispute")
_NOT_ABOUT_A_CARD = (Ask.HUMAN, Ask.NO, Ask.GOODBYE, Ask.SOMETHING_ELSE, Ask.BALANCE,
                     Ask.INJECTION, Ask.SUSPICIOUS, Ask.DISPUTE)  # fmt: skip
# Off-script turns that leave a pending question standing (asked again, not dropped).
_OFF_SCRIPT = (Ask.UNKNOWN, Ask.GREETING, Ask.REPEAT, Ask.ABOUT, Ask.THANKS, Ask.MORE)
_PICK_ANSWERS = (Ask.UNKNOWN, Ask.MORE, Ask.SUSPICIOUS, Ask.DISPUTE, Ask.TRANSACTIONS, Ask.YES,
                 Ask.NO, Ask.VERIFY)  # fmt: skip
_NOT_A_PICK = (Ask.VERIFY, Ask.UNKNOWN, Ask.YES, Ask.MORE, Ask.REPEAT, Ask.THANKS, Ask.ABOUT)
_CARD_TYPES = ("visa", "mastercard", "amex", "americanexpress", "discover", "debit", "credit")
_NEED_OF_INTENT = {"suspicious": "suspicious_charge", "balance_why": "balance"}
_WHY = _rx(
    r"^\W*(?:but |and |ok |okay )?why\b|\bwhat (?:does|will) (?:that|locking|it) do\b|"
    r"\bwhat (?:do|did) you need (?:that|it|this|them|those|my \w+) for\b|"
    r"\bwhy (?:do|does|would|should) (?:you|it) need\b"
)
# "And uber?", "what about at costco", "and last month": a follow-up (and a bare name in it).
_ELLIPSIS = _rx(
    r"^\W*(?:and|what about|how about)\b(?:\s+(?:at|from|on|with)\b)?"
    r"(?:\s+([a-z][\w&'-]{1,30}(?:\s+[a-z][\w&'-]{1,30})?)(?=\W*$))?"
)
_REPLACEMENT = _rx(
    r"\b(?:new|replacement|replace|damaged|broken|cracked|snapped|bent|worn|expired|expiring)\b"
)
_SWITCH = _rx(r"\b(?:no|not|actually|instead|rather|other|sorry|i mean|i meant|wait)\b")
_CARD_KIND = _rx(r"\b(?:debit|credit)\b")
_LISTING = _rx(
    r"\b(?:transactions|statement|history|activity|spending|recent (?:charges|payments))\b"
)
NONE_OF_THEM = _rx(
    r"\b(?:none of (?:them|those|these)|not (?:in )?(?:there|those|these|that list|any of)|"
    r"(?:it'?s|it was|was) (?:older|earlier|before that)|neither)\b"
)
_READ_AGAIN = _rx(
    r"\b(?:read (?:them|those|it|that|me)|again|repeat|what (?:are|were) (?:they|those|the)|"
    r"which ones|list them|remind me|don'?t (?:know|remember) which)\b"
)


def text_of(u: Understanding) -> str:
    return u.extras.get("text", "")


def answer_user(ctx: Context, text: str) -> Reply:
    u = understand(text)
    if u.ask is Ask.INJECTION:
        return _refuse(ctx, u)
    if u.ask is Ask.FORGOT_PIN:
        return forgot_pin(ctx)
    if u.ask is Ask.OUT_OF_SCOPE:
        return out_of_scope(ctx, u.extras.get("topic", ""))
    if u.ask is Ask.BALANCE_WHY:
        return explain_balance(ctx)
    for follow_up in (_card_follow_up, _charge_follow_up, _listed_charge_follow_up):
        if (reply := follow_up(ctx, u)) is not None:
            return reply
    frame = ctx.frame()
    if u.ask is Ask.YES or (
        frame is not None
        and frame.kind in _ANSWERED_WITH_WORDS
        and u.ask in _YES_WITH_WORDS
        and YES.search(normalise(text))
    ):
        return _on_yes(ctx)
    if (again := _recover(ctx, u)) is not None:
        return again
    if u.ask is Ask.NO:
        return _on_no(ctx)
    fixed = {Ask.THANKS: "welcome", Ask.ABOUT: "about_me_menu", Ask.REPEAT: "how_can_i_help"}
    return say(fixed[u.ask]) if u.ask in fixed else route(ctx, u)


def route(ctx: Context, u: Understanding) -> Reply:  # noqa: C901 - one flat case per ask
    u = _carried(ctx, u)
    ask = u.ask
    if ask is Ask.INJECTION:
        return _refuse(ctx, u)
    if ask is Ask.VERIFY:
        return _verify(ctx)
    if ask is Ask.SUSPICIOUS:
        return _suspicious(ctx, u)
    if ask is Ask.CARD_HELP and _REPLACEMENT.search(normalise(text_of(u))):
        return say("replacement", Frame(kind="offer_person"))
    if ask is Ask.CARD_HELP:
        if ctx.has("list_cards"):
            return say("card_help")
        return _transfer_towards(ctx, "card_security", "help with a card")
    if ask is Ask.DISPUTE:
        if ctx.has("dispute_transaction"):
            return dispute(ctx, u)
        if ctx.has("get_transactions"):
            return charge_to_card_security(ctx, Ask.DISPUTE, u)
        if u.merchant is None and ctx.has("transfer_to_transactions"):
            return call(
                "transfer_to_transactions", reason="dispute a charge", caller_needs="dispute"
            )
        return _transfer_towards(ctx, "card_security", "dispute a charge", merchant=u.merchant)
    if ask is Ask.MORE and ctx.has("get_transactions"):
        return more_transactions(ctx)
    if (intent := INTENTS.get(ask.value)) is not None and intent.tool is not None:
        return _serve(ctx, u, intent)
    if ask is Ask.SOMETHING_ELSE:
        if ctx.has("transfer_to_greeter"):
            return call("transfer_to_greeter", reason="caller wants something else")
        return say("something_else")
    if ask is Ask.GOODBYE:
        if ctx.has("transfer_to_greeter"):
            reason = "caller is finished with this desk"
            return call("transfer_to_greeter", reason=reason, caller_needs="nothing_more")
        # The console demo: the goodbye follows the tool, then it ends.
        return call("end_call") if ctx.has("end_call") else say("goodbye_take_care")
    if ask is Ask.THIRD_PARTY:
        own = "your own accounts" if ctx.is_verified() else "the account holder, once verified"
        return say("third_party", own=own)
    if ask is Ask.ACCOUNT_HELP:
        return say("account_help")
    listed = last_listing(ctx) if ask is Ask.UNKNOWN and ctx.has("get_transactions") else []
    if (picked := pick_charge(listed, text_of(u))) is not None:  # "which is the biggest?"
        return say("picked", what=picked.text)
    if ask is Ask.UNKNOWN and u.card_hint and ctx.has("lock_card") and u.account != "savings":
        return say("what_with_card")
    if ask is Ask.UNKNOWN and u.account:
        # "what about savings", "and the credit card?": this desk's answer for that account.
        if ctx.has("get_balance"):
            return call("get_balance", account=u.account)
        if ctx.has("get_transactions"):
            return transactions_call(u)
        if ctx.has("transfer_to_balance"):
            return _transfer_towards(ctx, "balance", f"{u.account} balance")
    if ask is Ask.GREETING:
        return say("greeting", Frame(kind="menu"))
    return say(clarify(ctx))


def _carried(ctx: Context, u: Understanding) -> Understanding:
    """'And last month?' after 'netflix this month': a follow-up to a listing keeps the
    filters of the request just before that it doesn't replace. A name in it ('and uber?')
    is a merchant, filtered afresh."""
    said = text_of(u)
    m = _ELLIPSIS.match(said)
    if m is None or len(ctx.heard) < 2 or text_of(ctx.heard[-1]) != said:
        return u
    before = ctx.heard[-2]
    if wanted(before) is not Ask.TRANSACTIONS or u.ask not in (Ask.TRANSACTIONS, Ask.UNKNOWN):
        return u
    slots = u.account or u.card_hint or u.days_back or u.min_amount is not None or u.count
    bare = m.group(1) if m.group(1) and not slots else None
    not_names = WORDS["not_merchants"] | WORDS["not_bare_merchants"]
    if bare is not None and any(w in not_names for w in bare.lower().split()):
        bare = None
    if u.ask is Ask.UNKNOWN and bare is None:
        return u  # "and savings?": that account's answer, as before
    if u.merchant or bare:  # a new name: a fresh filter on it ("and uber?")
        return replace(u, ask=Ask.TRANSACTIONS, merchant=u.merchant or bare)
    dated = u.window is not None or u.days_back is not None
    return replace(  # "and last month?": the same filter, another period or amount
        u,
        ask=Ask.TRANSACTIONS,
        merchant=before.merchant,
        window=u.window if dated else before.window,
        days_back=u.days_back if dated else before.days_back,
        min_amount=u.min_amount if u.min_amount is not None else before.min_amount,
        account=u.account or before.account,
    )


def desk_of(ask: Ask) -> str | None:
    """The desk whose tools serve this ask (the intent table's tool, and the graph)."""
    if ask is Ask.CARD_HELP:
        return "card_security"
    intent = INTENTS.get(ask.value)
    return owner_of(intent.tool) if intent is not None and intent.tool else None


def _serve(ctx: Context, u: Understanding, intent: Intent) -> Reply:
    """The intent's tool when this desk has it, otherwise one hop toward its owner."""
    tool = intent.tool or ""
    if not ctx.has(tool):
        if (desk := owner_of(tool)) is None:
            return say(clarify(ctx))
        # The table's first example says what is needed; a lost or stolen card is about the
        # card, not the one charge just read out ("my wallet was stolen").
        need = _NEED_OF_INTENT.get(intent.name, intent.name)
        about_charge = intent.name not in ("lost", "stolen")
        return _transfer_towards(
            ctx, desk, intent.examples[0], account=u.account, charge=about_charge, need=need
        )
    if intent.name == "balance_why":
        return explain_balance(ctx)
    if tool == "get_balance":
        return call(tool, account=u.account or "all")
    if tool == "get_transactions":
        return transactions_call(u)
    if tool in ("lock_card", "unlock_card"):
        # "Lock it too" after disputing the charge this desk was handed: that charge's card.
        suspect = ctx.brief().suspect_transaction
        by_suspect = (
            suspect.card_last_four if suspect and u.ask is Ask.LOCK and not u.card_hint else None
        )
        return call(tool, card_last_four=u.card_last_four or by_suspect, card_type=card_type(u))
    if tool == "report_card_lost_or_stolen":
        return call(tool, card_last_four=u.card_last_four, kind=intent.name, card_type=card_type(u))
    if tool == "transfer_to_human":
        return call(tool, reason="caller asked for a person")
    return call(tool)  # list_cards: no slots


def clarify(ctx: Context) -> str:
    """The key of this desk's "didn't catch that" line."""
    desk = next((t for t in ("get_balance", "get_transactions", "lock_card") if ctx.has(t)), "")
    return f"clarify_{desk or 'front'}"


def out_of_scope(ctx: Context, topic: str) -> Reply:
    """Not something any desk on this line does: say so honestly, offer a person."""
    intent = INTENTS.get(topic)
    cannot = intent.answer if intent is not None and intent.answer else "I can't do that here"
    offer = person_offer(ctx, "with that")
    return Reply(text=line("out_of_scope", cannot=cannot, offer=offer.text), frame=offer.frame)


def person_offer(ctx: Context, about: str) -> Reply:
    """A person, offered only where accepting can work: a call back needs a verified caller
    (handoffs/escalation.py), so anyone else hears the number to call instead."""
    if ctx.has("transfer_to_human") and ctx.is_verified():
        return say("person_offer", Frame(kind="offer_person"), about=about)
    return say("person_number", about=about)


def forgot_pin(ctx: Context) -> Reply:
    if ctx.is_verified():
        return say("forgot_pin_verified", Frame(kind="offer_person"))
    # No offer of a call back: it needs a verified caller, so accepting it would be refused.
    return say("forgot_pin")


def explain_balance(ctx: Context) -> Reply:
    """'Why is it different?': pending transactions, from the balance read out, or read it."""
    found = ctx.last_outcome(("get_balance",))
    if found is not None and isinstance(found[1], Balance):
        return Reply(text=f"{why_balances_differ(found[1])} {line('anything_else')}")
    if ctx.has("get_balance"):
        return call("get_balance", account="all")
    return _transfer_towards(ctx, "balance", "why the available and current balances differ")


def why_balances_differ(balance: Balance) -> str:
    held = [
        a
        for a in balance.accounts
        if a.kind != "credit_card" and a.available_cents != a.ledger_cents
    ]
    if not held:
        return line("no_pending")
    parts = [
        line(
            "pending_part",
            account=a.kind.replace("_", " "),
            last_four=a.last_four,
            pending=format_cents(abs(a.ledger_cents - a.available_cents)),
            available=format_cents(a.available_cents),
            current=format_cents(a.ledger_cents),
        )
        for a in held
    ]
    return line("pending_total", parts="; ".join(parts))


def _refuse(ctx: Context, u: Understanding) -> Reply:
    if ctx.is_verified():
        return Reply(text=f"{line('injection')} {line('own_accounts_only')}")
    # Let the handoff policy refuse (and audit) the data request too: the caller's claim
    # changes nothing, verification is checked in code.
    target = {Ask.BALANCE: "balance", Ask.TRANSACTIONS: "transactions"}.get(u.then or Ask.UNKNOWN)
    if target and ctx.has(f"transfer_to_{target}"):
        return call(f"transfer_to_{target}", reason="caller request (unverified claims)")
    return Reply(text=f"{line('injection')} {line('verify_first')}")


def _transfer_towards(
    ctx: Context,
    desk: str,
    reason: str,
    merchant: str | None = None,
    account: str | None = None,
    *,
    charge: bool = True,  # False: about a card, not a charge just read ("wallet stolen")
    need: str | None = None,  # the typed need the brief carries (shared_state.Need)
) -> Reply:
    hop = next_hop(ctx, desk)
    need = need if need in get_args(Need) else desk
    if hop is None:
        return say(clarify(ctx))
    if hop != desk:  # the neighbour nearer to it re-triages (the greeter, on a tie)
        return call(transfer_tool_name(hop), reason=f"caller needs: {reason}", caller_needs=need)
    args: dict[str, Any] = {"reason": reason, "caller_needs": need}
    if desk == "balance" and account:
        args["account"] = account  # the desk reads that account on taking over
    if desk == "card_security" and merchant:
        args["merchant"] = merchant
    elif desk == "card_security" and charge and (ref := single_listed_ref(ctx)) is not None:
        args["transaction_ref"] = ref  # "dispute that" right after one charge was read
    return Reply(tool=transfer_tool_name(desk), arguments=args)


def _verify(ctx: Context) -> Reply:
    if not ctx.has("verify_identity"):
        return say("already_verified")
    found = collect_credentials(ctx)
    if found.ambiguous:
        return say("two_numbers")
    if found.customer_number and found.pin:
        return call("verify_identity", customer_number=found.customer_number, pin=found.pin)
    key = "pin_please" if found.customer_number else "number_please" if found.pin else "both_please"
    return say(key, Frame(kind="credentials"))


def _suspicious(ctx: Context, u: Understanding) -> Reply:
    if ctx.has("get_transactions"):
        return charge_to_card_security(ctx, Ask.SUSPICIOUS, u)
    if ctx.has("dispute_transaction"):
        if u.merchant or ctx.brief().suspect_transaction:
            return dispute(ctx, u)
    elif ctx.has("transfer_to_card_security") and u.merchant:
        reason = "caller does not recognise a charge"
        return call("transfer_to_card_security", reason=reason, merchant=u.merchant)
    # Which charge? The transactions desk reads the recent ones and asks.
    if ctx.has("transfer_to_transactions"):
        reason = "caller does not recognise a charge"
        return call("transfer_to_transactions", reason=reason, caller_needs="suspicious_charge")
    return say("which_unrecognised_merchant", Frame(kind="which_charge"))


def dispute(ctx: Context, u: Understanding) -> Reply:
    suspect = ctx.brief().suspect_transaction
    if u.merchant and (not suspect or u.merchant.lower() not in suspect.merchant.lower()):
        return call("dispute_transaction", merchant=u.merchant)
    if suspect:
        return call("dispute_transaction", transaction_ref=suspect.transaction_id)
    if merchant := suspect_merchant(ctx):
        return call("dispute_transaction", merchant=merchant)
    if ctx.has("transfer_to_transactions"):
        return call("transfer_to_transactions", reason="dispute a charge", caller_needs="dispute")
    return say("which_to_dispute_merchant", Frame(kind="which_charge"))


def card_type(u: Understanding) -> str | None:
    """'My credit card', 'the amex': the card named by type (the tool matches it against
    the caller's cards), unless digits already say which one."""
    if u.card_last_four or u.card_hint not in _CARD_TYPES:
        return None
    return "american express" if u.card_hint == "americanexpress" else u.card_hint


def suspect_merchant(ctx: Context) -> str | None:
    """The merchant of the charge the caller is worried about: from the brief, or from
    their own words when no transaction could be matched yet."""
    if suspect := ctx.brief().suspect_transaction:
        return suspect.merchant
    asks = (Ask.SUSPICIOUS, Ask.DISPUTE)
    return next((u.merchant for u in reversed(ctx.heard) if wanted(u) in asks and u.merchant), None)


def single_listed_ref(ctx: Context) -> int | None:
    """The reference of the one charge the last listing read out ("dispute that"), if the
    caller has said nothing else since."""
    found = ctx.last_outcome(("get_transactions",))
    if found is None or ctx.user_messages_since_call("get_transactions")[:-1]:
        return None
    listed = parse_listing(found[1])
    return listed[0].ref if len(listed) == 1 and listed[0].is_charge else None


def transactions_call(u: Understanding) -> Reply:
    filtered = u.merchant or u.days_back or u.min_amount is not None
    count = MAX_COUNT if u.window else FILTERED_COUNT if filtered else None
    return call(
        "get_transactions",
        account=u.account or None,
        count=u.count or count,
        days_back=u.days_back,
        merchant=u.merchant,
        min_amount=u.min_amount,
    )


# -- the transactions desk: "which one?" over the charges read, and "more" ---------------------


def charge_purpose(ctx: Context) -> Ask | None:
    """SUSPICIOUS or DISPUTE when the caller's latest request was about a charge they
    haven't identified yet ("I want to report a fraudulent transaction")."""
    u = ctx.latest(_NOT_A_PICK)
    if u is not None:
        return u.ask if u.ask in (Ask.SUSPICIOUS, Ask.DISPUTE) and not u.merchant else None
    return {"suspicious_charge": Ask.SUSPICIOUS, "dispute": Ask.DISPUTE}.get(ctx.brief().need or "")


def _asked_which_listed(ctx: Context) -> Ask | None:
    frame = ctx.asked("pick_charge")
    if frame is None:
        return None
    return Ask.SUSPICIOUS if frame.purpose == "suspicious" else Ask.DISPUTE


def pick_frame(purpose: Ask) -> Frame:
    return Frame(
        kind="pick_charge", purpose="suspicious" if purpose is Ask.SUSPICIOUS else "dispute"
    )


def charge_question(purpose: Ask, sorry: bool = False) -> str:
    lead = "which_unrecognised" if purpose is Ask.SUSPICIOUS else "which_to_dispute"
    return line(lead) + " " + line("pick_hint_more" if sorry else "pick_hint")


def _listed_charge_follow_up(ctx: Context, u: Understanding) -> Reply | None:
    """The answer to 'which one don't you recognise?' after a listing."""
    purpose = _asked_which_listed(ctx)
    if purpose is None or not ctx.has("get_transactions") or u.ask not in _PICK_ANSWERS:
        return None
    if u.ask is Ask.NO and not NONE_OF_THEM.search(text_of(u)):
        return None
    return charge_to_card_security(ctx, purpose, u)


def charge_to_card_security(ctx: Context, purpose: Ask, u: Understanding) -> Reply:
    """At the transactions desk: the charge the caller means, handed to card security (which
    offers the lock and the dispute); or the question, or the listing to ask it over."""
    reason = (
        "caller does not recognise a charge" if purpose is Ask.SUSPICIOUS else "dispute a charge"
    )
    text, listed, asked = text_of(u), last_listing(ctx), _asked_which_listed(ctx)
    # "That trader joes one wasn't me" after the Lyft charge was read: a charge not read out,
    # which card security finds by its merchant; never the one that was.
    named = u.merchant if u.merchant and not re.match(r"\$?\d", u.merchant) else None
    elsewhere = named is not None and pick_charge(listed, named, by_position=False) is None
    picked: Listed | None = None
    if len(listed) == 1 and listed[0].is_charge and not asked and not elsewhere:
        picked = listed[0]  # "that wasn't me" right after one charge was read
    elif not elsewhere:
        picked = pick_charge(listed, text)
    if picked is None and listed and not asked and not elsewhere:
        # "what was that 389 dollar charge?" ... "I don't know what that is"
        before = ctx.user_messages_since_call("get_transactions", before_latest=True)[-1:]
        picked = pick_charge(listed, " ".join(before), by_position=False)
    if picked is not None and not picked.is_charge:
        question = charge_question(purpose)
        return say("money_in", pick_frame(purpose), what=picked.text, question=question)
    if picked is not None:
        return call("transfer_to_card_security", reason=reason, transaction_ref=picked.ref)
    if u.merchant and not re.match(r"\$?\d", u.merchant):
        return call("transfer_to_card_security", reason=reason, merchant=u.merchant)
    if asked or (listed and u.ask is Ask.UNKNOWN):
        if u.ask is Ask.MORE or NONE_OF_THEM.search(text):
            return more_transactions(ctx)
        if _READ_AGAIN.search(text):
            found = ctx.last_outcome(("get_transactions",))
            listing = found[2].strip() if found else ""
            question = charge_question(purpose)
            return Reply(text=f"Sure. {listing} {question}", frame=pick_frame(purpose))
        question = charge_question(purpose, sorry=True)
        return Reply(text=f"Sorry, I couldn't tell. {question}", frame=pick_frame(purpose))
    if listed:
        return Reply(text=charge_question(purpose), frame=pick_frame(purpose))
    return call("get_transactions", count=CHARGE_COUNT)


def more_transactions(ctx: Context) -> Reply:
    found = ctx.last_outcome(("get_transactions",))
    args = args_of(found[0]) if found else {}
    count = int(args.get("count") or 3)
    if found is not None and isinstance(found[1], Transactions) and not found[1].more:
        return Reply(text=f"{line('no_older')} {line('anything_else')}")
    if count >= MAX_COUNT:
        return say("read_them_all", Frame(kind="offer_person"), most=MAX_COUNT)
    args["count"] = min(MAX_COUNT, count + CHARGE_COUNT)
    return Reply(tool="get_transactions", arguments=args)


# -- follow-ups to the desk's own questions (read from the typed frame, never the words) --


def _card_follow_up(ctx: Context, u: Understanding) -> Reply | None:
    """'The visa', 'the one ending 7070', 'my credit card' after 'which card?' (or after a
    read-back, to switch cards)."""
    frame = ctx.asked("which_card", "confirm_card")
    found = ctx.last_outcome(CARD_WRITES)
    if frame is None or found is None or u.ask in _NOT_ABOUT_A_CARD:
        return None
    text, which, previous = text_of(u), frame.kind == "which_card", found[0]
    args = args_of(previous)
    listed = list(frame.cards) if which else []
    seen = {c.last_four for c in listed}
    cards = listed + [c for c in cards_mentioned(ctx) if c.last_four not in seen]
    last_four = choose_card(cards, u, text)
    if last_four is None and re.search(r"\bother\b", text, re.IGNORECASE):
        others = {c.last_four for c in cards} - {args.get("card_last_four")}
        last_four = others.pop() if len(others) == 1 else None
    everything = means_all_cards(text) or (u.ask is Ask.YES and all_cards_requested(ctx))
    if last_four is None and which and everything and len(listed) > 1:
        last_four = listed[0].last_four  # one at a time; the next follows once it's done
    if last_four is None and which:
        # Digits we have not heard read out: the tool checks the card is theirs.
        last_four = u.card_last_four or next((n for n in u.numbers if len(n) == 4), None)
    args.pop("confirm", None)
    if last_four is None and (named := card_type(u)) and (which or _SWITCH.search(text)):
        # "Actually no, the debit one": a card not read out here, named by its type; the
        # tool matches it against the caller's cards and reads it back.
        args.pop("card_last_four", None)
        return Reply(tool=previous.name, arguments={**args, "card_type": named})
    if last_four is None:
        unsure = (Ask.UNKNOWN, Ask.VERIFY, Ask.LIST_CARDS, Ask.YES, Ask.CARD_HELP)
        if u.ask not in unsure or not (which or u.card_hint):
            return None
        both = ", or 'both'" if len(listed) == 2 else ", or 'all of them'" if listed else ""
        again = Frame(kind="which_card", tool=previous.name, cards=frame.cards)
        return say("which_card_again", again, both=both)
    if not which and last_four == args.get("card_last_four") and YES.search(normalise(text)):
        return _on_yes(ctx)
    return Reply(tool=previous.name, arguments={**args, "card_last_four": last_four})


def _charge_follow_up(ctx: Context, u: Understanding) -> Reply | None:
    """The merchant name after 'which charge?'."""
    if ctx.asked("which_charge") is None or not ctx.has("dispute_transaction"):
        return None
    if u.ask not in (Ask.UNKNOWN, Ask.DISPUTE, Ask.SUSPICIOUS, Ask.TRANSACTIONS):
        return None
    name = re.sub(
        r"(?i)\b(?:the|one|charge|from|at|it's|it was|it is|that|please)\b", " ", text_of(u)
    )
    name = " ".join(re.sub(r"[^\w&' -]", " ", name).split())
    merchant = u.merchant or (name[:40] if 2 <= len(name) <= 40 else None)
    return call("dispute_transaction", merchant=merchant) if merchant else None


def also_offer(ctx: Context, tool: str, card_changed: bool = False) -> Other | None:
    """'My balance and my last transactions': one desk answers, then offers the other."""
    if tool in CARD_WRITES and card_changed:
        asked = next((u for u in reversed(ctx.heard) if u.ask in CARD_ACTIONS), None)
        # "my debit card" names a card and "dispute the charge" a charge, not a listing.
        said = _CARD_KIND.sub(" ", text_of(asked)) if asked else ""
        return (
            "balance" if BALANCE.search(said) else "transactions" if _LISTING.search(said) else None
        )
    said = normalise(ctx.last_of_role("user") or "")
    if not (BALANCE.search(said) and TRANSACTIONS.search(said)):
        return None
    if tool == "get_balance" and ctx.has("transfer_to_transactions"):
        return "transactions"
    return "balance" if tool == "get_transactions" and ctx.has("transfer_to_balance") else None


def _on_yes(ctx: Context) -> Reply:
    frame = ctx.frame()
    kind = frame.kind if frame is not None else None
    if frame is not None and kind == "offer_also":
        ask = Ask(frame.then or "transactions")
        asks = (ask, Ask.BALANCE, Ask.TRANSACTIONS)
        asked = next((u for u in reversed(ctx.heard) if u.ask in asks), None)
        return route(ctx, replace(asked, ask=ask) if asked else Understanding(ask))
    found = ctx.last_outcome((*CARD_WRITES, "dispute_transaction"))
    if kind in ("confirm_card", "confirm_dispute") and found is not None:
        return Reply(tool=found[0].name, arguments={**args_of(found[0]), "confirm": True})
    if kind == "offer_dispute" and ctx.has("dispute_transaction"):
        return dispute(ctx, Understanding(Ask.DISPUTE))
    if frame is not None and kind == "offer_unlock" and len(frame.cards) == 1:
        if ctx.has("unlock_card"):
            return call("unlock_card", card_last_four=frame.cards[0].last_four)
    if kind == "offer_person" and ctx.has("transfer_to_human"):
        return call("transfer_to_human", reason="caller accepted the offer of a person")
    if kind == "menu":
        return say("which_of_menu", Frame(kind="menu"))
    if frame is not None and not frame.yes_no:  # "which one?" is still open: ask it again
        return Reply(text=question_again(ctx, frame), frame=frame)
    return say("what_to_do")


def _on_no(ctx: Context) -> Reply:
    frame = ctx.frame()
    kind = frame.kind if frame is not None else None
    if kind in ("confirm_dispute", "offer_dispute"):
        return say("no_dispute")
    merchant = suspect_merchant(ctx)
    if frame is not None and kind == "confirm_card" and frame.tool == "lock_card" and merchant:
        if ctx.has("dispute_transaction") and not ctx.last_outcome(("dispute_transaction",)):
            offer = Frame(kind="offer_dispute", merchant=merchant)
            return say("not_locked_dispute_instead", offer, merchant=merchant)
    no = {"confirm_card": "card_unchanged", "which_card": "card_unchanged",
          "offer_unlock": "left_locked", "credentials": "no_credentials",
          "offer_also": "okay_anything_else", "offer_person": "okay_anything_else"}  # fmt: skip
    if kind in no:  # a no to the offer, not to the call
        return say(no[kind])
    return route(ctx, Understanding(Ask.GOODBYE))


# -- keeping a pending question alive when the caller goes off-script --------------------------


def question_again(ctx: Context, frame: Frame) -> str:
    """The frame's question as said. An unlock offer names its card before the question, and
    a request ("tell me the last four digits") has no question mark: the whole line, then."""
    if frame.kind == "offer_unlock" or not frame.question:
        return ctx.last_of_role("assistant") or frame.question
    return frame.question


def is_off_script(u: Understanding, frame: Frame | None) -> bool:
    """A turn that answers no pending question: asked again rather than dropped. A "why"
    is about the question pending ("why do you need to lock it?") only where one is;
    otherwise it is a request of its own ("why was my card declined?")."""
    why = bool(_WHY.search(text_of(u)))
    return u.ask in _OFF_SCRIPT or (
        why and frame is not None and frame.kind in ("confirm_card", "offer_unlock", "credentials")
    )


def off_script_prefix(u: Understanding, action: str = "") -> str:
    if _WHY.search(text_of(u)):
        return line(f"why_{action}") + " " if f"why_{action}" in LINES else ""
    key = {Ask.ABOUT: "about_me", Ask.THANKS: "welcome_short", Ask.REPEAT: "sure"}.get(u.ask)
    return line(key or "sorry_missed") + " "


def _recover(ctx: Context, u: Understanding) -> Reply | None:
    """An off-script turn while a question is pending: ask it again, with the same frame. A
    card read-back is asked again by calling the card tool again (its yes must come on the
    very next turn, which agents/card_security.py enforces)."""
    frame = ctx.frame()
    if not is_off_script(u, frame):
        return None
    read_back = ctx.asked("confirm_card")
    found = ctx.last_outcome((read_back.tool,)) if read_back and read_back.tool else None
    if found is not None:
        args = args_of(found[0])
        args.pop("confirm", None)
        return Reply(tool=found[0].name, arguments=args)
    why = bool(_WHY.search(text_of(u)))
    if why and frame is not None and frame.kind == "credentials":
        return say("why_verify", frame)
    if u.ask is Ask.REPEAT:
        last = ctx.last_of_role("assistant") or ""
        return Reply(text=f"Sure. {last}" if last else line("how_can_i_help"), frame=frame)
    if frame is None or u.ask in (Ask.GREETING, Ask.MORE):
        return None
    question = question_again(ctx, frame)
    if why:
        locked = line("why_locked") + " " if frame.kind == "offer_unlock" else ""
        return Reply(text=f"{locked}{question}", frame=frame)
    if u.ask is Ask.UNKNOWN:
        if not frame.yes_no:
            return None  # "which card?"-style questions have their own follow-ups
        if u.card_hint and frame.cards:  # "what about the amex?" while its unlock is offered
            return Reply(text=question, frame=frame)
        return Reply(text=f"{line('sorry_missed')} {question} Just say yes or no.", frame=frame)
    return Reply(text=f"{off_script_prefix(u)}{question}", frame=frame)
