"""What the offline model returns for one step: a tool call, or one short line."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .offline_frames import Frame


@dataclass(frozen=True)
class Reply:
    text: str | None = None
    tool: str | None = None
    arguments: dict[str, Any] | None = None
    frame: Frame | None = None  # what this line asks the caller (kept on the reply, typed)


def ask(text: str, frame: Frame) -> Reply:
    return Reply(text=text, frame=frame)


def call(tool: str, **arguments: Any) -> Reply:
    return Reply(tool=tool, arguments={k: v for k, v in arguments.items() if v is not None})
