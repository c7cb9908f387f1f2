"""What the offline model reads from the chat context: caller turns, the handoff brief,
tool calls and their outputs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeGuard

from livekit.agents import llm

from handoffs.context import BRIEF_KEY, VERIFIED_KEY
from shared_state import HandoffBrief
from tools.outcomes import AnyOutcome, Verified, decode

from .offline_frames import Frame, frame_of

# The call-id prefix of a read a desk made on taking over (agents/prefetch.py).
PREFETCH_CALL_PREFIX = "prefetch_"


def is_prefetched(item: llm.ChatItem) -> bool:
    return item.type in ("function_call", "function_call_output") and item.call_id.startswith(
        PREFETCH_CALL_PREFIX
    )


def without_unused_reads(items: list[llm.ChatItem]) -> list[llm.ChatItem]:
    """Drop a read made on entry that the desk did not speak (it made its own call instead):
    the caller never heard it, so it must not count as a listing they heard."""
    keep: list[llm.ChatItem] = []
    for n, item in enumerate(items):
        if is_prefetched(item) and _superseded(items[n + 1 :]):
            continue
        keep.append(item)
    return keep


def _superseded(after: list[llm.ChatItem]) -> bool:
    for item in after:
        if is_prefetched(item) or (item.type == "message" and item.role == "system"):
            continue
        return item.type == "function_call"
    return False


def outcome_of(item: llm.ChatItem) -> AnyOutcome | None:
    """The typed outcome a tool output carries (None for livekit's own errors)."""
    if item.type != "function_call_output":
        return None
    envelope = decode(str(item.output))
    return envelope.outcome if envelope is not None else None


def said_of(item: llm.FunctionCallOutput) -> str:
    """The sentence a tool output carries for the caller."""
    envelope = decode(str(item.output))
    return envelope.say if envelope is not None else ""


@dataclass
class Context:
    items: list[llm.ChatItem]
    tools: set[str]

    def conversation(self) -> list[llm.ChatItem]:
        return [
            i for i in self.items if i.type in ("message", "function_call", "function_call_output")
        ]

    def last_of_role(self, role: str) -> str | None:
        for item in reversed(self.items):
            if item.type == "message" and item.role == role and item.text_content:
                return item.text_content
        return None

    def user_messages(self) -> list[str]:
        return [
            i.text_content or "" for i in self.items if i.type == "message" and i.role == "user"
        ]

    def brief(self) -> HandoffBrief:
        """The typed handoff brief this desk was given (empty at the first desk)."""
        for item in reversed(self.items):
            if is_brief(item):
                return HandoffBrief.from_typed(item.extra[BRIEF_KEY])
        return HandoffBrief()

    def frame(self) -> Frame | None:
        """What the desk's last line asked the caller, if it asked anything."""
        for item in reversed(self.items):
            if item.type == "message" and item.role == "assistant":
                return frame_of(item.extra)
        return None

    def asked(self, *kinds: str) -> Frame | None:
        """The frame of the desk's last line, when it asked one of these."""
        frame = self.frame()
        return frame if frame is not None and frame.kind in kinds else None

    def call_for(self, output: llm.FunctionCallOutput) -> llm.FunctionCall | None:
        for item in self.items:
            if item.type == "function_call" and item.call_id == output.call_id:
                return item
        return None

    def last_call(self, names: tuple[str, ...]) -> tuple[llm.FunctionCall, str] | None:
        """The last call of one of these tools, with the sentence its output carries."""
        found = self.last_outcome(names)
        return (found[0], found[2]) if found is not None else None

    def last_outcome(
        self, names: tuple[str, ...]
    ) -> tuple[llm.FunctionCall, AnyOutcome | None, str] | None:
        outputs = {i.call_id: i for i in self.items if i.type == "function_call_output"}
        for item in reversed(self.items):
            if item.type == "function_call" and item.name in names:
                out = outputs.get(item.call_id)
                if out is None:
                    return item, None, ""
                return item, outcome_of(out), said_of(out)
        return None

    def outcomes(self) -> list[AnyOutcome]:
        return [o for i in self.items if (o := outcome_of(i)) is not None]

    def has(self, tool: str) -> bool:
        return tool in self.tools

    def user_messages_since_call(self, name: str, *, before_latest: bool = False) -> list[str]:
        """Caller turns after the last call of `name` (or, with before_latest, the turns
        that led up to that last call)."""
        calls = [
            n for n, i in enumerate(self.items) if i.type == "function_call" and i.name == name
        ]
        start, end = (calls[-1] if calls else -1), len(self.items)
        if before_latest and calls:
            start, end = (calls[-2] if len(calls) > 1 else -1), calls[-1]
        return [
            i.text_content or ""
            for i in self.items[start + 1 : end]
            if i.type == "message" and i.role == "user"
        ]

    def is_verified(self) -> bool:
        """Whether the context shows a verified caller (for phrasing only: every tool
        checks the session's principal in code): the brief, a verification, an app sign-in."""
        if self.brief().verified_as or any(isinstance(o, Verified) for o in self.outcomes()):
            return True
        return any(i.type == "message" and VERIFIED_KEY in i.extra for i in self.items)


def is_brief(item: llm.ChatItem) -> TypeGuard[llm.ChatMessage]:
    return isinstance(item, llm.ChatMessage) and BRIEF_KEY in item.extra
