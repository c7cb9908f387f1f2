"""The offline model's answer to one caller turn: call a tool, or say one short line."""

from __future__ import annotations

import json
import re
from typing import Any, Literal, get_args

from agents.registry import owner_of
from handoffs.graph import next_hop, transfer_tool_name
from shared_state import Need
from tools.money import format_cents
from tools.outcomes import Balance

from .intents import INTENTS, Intent
from .offline_charges import (
    MAX_COUNT,
    NONE_OF_THEM,
    asked_which_listed,
    charge_to_card_security,
    more_transactions,
    parse_listing,
)
from .offline_context import Context
from .offline_dialog import (
    all_cards_requested,
    cards_mentioned,
    cards_of_views,
    choose_card,
    collect_credentials,
    means_all_cards,
)
from .offline_frames import Frame
from .offline_nlu import BALANCE, TRANSACTIONS, YES, Ask, Understanding, understand
from .offline_recovery import ABOUT_ME, forgot_pin, question_again, recover
from .offline_reply import Reply, call
from .offline_text import normalise

CARD_WRITES = ("lock_card", "unlock_card", "report_card_lost_or_stolen")
# "Yes, lock it", "yes thanks", "yes please dispute it": still a yes to the question asked.
_YES_WITH_WORDS = (Ask.LOCK, Ask.UNLOCK, Ask.LOST, Ask.STOLEN, Ask.THANKS, Ask.DISPUTE)
_ANSWERED_WITH_WORDS = ("confirm_card", "confirm_dispute", "offer_unlock", "offer_dispute")
_NOT_ABOUT_A_CARD = (
    Ask.HUMAN, Ask.NO, Ask.GOODBYE, Ask.SOMETHING_ELSE, Ask.BALANCE, Ask.INJECTION,
    Ask.SUSPICIOUS, Ask.DISPUTE,
)  # fmt: skip
_DATA_ASKS = (
    Ask.BALANCE, Ask.TRANSACTIONS, Ask.LOCK, Ask.UNLOCK, Ask.LOST, Ask.STOLEN,
    Ask.SUSPICIOUS, Ask.LIST_CARDS, Ask.DISPUTE,
)  # fmt: skip
ANYTHING_ELSE = "Is there anything else I can help with?"
FILTERED_COUNT = 10  # "over $100", "at Amazon", "this month": read more than the default three


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
    if (card_reply := _card_follow_up(ctx, u, text)) is not None:
        return card_reply
    if (charge_reply := _charge_follow_up(ctx, u, text)) is not None:
        return charge_reply
    if (listed_reply := _listed_charge_follow_up(ctx, u)) is not None:
        return listed_reply
    frame = ctx.frame()
    if u.ask is Ask.YES or (
        frame is not None
        and frame.kind in _ANSWERED_WITH_WORDS
        and u.ask in _YES_WITH_WORDS
        and YES.search(normalise(text))
    ):
        return _on_yes(ctx)
    if (again := recover(ctx, u)) is not None:
        return again
    if u.ask is Ask.THANKS:
        return Reply(text=f"You're welcome. {ANYTHING_ELSE}")
    if u.ask is Ask.ABOUT:
        return Reply(text=f"{ABOUT_ME} What can I do for you?")
    if u.ask is Ask.REPEAT:
        return Reply(text="How can I help you today?")
    if u.ask is Ask.NO:
        return _on_no(ctx)
    return route(ctx, u)


def out_of_scope(ctx: Context, topic: str) -> Reply:
    """Not something this desk (or any desk on this line) does: say so, offer a person."""
    intent = INTENTS.get(topic)
    cannot = intent.answer if intent is not None and intent.answer else "I can't do that here"
    offer = person_offer(ctx, "with that")
    return Reply(
        text=f"Sorry, {cannot}: I can help with your balance, your transactions and your "
        f"cards. {offer.text}",
        frame=offer.frame,
    )


def person_offer(ctx: Context, about: str) -> Reply:
    """A person, offered only where accepting can work: a call back needs a verified caller
    (handoffs/escalation.py), so anyone else hears the number to call instead."""
    if ctx.has("transfer_to_human") and ctx.is_verified():
        return Reply(
            text=f"I can connect you with a person who can help {about}: would you like that?",
            frame=Frame(kind="offer_person"),
        )
    return Reply(
        text=f"To speak with a person {about}, please call the number on the back of your card."
    )


