"""What the offline model returns for one step: a tool call, or one short line."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Reply:
    text: str | None = None
    tool: str | None = None
    arguments: dict[str, Any] | None = None


def call(tool: str, **arguments: Any) -> Reply:
    return Reply(tool=tool, arguments={k: v for k, v in arguments.items() if v is not None})
