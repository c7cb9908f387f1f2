"""What the offline model reads and writes, typed: the chat context (caller turns, the handoff
brief, tool calls and their outcomes), the question a reply asks (a `Frame`), and the reply.

A reply that asks the caller something carries its `Frame` on the assistant message's `extra`
(livekit keeps a generation's `extra` on the message it stores), so the next turn reads what
was asked as data, never by reading the desk's own sentence back. The lines said are data
too (replies.toml): rewording one cannot change what a yes does."""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, TypeGuard

from livekit.agents import llm
from pydantic import BaseModel, ConfigDict, ValidationError

from handoffs.context import BRIEF_KEY, VERIFIED_KEY
from shared_state import HandoffBrief
from tools.outcomes import (
    AmbiguousCard,
    AnyOutcome,
    CardView,
    ChargeNotFound,
    DisputeNeedsConfirmation,
    NeedsConfirmation,
    Refused,
    Unavailable,
    Verified,
    decode,
)

from .offline_nlu import Ask, Understanding, understand

FRAME_KEY = "bank.offline_frame"
PREFETCH_CALL_PREFIX = "prefetch_"  # the call id of a desk's read on taking over (agents/prefetch)
LINES: dict[str, str] = tomllib.loads(Path(__file__).with_name("replies.toml").read_text("utf-8"))

FrameKind = Literal[
    "confirm_card",  # a card write read back: yes runs it, no leaves the card alone
    "confirm_dispute",  # a dispute read back
    "which_card",  # which card the pending card action is for
    "which_charge",  # which charge to dispute (card security asks for the merchant)
    "pick_charge",  # which of the charges just read out (the transactions desk)
    "offer_unlock",  # unlock the locked card just listed
    "offer_dispute",  # open a dispute for the charge the caller is worried about
    "offer_also",  # the other half of "my balance and my transactions"
    "offer_person",  # a person, where accepting works
    "credentials",  # the customer number and/or PIN
    "menu",  # balance, transactions or a card
]
_YES_NO = ("confirm_card", "confirm_dispute", "offer_unlock", "offer_dispute", "offer_also",
           "offer_person")  # fmt: skip


