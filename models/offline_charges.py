"""Which listed charge the caller means, and reading further back, for the offline model.

"The ZX Electronics one", "the big one", "the 389 dollar one", "the second one": resolved
against the charges the transactions desk just read out (get_transactions output), never
against anything the model made up. "More" / "older ones" reads the next ones."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date

from livekit.agents import llm

from agents.render import describe_transaction, say
from tools.outcomes import AnyOutcome, Transactions

from .offline_context import Context, outcome_of
from .offline_frames import Frame
from .offline_nlu import Ask, Understanding, understand
from .offline_reply import Reply, call

_ORDINALS = {
    "first": 0, "1st": 0, "top": 0, "second": 1, "2nd": 1, "third": 2, "3rd": 2,
    "fourth": 3, "4th": 3, "fifth": 4, "5th": 4,
}  # fmt: skip
_ORDINAL_WORDS = re.compile(r"\b(" + "|".join(_ORDINALS) + r")\b", re.IGNORECASE)
_LAST = re.compile(r"\b(?:last|bottom) one\b|\bthe last\b", re.IGNORECASE)
_BIG = re.compile(
    r"\b(?:big(?:gest)?|large(?:st)?|huge|most expensive|expensive|highest|massive)\b",
    re.IGNORECASE,
)
_SMALL = re.compile(r"\b(?:small(?:est)?|little|cheap(?:est)?|lowest|tiny)\b", re.IGNORECASE)
_AMOUNT = re.compile(r"(?<![\w.])\$?(\d{1,3}(?:,\d{3})*|\d+)(?:\.(\d{1,2}))?(?![\d])")
_GENERIC = frozenset(
    {"the", "and", "of", "online", "market", "inc", "co", "corp", "store", "shop", "from",
     "transfer", "payroll", "coffee", "hotels", "air", "lines", "apartments", "city"}
)  # fmt: skip


@dataclass(frozen=True)
class Listed:
    ref: int
    merchant: str
    cents: int  # positive magnitude
    is_charge: bool
    text: str


def parse_listing(outcome: AnyOutcome | None) -> list[Listed]:
    """The charges a get_transactions outcome holds, in the order they were read."""
    if not isinstance(outcome, Transactions):
        return []
    return [
        Listed(t.ref, t.merchant, abs(t.amount_cents), t.amount_cents < 0, describe_transaction(t))
        for t in outcome.items
    ]


def _refs(item: llm.ChatItem) -> set[int]:
    return {x.ref for x in parse_listing(outcome_of(item))}


def last_listing(ctx: Context) -> list[Listed]:
    """The charges this desk read out last (empty when it read none)."""
    found = ctx.last_outcome(("get_transactions",))
    if found is None:
        return []
    listed = parse_listing(found[1])
    # After "more", the caller heard only the ones not read before: "the second one" of those.
    earlier: set[int] = set()
    for item in ctx.items:
        if item.type == "function_call" and item is found[0]:
            break
        if item.type == "function_call_output":
            earlier.update(_refs(item))
    return [x for x in listed if x.ref not in earlier] or listed


def pick_charge(listed: list[Listed], text: str, *, by_position: bool = True) -> Listed | None:
    """The one listed transaction the caller's words point to, or None."""
    if not listed:
        return None
    lowered = text.lower()
    by_name = [x for x in listed if _names(x.merchant, lowered)]
    if len(by_name) == 1:
        return by_name[0]
    by_amount = [x for x in listed if any(_same_amount(x.cents, c) for c in _amounts(lowered))]
    if len(by_amount) == 1:
        return by_amount[0]
    if not by_position:
        return None
    if m := _ORDINAL_WORDS.search(lowered):
        index = _ORDINALS[m.group(1)]
        return listed[index] if index < len(listed) else None
    if _LAST.search(lowered):
        return listed[-1]
    charges = [x for x in listed if x.is_charge]
    if charges and _BIG.search(lowered):
        return max(charges, key=lambda x: x.cents)
    if charges and _SMALL.search(lowered):
        return min(charges, key=lambda x: x.cents)
    return None