def explain_balance(ctx: Context) -> Reply:
    """'Why is it different?' after a balance reading: pending transactions, from the numbers
    read out (the Balance outcome), or read them first."""
    found = ctx.last_outcome(("get_balance",))
    if found is not None and isinstance(found[1], Balance):
        return Reply(text=f"{why_balances_differ(found[1])} {ANYTHING_ELSE}")
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
        return (
            "Your available balance is what you can spend right now; it is lower than the "
            "current balance only while transactions are pending, and none are pending now."
        )
    parts = [
        f"on your {a.kind.replace('_', ' ')} account ending {a.last_four}, "
        f"{format_cents(abs(a.ledger_cents - a.available_cents))} of pending transactions is "
        "already set aside, so the "
        f"available balance, {format_cents(a.available_cents)}, is what you can spend now, while "
        f"the current balance, {format_cents(a.ledger_cents)}, counts only what has posted"
        for a in held
    ]
    return (
        "The difference is pending transactions: "
        + "; ".join(parts)
        + ". Once they post, usually within a few days, the two balances match again."
    )


def _listed_charge_follow_up(ctx: Context, u: Understanding) -> Reply | None:
    """The answer to 'which one don't you recognise?' after a listing."""
    purpose = asked_which_listed(ctx)
    if purpose is None or not ctx.has("get_transactions"):
        return None
    if u.ask is Ask.NO and not NONE_OF_THEM.search(text_of(u)):
        return None
    if u.ask in _PICK_ANSWERS:
        return charge_to_card_security(ctx, purpose, u)
    return None


_PICK_ANSWERS = (
    Ask.UNKNOWN, Ask.MORE, Ask.SUSPICIOUS, Ask.DISPUTE, Ask.TRANSACTIONS, Ask.YES, Ask.NO,
    Ask.VERIFY,
)  # fmt: skip


def route(ctx: Context, u: Understanding) -> Reply:
    ask = u.ask
    if ask is Ask.INJECTION:
        return _refuse(ctx, u)
    if ask is Ask.VERIFY:
        return _verify(ctx)
    if ask is Ask.SUSPICIOUS:
        return _suspicious(ctx, u)
    if ask is Ask.CARD_HELP and _REPLACEMENT.search(normalise(text_of(u))):
        return Reply(text=_REPLACEMENT_HELP, frame=Frame(kind="offer_person"))
    if ask is Ask.CARD_HELP:
        if ctx.has("list_cards"):
            return Reply(
                text="Sure. I can list your cards, lock or unlock one, report one lost or "
                "stolen, or dispute a charge. What would you like to do?"
            )
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
        return Reply(
            text="Of course. What else can I help you with: your balance, recent "
            "transactions, or a card?"
        )
    if ask is Ask.GOODBYE:
        if ctx.has("transfer_to_greeter"):
            return call(
                "transfer_to_greeter",
                reason="caller is finished with this desk",
                caller_needs="nothing_more",
            )
        if ctx.has("end_call"):  # the console demo: the goodbye follows the tool, then it ends
            return call("end_call")
        return Reply(text="Thank you for calling Northwind Bank. Goodbye, and take care!")
    if ask is Ask.THIRD_PARTY:
        own = "your own accounts" if ctx.is_verified() else "the account holder, once verified"
        return Reply(
            text="I'm sorry, for privacy I can only help with " + own + ": I can't share or "
            "change anything on someone else's account, even a family member's. They're "
            "welcome to call us themselves. What can I do for you?"
        )
    if ask is Ask.ACCOUNT_HELP:
        return Reply(
            text="I'm sorry to hear that. Let's look into it: is it about your balance, a "
            "transaction you don't recognise, or one of your cards?"
        )
    if ask is Ask.UNKNOWN and u.card_hint and ctx.has("lock_card") and u.account != "savings":
        return Reply(
            text="What would you like to do with that card: lock or unlock it, report it "
            "lost or stolen, or check its status?"
        )
    if ask is Ask.UNKNOWN and u.account:
        # "what about savings", "and the credit card?": this desk's answer for that account.
        if ctx.has("get_balance"):
            return call("get_balance", account=u.account)
        if ctx.has("get_transactions"):
            return transactions_call(u)
        if ctx.has("transfer_to_balance"):
            return _transfer_towards(ctx, "balance", f"{u.account} balance")
    if ask is Ask.GREETING:
        return Reply(
            text="Hi! I can help with your balance, your recent transactions, or a card. "
            "Which would you like?",
            frame=Frame(kind="menu"),
        )
    return Reply(text=clarify(ctx))


