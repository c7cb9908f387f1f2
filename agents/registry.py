"""agent id -> agent class, and the desk factory a handoff builds the next agent with.

The desks never import this module (nor one another): a transfer tool builds the next desk
through `SessionState.desks`, which `new_session` sets to `build_agent`, so there is no
import cycle between the desks and the registry."""

from __future__ import annotations

from livekit.agents import llm

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
