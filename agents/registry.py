"""agent id -> agent class, and the desk factory a handoff builds the next agent with.

The desks never import this module (nor one another): a transfer tool builds the next desk
through `SessionState.desks`, which `new_session` sets to `build_agent`, so there is no
import cycle between the desks and the registry."""

from __future__ import annotations

import functools

from livekit.agents import llm
from livekit.agents.llm import find_function_tools
from livekit.agents.llm.tool_context import get_function_info, is_function_tool

from .balance import BalanceAgent
from .base import BankAgent
from .card_security import CardSecurityAgent
from .greeter import Greeter
from .transactions import TransactionsAgent

AGENTS: dict[str, type[BankAgent]] = {
    "greeter": Greeter,
    "balance": BalanceAgent,
    "transactions": TransactionsAgent,
    "card_security": CardSecurityAgent,
}


def build_agent(agent_id: str, chat_ctx: llm.ChatContext | None, /) -> BankAgent:
    return AGENTS[agent_id](chat_ctx=chat_ctx)


@functools.cache
def owner_of(tool: str) -> str | None:
    """The desk whose own tools include `tool` (read from the desk classes, not restated)."""
    for desk, agent in AGENTS.items():
        own = (get_function_info(t).name for t in find_function_tools(agent) if is_function_tool(t))
        if tool in own:
            return desk
    return None