def desk_of(ask: Ask) -> str | None:
    """The desk whose tools serve this ask (the intent table's tool, and the graph)."""
    if ask is Ask.CARD_HELP:
        return "card_security"
    intent = INTENTS.get(ask.value)
    return owner_of(intent.tool) if intent is not None and intent.tool else None


def _serve(ctx: Context, u: Understanding, intent: Intent) -> Reply:
    """Routing from the intent table and the handoff graph: this desk calls the intent's tool
    when it has it, otherwise the call goes one hop toward the desk that owns the tool."""
    tool = intent.tool or ""
    if not ctx.has(tool):
        desk = owner_of(tool)
        if desk is None:
            return Reply(text=clarify(ctx))
        # The table's first example says what is needed; a lost or stolen card is about the
        # card, not the one charge just read out ("my wallet was stolen").
        about_charge = intent.name not in ("lost", "stolen")
        return _transfer_towards(
            ctx,
            desk,
            intent.examples[0],
            account=u.account,
            charge=about_charge,
            need=_NEED_OF_INTENT.get(intent.name, intent.name),
        )
    if intent.name == "balance_why":
        return explain_balance(ctx)
    if tool == "get_balance":
        return call(tool, account=u.account or "all")
    if tool == "get_transactions":
        return transactions_call(u)
    if tool in ("lock_card", "unlock_card"):
        last_four = u.card_last_four or _suspect_card(ctx, u)
        return call(tool, card_last_four=last_four, card_type=card_type(u))
    if tool == "report_card_lost_or_stolen":
        return call(tool, card_last_four=u.card_last_four, kind=intent.name, card_type=card_type(u))
    if tool == "transfer_to_human":
        return call(tool, reason="caller asked for a person")
    return call(tool)  # list_cards: no slots


_REPLACEMENT = re.compile(
    r"\b(?:new|replacement|replace|damaged|broken|cracked|snapped|bent|worn|expired|expiring)\b",
    re.IGNORECASE,
)
_REPLACEMENT_HELP = (
    "I can't order a replacement for a damaged or expiring card on this line. If the card "
    "was lost or stolen, just say so and I'll block it and send a replacement right now. "
    "Otherwise I can connect you with a person who can: would you like that?"
)


def text_of(u: Understanding) -> str:
    return u.extras.get("text", "")


def clarify(ctx: Context) -> str:
    if ctx.has("get_balance"):
        return (
            "Sorry, I didn't catch that. I can read you your balances: all accounts, or "
            "just checking, savings or your credit card. Or say 'something else'."
        )
    if ctx.has("get_transactions"):
        return (
            "Sorry, I didn't catch that. I can read your recent transactions, filter by "
            "merchant, days or amount, or help with a charge you don't recognise."
        )
    if ctx.has("lock_card"):
        return (
            "Sorry, I didn't catch that. I can list your cards, lock or unlock a card, "
            "report one lost or stolen, or dispute a charge."
        )
    return (
        "Sorry, I didn't catch that. I can help with your balance, recent transactions, "
        "or card security. Which would you like?"
    )


def _refuse(ctx: Context, u: Understanding) -> Reply:
    if not ctx.is_verified():
        # Let the handoff policy refuse (and audit) the data request too: the caller's
        # claim changes nothing, verification is checked in code.
        targets = {Ask.BALANCE: "balance", Ask.TRANSACTIONS: "transactions"}
        target = targets.get(u.then) if u.then else None
        if target and ctx.has(f"transfer_to_{target}"):
            return call(f"transfer_to_{target}", reason="caller request (unverified claims)")
        return Reply(text=INJECTION_REFUSAL + " " + VERIFY_FIRST)
    return Reply(
        text=INJECTION_REFUSAL + " On this call I can only help with your own accounts. "
        "What else can I do for you?"
    )


