"""Prompt loading: authored language lives in agents/prompts/*.md, not in code."""

from __future__ import annotations

from functools import cache
from pathlib import Path

_DIR = Path(__file__).parent / "prompts"


@cache
def prompt(name: str) -> str:
    return (_DIR / f"{name}.md").read_text().strip()


def instructions_for(agent_id: str) -> str:
    return f"{prompt('persona')}\n\n{prompt(agent_id)}"