class Frame(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: FrameKind
    tool: str | None = None  # the card (or dispute) tool the answer goes to
    cards: tuple[CardView, ...] = ()  # which_card: in the order read; offer_unlock: the card
    merchant: str | None = None  # offer_dispute: the charge's merchant
    purpose: Literal["suspicious", "dispute"] | None = None  # pick_charge
    then: Literal["balance", "transactions"] | None = None  # offer_also
    question: str = ""  # the question as said, to ask again word for word (never parsed)

    @property
    def yes_no(self) -> bool:
        return self.kind in _YES_NO

    def extra(self) -> dict[str, Any]:
        return {FRAME_KEY: self.model_dump(mode="json")}


def frame_of(extra: dict[str, Any]) -> Frame | None:
    try:
        return Frame.model_validate(extra[FRAME_KEY]) if FRAME_KEY in extra else None
    except ValidationError:
        return None


def frame_for_outcome(tool: str, outcome: AnyOutcome | None) -> Frame | None:
    """The question a tool's sentence asks, from its typed outcome."""
    match outcome:
        case NeedsConfirmation(card=card):
            return Frame(kind="confirm_card", tool=tool, cards=(card,))
        case DisputeNeedsConfirmation():
            return Frame(kind="confirm_dispute", tool=tool)
        case AmbiguousCard(cards=cards):
            return Frame(kind="which_card", tool=tool, cards=tuple(cards))
        case ChargeNotFound():
            return Frame(kind="which_charge", tool=tool)
        case Unavailable():
            return Frame(kind="offer_person")
        case Refused(reason="credentials_mismatch" | "invalid_credentials"):
            return Frame(kind="credentials")
    return None


def last_question(text: str) -> str:
    """The last sentence of a line that ends on a question (to ask it again as said)."""
    text = text.strip()
    if not text.endswith("?"):
        return ""
    start = max(text.rfind(". ", 0, len(text) - 1), text.rfind("! ", 0, len(text) - 1))
    return text[start + 2 :] if start >= 0 else text


@dataclass(frozen=True)
class Reply:
    text: str | None = None
    tool: str | None = None
    arguments: dict[str, Any] | None = None
    frame: Frame | None = None  # what this line asks the caller (kept on the reply, typed)


def call(tool: str, **arguments: Any) -> Reply:
    return Reply(tool=tool, arguments={k: v for k, v in arguments.items() if v is not None})


def line(key: str, **values: Any) -> str:
    """One line the desk says (replies.toml), with its blanks filled."""
    return LINES[key].format(**values)


def say(key: str, frame: Frame | None = None, **values: Any) -> Reply:
    """A reply of one line (and what it asks, if anything)."""
    return Reply(text=line(key, **values), frame=frame)


def wanted(u: Understanding) -> Ask:
    """What a turn asks for: with credentials, what was asked alongside them."""
    return u.then if u.ask is Ask.VERIFY and u.then is not None else u.ask


def is_prefetched(item: llm.ChatItem) -> bool:
    return item.type in ("function_call", "function_call_output") and item.call_id.startswith(
        PREFETCH_CALL_PREFIX
    )


def without_unused_reads(items: list[llm.ChatItem]) -> list[llm.ChatItem]:
    """Drop a read made on entry that the desk did not speak (it made its own call instead):
    the caller never heard it, so it must not count as a listing they heard."""

    def superseded(after: list[llm.ChatItem]) -> bool:
        for item in after:
            if not (is_prefetched(item) or (item.type == "message" and item.role == "system")):
                return item.type == "function_call"
        return False

    return [i for n, i in enumerate(items) if not (is_prefetched(i) and superseded(items[n + 1 :]))]


def outcome_of(item: llm.ChatItem) -> AnyOutcome | None:
    """The typed outcome a tool output carries (None for livekit's own errors)."""
    envelope = decode(str(item.output)) if item.type == "function_call_output" else None
    return envelope.outcome if envelope is not None else None


def said_of(item: llm.FunctionCallOutput) -> str:
    """The sentence a tool output carries for the caller."""
    envelope = decode(str(item.output))
    return envelope.say if envelope is not None else ""


def is_brief(item: llm.ChatItem) -> TypeGuard[llm.ChatMessage]:
    return isinstance(item, llm.ChatMessage) and BRIEF_KEY in item.extra


def args_of(item: llm.FunctionCall | None) -> dict[str, Any]:
    return dict(json.loads(item.arguments or "{}")) if item is not None else {}


Found = tuple[llm.FunctionCall, AnyOutcome | None, str]


@dataclass
class Context:
    items: list[llm.ChatItem]
    tools: set[str]

    def has(self, tool: str) -> bool:
        return tool in self.tools

    def conversation(self) -> list[llm.ChatItem]:
        kinds = ("message", "function_call", "function_call_output")
        return [i for i in self.items if i.type in kinds]

    def last_of_role(self, role: str) -> str | None:
        said = [i.text_content for i in self.items if i.type == "message" and i.role == role]
        return next((t for t in reversed(said) if t), None)

    def user_messages(self) -> list[str]:
        return [
            i.text_content or "" for i in self.items if i.type == "message" and i.role == "user"
        ]

    @cached_property
    def heard(self) -> list[Understanding]:
        """Each caller turn understood, oldest first (read once per reply)."""
        return [understand(t) for t in self.user_messages()]

    def latest(self, skip: tuple[Ask, ...], only: tuple[Ask, ...] = ()) -> Understanding | None:
        """The caller's newest request, past the turns that ask `skip` (None unless it asks
        one of `only`, when given), with what it wants as its ask."""
        for u in reversed(self.heard):
            if (ask := wanted(u)) not in skip:
                return replace(u, ask=ask) if not only or ask in only else None
        return None

    def find(self, *asks: Ask) -> Understanding | None:
        """The caller's newest turn that wants one of `asks`."""
        return next((u for u in reversed(self.heard) if wanted(u) in asks), None)

    def brief(self) -> HandoffBrief:
        """The typed handoff brief this desk was given (empty at the first desk)."""
        found = next((i for i in reversed(self.items) if is_brief(i)), None)
        return HandoffBrief.from_typed(found.extra[BRIEF_KEY]) if found else HandoffBrief()

    def frame(self) -> Frame | None:
        """What the desk's last line asked the caller, if it asked anything."""
        said = [i for i in self.items if i.type == "message" and i.role == "assistant"]
        return frame_of(said[-1].extra) if said else None

    def asked(self, *kinds: str) -> Frame | None:
        frame = self.frame()
        return frame if frame is not None and frame.kind in kinds else None

    def call_for(self, output: llm.FunctionCallOutput) -> llm.FunctionCall | None:
        calls = (i for i in self.items if i.type == "function_call")
        return next((i for i in calls if i.call_id == output.call_id), None)

    def last_outcome(self, names: tuple[str, ...]) -> Found | None:
        """The last call of one of these tools, its outcome and the sentence it carries."""
        outputs = {i.call_id: i for i in self.items if i.type == "function_call_output"}
        for item in reversed(self.items):
            if item.type == "function_call" and item.name in names:
                out = outputs.get(item.call_id)
                return (item, outcome_of(out), said_of(out)) if out else (item, None, "")
        return None

    def outcomes(self) -> list[AnyOutcome]:
        return [o for i in self.items if (o := outcome_of(i)) is not None]

    def user_messages_since_call(self, name: str, *, before_latest: bool = False) -> list[str]:
        """Caller turns after the last call of `name` (or, with before_latest, the turns
        that led up to that last call)."""
        calls = [
            n for n, i in enumerate(self.items) if i.type == "function_call" and i.name == name
        ]
        start, end = (calls[-1] if calls else -1), len(self.items)
        if before_latest and calls:
            start, end = (calls[-2] if len(calls) > 1 else -1), calls[-1]
        span = self.items[start + 1 : end]
        return [i.text_content or "" for i in span if i.type == "message" and i.role == "user"]

    def is_verified(self) -> bool:
        """Whether the context shows a verified caller (for phrasing only: every tool checks
        the session's principal in code): the brief, a verification, an app sign-in."""
        if self.brief().verified_as or any(isinstance(o, Verified) for o in self.outcomes()):
            return True
        return any(i.type == "message" and VERIFIED_KEY in i.extra for i in self.items)