INJECTION_REFUSAL = (
    "I can't do that: I can't change how I work or who I'm speaking with because of "
    "something said on the call."
)
VERIFY_FIRST = (
    "I can only help with your own accounts, once you're verified with your customer "
    "number and PIN."
)


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
    tool = transfer_tool_name(desk)
    hop = next_hop(ctx, desk)
    need = need if need in get_args(Need) else desk
    if hop == desk:
        args: dict[str, Any] = {"reason": reason, "caller_needs": need}
        if desk == "balance" and account:
            args["account"] = account  # the desk reads that account on taking over
        if desk == "card_security" and merchant:
            args["merchant"] = merchant
        elif desk == "card_security" and charge and (ref := single_listed_ref(ctx)) is not None:
            args["transaction_ref"] = ref  # "dispute that" right after one charge was read
        return Reply(tool=tool, arguments=args)
    if hop is not None:  # the neighbour nearer to it re-triages (the greeter, on a tie)
        return call(transfer_tool_name(hop), reason=f"caller needs: {reason}", caller_needs=need)
    return Reply(text=clarify(ctx))


_NEED_OF_INTENT = {"suspicious": "suspicious_charge", "balance_why": "balance"}


def _verify(ctx: Context) -> Reply:
    if not ctx.has("verify_identity"):
        return Reply(
            text="You're already verified on this call, so there's no need to share "
            "your PIN again. What can I help with?"
        )
    found = collect_credentials(ctx)
    if found.ambiguous:
        return Reply(
            text="I heard more than one customer number there. I can only help with your own "
            "accounts: please tell me just your customer number and your PIN."
        )
    if found.customer_number and found.pin:
        return call("verify_identity", customer_number=found.customer_number, pin=found.pin)
    if found.customer_number:
        return Reply(text="Thanks. And your PIN, please?", frame=_CREDENTIALS)
    if found.pin:
        return Reply(text="Thanks. And your customer number, please?", frame=_CREDENTIALS)
    return Reply(text="Please tell me your customer number and your PIN.", frame=_CREDENTIALS)


_CREDENTIALS = Frame(kind="credentials")


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
        return call(
            "transfer_to_transactions",
            reason="caller does not recognise a charge",
            caller_needs="suspicious_charge",
        )
    return Reply(
        text="I'm sorry to hear that. Which charge don't you recognise? Tell me the merchant name.",
        frame=Frame(kind="which_charge"),
    )


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
    return Reply(
        text="Which charge would you like to dispute? Tell me the merchant name.",
        frame=Frame(kind="which_charge"),
    )


_CARD_TYPES = (
    "visa", "mastercard", "amex", "americanexpress", "discover", "debit", "credit",
)  # fmt: skip


def card_type(u: Understanding) -> str | None:
    """'My credit card', 'the amex': the card named by type (the tool matches it against
    the caller's cards), unless digits already say which one."""
    if u.card_last_four or u.card_hint not in _CARD_TYPES:
        return None
    return "american express" if u.card_hint == "americanexpress" else u.card_hint


def _suspect_card(ctx: Context, u: Understanding) -> str | None:
    """'Lock it too' after disputing the charge this desk was handed: that charge's card."""
    suspect = ctx.brief().suspect_transaction
    if u.ask is Ask.LOCK and not u.card_hint and suspect:
        return suspect.card_last_four
    return None


def suspect_merchant(ctx: Context) -> str | None:
    """The merchant of the charge the caller is worried about: from the brief, or from
    their own words when no transaction could be matched yet."""
    if suspect := ctx.brief().suspect_transaction:
        return suspect.merchant
    for text in reversed(ctx.user_messages()):
        u = understand(text)
        ask = u.then if u.ask is Ask.VERIFY else u.ask
        if ask in (Ask.SUSPICIOUS, Ask.DISPUTE) and u.merchant:
            return u.merchant
    return None


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
        account=u.account if u.account else None,
        count=u.count or count,
        days_back=u.days_back,
        merchant=u.merchant,
        min_amount=u.min_amount,
    )