def _names(merchant: str, lowered: str) -> bool:
    name = merchant.lower()
    if name in lowered:
        return True
    words = [w for w in re.findall(r"[a-z0-9&']+", name) if w not in _GENERIC and len(w) >= 2]
    return any(re.search(rf"(?<![\w']){re.escape(w)}(?![\w'])", lowered) for w in words)


def _amounts(lowered: str) -> list[int]:
    found = []
    for m in _AMOUNT.finditer(lowered):
        whole = int(m.group(1).replace(",", ""))
        cents = int((m.group(2) or "0").ljust(2, "0"))
        found.append(whole * 100 + cents)
    return found


def _same_amount(listed_cents: int, said_cents: int) -> bool:
    if said_cents % 100:  # "389.99": exact
        return listed_cents == said_cents
    # "389 dollars" or "390 dollars" for $389.99
    return listed_cents // 100 == said_cents // 100 or round(listed_cents / 100) * 100 == said_cents


def unread(output: AnyOutcome | None, already: set[int]) -> list[Listed]:
    return [x for x in parse_listing(output) if x.ref not in already]


# -- the transactions desk: "which one?" and "more" ----------------------------------------

WHICH_UNRECOGNISED = "Which one don't you recognise?"
WHICH_TO_DISPUTE = "Which one would you like to dispute?"
_PICK_HINT = "You can say the merchant, the amount, or 'the second one'."
_MORE_HINT = "or say 'more' to hear older ones."
CHARGE_COUNT = 5  # read this many when the caller hasn't said which charge
MAX_COUNT = 20
_PURPOSES = (Ask.SUSPICIOUS, Ask.DISPUTE)
_SKIP = (Ask.VERIFY, Ask.UNKNOWN, Ask.YES, Ask.MORE, Ask.REPEAT, Ask.THANKS, Ask.ABOUT)
NONE_OF_THEM = re.compile(
    r"\b(?:none of (?:them|those|these)|not (?:in )?(?:there|those|these|that list|any of)|"
    r"(?:it'?s|it was|was) (?:older|earlier|before that)|neither)\b",
    re.IGNORECASE,
)


_READ_AGAIN = re.compile(
    r"\b(?:read (?:them|those|it|that|me)|again|repeat|what (?:are|were) (?:they|those|the)|"
    r"which ones|list them|remind me|don'?t (?:know|remember) which)\b",
    re.IGNORECASE,
)


def charge_purpose(ctx: Context) -> Ask | None:
    """SUSPICIOUS or DISPUTE when the caller's latest request was about a charge they
    haven't identified yet ("I want to report a fraudulent transaction")."""
    for said in reversed(ctx.user_messages()):
        u = understand(said)
        ask = u.then if u.ask is Ask.VERIFY and u.then is not None else u.ask
        if ask in _SKIP:
            continue
        if ask in _PURPOSES and not u.merchant:
            return ask
        return None
    need = ctx.brief().need
    return {"suspicious_charge": Ask.SUSPICIOUS, "dispute": Ask.DISPUTE}.get(need or "")


def asked_which_listed(ctx: Context) -> Ask | None:
    frame = ctx.asked("pick_charge")
    if frame is None:
        return None
    return Ask.SUSPICIOUS if frame.purpose == "suspicious" else Ask.DISPUTE


def pick_frame(purpose: Ask) -> Frame:
    return Frame(
        kind="pick_charge", purpose="suspicious" if purpose is Ask.SUSPICIOUS else "dispute"
    )


def charge_question(purpose: Ask) -> str:
    lead = WHICH_UNRECOGNISED if purpose is Ask.SUSPICIOUS else WHICH_TO_DISPUTE
    return f"{lead} {_PICK_HINT}"


