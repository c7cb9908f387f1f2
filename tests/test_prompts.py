"""The prompts agree with the code: every tool or argument a desk's prompt names exists on
that desk, and the prompts say what the code enforces."""

from __future__ import annotations

import re

import pytest
from livekit.agents import llm

from agents import AGENTS
from agents.prompts import instructions_for, prompt

# snake_case words in a prompt are tool or argument names; {placeholders} are not.
_NAME = re.compile(r"\b[a-z]+(?:_[a-z]+)+\b")
_PLACEHOLDER = re.compile(r"\{[a-z_]+\}")
_SHARED = {"greeter": ("returning",), "balance": ("opening",), "transactions": ("opening",),
           "card_security": ("opening",)}  # fmt: skip
_NOT_TOOLS = {"transaction_ref"}  # named in persona.md as outcome data


def _names_on(desk: str) -> set[str]:
    names: set[str] = set()
    for tool in AGENTS[desk]().tools:
        assert isinstance(tool, llm.FunctionTool)
        names.add(tool.info.name)
        names |= set(llm.utils.function_arguments_to_pydantic_model(tool).model_fields)
    return names


@pytest.mark.parametrize("desk", sorted(_SHARED))
def test_every_tool_a_prompt_names_exists_on_that_desk(desk: str) -> None:
    text = instructions_for(desk) + "\n" + "\n".join(prompt(p) for p in _SHARED[desk])
    named = set(_NAME.findall(_PLACEHOLDER.sub("", text))) - _NOT_TOOLS
    assert named, "a desk prompt names its tools"
    missing = named - _names_on(desk)
    assert not missing, f"{desk} prompt names {sorted(missing)}, not tools of that desk"


def test_card_security_prompt_covers_card_type_and_never_reads_refs_aloud() -> None:
    text = prompt("card_security")
    assert "card_type" in text and "card_last_four" in text
    for name in ("persona", "card_security", "transactions"):
        assert "[ref" not in prompt(name)
    assert "never say them" in text and "never read reference numbers" in prompt("persona")