# -- follow-ups to the desk's own questions (read from the typed frame, never the words) --


def _card_follow_up(ctx: Context, u: Understanding, text: str) -> Reply | None:
    """'The visa', 'the one ending 7070', 'my credit card' after 'which card?' (or after a
    read-back, to switch cards)."""
    frame = ctx.asked("which_card", "confirm_card")
    if frame is None or u.ask in _NOT_ABOUT_A_CARD:
        return None
    which = frame.kind == "which_card"
    found = ctx.last_call(CARD_WRITES)
    if found is None:
        return None
    previous, _ = found
    args = json.loads(previous.arguments or "{}")
    listed = cards_of_views(frame.cards) if which else []
    cards = listed + [c for c in cards_mentioned(ctx) if c not in listed]
    last_four = choose_card(cards, u, normalise(text))
    if last_four is None and re.search(r"\bother\b", text, re.IGNORECASE):
        others = {c.last_four for c in cards} - {args.get("card_last_four")}
        last_four = others.pop() if len(others) == 1 else None
    everything = means_all_cards(text) or (u.ask is Ask.YES and all_cards_requested(ctx))
    if last_four is None and which and everything and len(listed) > 1:
        last_four = listed[0].last_four  # one at a time; the next follows once it's done
    if last_four is None and which:
        # Digits we have not heard read out: the tool checks the card is theirs.
        last_four = u.card_last_four or next((n for n in u.numbers if len(n) == 4), None)
    if last_four is None and (named := card_type(u)) and (which or _SWITCH.search(text)):
        # "Actually no, the debit one": a card not read out here, named by its type; the
        # tool matches it against the caller's cards and reads it back.
        args.pop("card_last_four", None)
        args.pop("confirm", None)
        return Reply(tool=previous.name, arguments={**args, "card_type": named})
    if last_four is None:
        if u.ask in (Ask.UNKNOWN, Ask.VERIFY, Ask.LIST_CARDS, Ask.YES, Ask.CARD_HELP) and (
            which or u.card_hint
        ):
            both = ", or 'both'" if len(listed) == 2 else ", or 'all of them'" if listed else ""
            return Reply(
                text="Sorry, which card do you mean? You can say its last four digits, "
                f"or for example 'the debit card'{both}.",
                frame=Frame(kind="which_card", tool=previous.name, cards=frame.cards),
            )
        return None
    if not which and last_four == args.get("card_last_four") and YES.search(normalise(text)):
        return _on_yes(ctx)
    args["card_last_four"] = last_four
    args.pop("confirm", None)
    return Reply(tool=previous.name, arguments=args)


def _charge_follow_up(ctx: Context, u: Understanding, text: str) -> Reply | None:
    """The merchant name after 'which charge?'."""
    if ctx.asked("which_charge") is None or not ctx.has("dispute_transaction"):
        return None
    if u.ask not in (Ask.UNKNOWN, Ask.DISPUTE, Ask.SUSPICIOUS, Ask.TRANSACTIONS):
        return None
    merchant = u.merchant or _bare_name(text)
    return call("dispute_transaction", merchant=merchant) if merchant else None


def _bare_name(text: str) -> str | None:
    name = re.sub(r"(?i)\b(?:the|one|charge|from|at|it's|it was|it is|that|please)\b", " ", text)
    name = " ".join(re.sub(r"[^\w&' -]", " ", name).split())
    return name[:40] if 2 <= len(name) <= 40 else None


Other = Literal["balance", "transactions"]


def also_offer(ctx: Context, tool: str, card_changed: bool = False) -> Other | None:
    """'My balance and my last transactions': one desk answers, then offers the other."""
    said = normalise(ctx.last_of_role("user") or "")
    if tool in CARD_WRITES and card_changed:
        asked = next(
            (
                t
                for t in reversed(ctx.user_messages())
                if understand(t).ask in (Ask.LOCK, Ask.UNLOCK, Ask.LOST, Ask.STOLEN)
            ),
            "",
        )
        # "my debit card" names a card and "dispute the charge" a charge, not a listing.
        asked = _CARD_KIND.sub(" ", normalise(asked))
        if BALANCE.search(asked):
            return "balance"
        return "transactions" if _LISTING.search(asked) else None
    if not (BALANCE.search(said) and TRANSACTIONS.search(said)):
        return None
    if tool == "get_balance" and ctx.has("transfer_to_transactions"):
        return "transactions"
    if tool == "get_transactions" and ctx.has("transfer_to_balance"):
        return "balance"
    return None