def charge_to_card_security(ctx: Context, purpose: Ask, u: Understanding) -> Reply:
    """At the transactions desk: the charge the caller means, handed to card security (which
    offers the lock and the dispute); or the question, or the listing to ask it over."""
    reason = (
        "caller does not recognise a charge" if purpose is Ask.SUSPICIOUS else ("dispute a charge")
    )
    text = u.extras.get("text", "")
    listed = last_listing(ctx)
    if len(listed) == 1 and listed[0].is_charge and not asked_which_listed(ctx):
        picked: Listed | None = listed[0]  # "that wasn't me" right after one charge was read
    else:
        picked = pick_charge(listed, text)
    if picked is None and listed and not asked_which_listed(ctx):
        # "what was that 389 dollar charge?" ... "I don't know what that is"
        asked = ctx.user_messages_since_call("get_transactions", before_latest=True)[-1:]
        picked = pick_charge(listed, " ".join(asked), by_position=False)
    if picked is not None and not picked.is_charge:
        return Reply(
            text=f"That one is money in, {_REF.sub('', picked.text)}, not a charge, so there's "
            f"nothing to dispute. {charge_question(purpose)}",
            frame=pick_frame(purpose),
        )
    if picked is not None:
        return call("transfer_to_card_security", reason=reason, transaction_ref=picked.ref)
    if u.merchant and not re.match(r"\$?\d", u.merchant):
        return call("transfer_to_card_security", reason=reason, merchant=u.merchant)
    if asked_which_listed(ctx) or (listed and u.ask is Ask.UNKNOWN):
        if u.ask is Ask.MORE or NONE_OF_THEM.search(text):
            return more_transactions(ctx)
        if _READ_AGAIN.search(text):
            found = ctx.last_call(("get_transactions",))
            listing = _REF.sub("", found[1]).strip() if found else ""
            return Reply(
                text=f"Sure. {listing} {charge_question(purpose)}", frame=pick_frame(purpose)
            )
        lead = WHICH_UNRECOGNISED if purpose is Ask.SUSPICIOUS else WHICH_TO_DISPUTE
        return Reply(
            text=f"Sorry, I couldn't tell. {lead} {_PICK_HINT[:-1]}, {_MORE_HINT}",
            frame=pick_frame(purpose),
        )
    if listed:
        return Reply(text=charge_question(purpose), frame=pick_frame(purpose))
    return call("get_transactions", count=CHARGE_COUNT)


def more_transactions(ctx: Context) -> Reply:
    found = ctx.last_outcome(("get_transactions",))
    args = json.loads(found[0].arguments or "{}") if found else {}
    count = int(args.get("count") or 3)
    if found is not None and isinstance(found[1], Transactions) and not found[1].more:
        return Reply(text=f"{NO_OLDER} {ANYTHING_ELSE}")
    if count >= MAX_COUNT:
        return Reply(
            text=f"I can read up to {MAX_COUNT} recent transactions on a call, and that was "
            "all of them. For anything older, I can connect you with a person: would you "
            "like that?",
            frame=Frame(kind="offer_person"),
        )
    args["count"] = min(MAX_COUNT, count + CHARGE_COUNT)
    return Reply(tool="get_transactions", arguments=args)


def after_more(ctx: Context, output: llm.FunctionCallOutput) -> str | None:
    """The listing after 'more': only the ones not read out before."""
    said = understand(ctx.last_of_role("user") or "")
    if said.ask is not Ask.MORE and not NONE_OF_THEM.search(said.extras.get("text", "")):
        return None
    before: set[int] = set()
    for item in ctx.items:
        if item is output:
            break
        if item.type == "function_call_output":
            before.update(_refs(item))
    if not before:
        return None
    outcome = outcome_of(output)
    new = unread(outcome, before)
    end = isinstance(outcome, Transactions) and not outcome.more
    if not new:
        return NO_OLDER
    spoken = "; ".join(_REF.sub("", x.text) for x in new)
    return f"Before those: {spoken}." + (" That's all of them." if end else "")


_REF = re.compile(r"\s*\[ref \d+\]")
NO_OLDER = "That's everything: there are no older transactions than the ones I've read."
ANYTHING_ELSE = "Is there anything else I can help with?"


def in_window(outcome: Transactions, window: tuple[date, date | None]) -> str:
    """The listing cut to a date window ("last month": the previous calendar month); the
    tool reads whole days back from now, so it may hold days either side."""
    start, end = window
    items = [
        t
        for t in outcome.items
        if start <= date.fromisoformat(t.on) and (end is None or date.fromisoformat(t.on) < end)
    ]
    if not items:
        return "There are no transactions in that period."
    return say(Transactions(items=items))