_SWITCH = re.compile(
    r"\b(?:no|not|actually|instead|rather|other|sorry|i mean|i meant|wait)\b", re.IGNORECASE
)
_CARD_KIND = re.compile(r"\b(?:debit|credit)\b", re.IGNORECASE)
_LISTING = re.compile(
    r"\b(?:transactions|statement|history|activity|spending|recent (?:charges|payments))\b",
    re.IGNORECASE,
)


def then_words(other: Other) -> str:
    return "recent transactions" if other == "transactions" else "balance"


def _also_request(ctx: Context, ask: Ask) -> Understanding:
    for said in reversed(ctx.user_messages()):
        u = understand(said)
        if u.ask in (ask, Ask.BALANCE, Ask.TRANSACTIONS):
            u.ask = ask
            return u
    return Understanding(ask)


def _on_yes(ctx: Context) -> Reply:
    frame = ctx.frame()
    kind = frame.kind if frame is not None else None
    if frame is not None and frame.kind == "offer_also":
        return route(ctx, _also_request(ctx, Ask(frame.then or "transactions")))
    if kind in ("confirm_card", "confirm_dispute"):
        found = ctx.last_call((*CARD_WRITES, "dispute_transaction"))
        if found is not None:
            previous, _ = found
            args = json.loads(previous.arguments or "{}")
            args["confirm"] = True
            return Reply(tool=previous.name, arguments=args)
    if kind == "offer_dispute" and ctx.has("dispute_transaction"):
        return dispute(ctx, Understanding(Ask.DISPUTE))
    if frame is not None and kind == "offer_unlock" and len(frame.cards) == 1:
        if ctx.has("unlock_card"):
            return call("unlock_card", card_last_four=frame.cards[0].last_four)
    if kind == "offer_person" and ctx.has("transfer_to_human"):
        return call("transfer_to_human", reason="caller accepted the offer of a person")
    if kind == "menu":
        return Reply(
            text="Sure. Which would you like: your balance, your recent transactions, "
            "or help with a card?",
            frame=Frame(kind="menu"),
        )
    if frame is not None and not frame.yes_no:  # "which one?" is still open: ask it again
        return Reply(text=question_again(ctx, frame), frame=frame)
    return Reply(text="Okay. What would you like me to do?")


def _on_no(ctx: Context) -> Reply:
    frame = ctx.frame()
    kind = frame.kind if frame is not None else None
    if kind in ("confirm_dispute", "offer_dispute"):
        return Reply(text=f"Okay, I won't open a dispute. {ANYTHING_ELSE}")
    if frame is not None and kind in ("confirm_card", "which_card"):
        merchant = suspect_merchant(ctx)
        if (
            kind == "confirm_card"
            and frame.tool == "lock_card"
            and merchant
            and ctx.has("dispute_transaction")
            and not ctx.last_call(("dispute_transaction",))
        ):
            return Reply(
                text="Okay, I haven't locked the card. Would you like me to open a dispute "
                f"for the {merchant} charge instead?",
                frame=Frame(kind="offer_dispute", merchant=merchant),
            )
        return Reply(text=f"Okay, I haven't changed anything on the card. {ANYTHING_ELSE}")
    if kind == "offer_unlock":
        return Reply(text=f"Okay, I'll leave it locked. {ANYTHING_ELSE}")
    if kind == "credentials":
        return Reply(
            text="No problem. I can only share account details with the account holder, "
            f"once they're verified. {ANYTHING_ELSE}"
        )
    if kind in ("offer_also", "offer_person"):
        return Reply(text=f"Okay. {ANYTHING_ELSE}")  # a no to the offer, not to the call
    return route(ctx, Understanding(Ask.GOODBYE))
