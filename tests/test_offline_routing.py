"""Routing of the offline model follows from the intent table and the handoff graph: the
desk with the intent's tool calls it; any other desk transfers one hop toward its owner."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from agents.registry import AGENTS, owner_of
from handoffs.graph import EDGES, next_hop, transfer_tool_name
from models.intents import TABLE
from tests.offline_driver import OfflineCall
from tools.db import Database


@dataclass(frozen=True)
class _Desk:
    tools: frozenset[str]

    def has(self, tool: str) -> bool:
        return tool in self.tools


def _transfers_of(desk: str) -> _Desk:
    return _Desk(frozenset(transfer_tool_name(d) for d in EDGES[desk]))


def test_every_in_scope_intent_has_a_desk_that_owns_its_tool() -> None:
    for intent in TABLE:
        if intent.tool and intent.tool != "transfer_to_human":
            assert owner_of(intent.tool) in AGENTS, intent.name
    assert owner_of("get_balance") == "balance" and owner_of("lock_card") == "card_security"
    assert owner_of("no_such_tool") is None


@pytest.mark.parametrize(
    ("here", "goal", "hop"),
    [
        ("greeter", "card_security", "card_security"),
        ("transactions", "card_security", "card_security"),  # a sideways edge
        ("balance", "transactions", "transactions"),
        ("balance", "card_security", "greeter"),  # no edge: back through the greeter
        ("card_security", "balance", "greeter"),
    ],
)
def test_the_next_hop_follows_the_handoff_graph(here: str, goal: str, hop: str) -> None:
    assert next_hop(_transfers_of(here), goal) == hop


async def test_a_request_for_another_desk_takes_the_graphs_path(db: Database) -> None:
    async with OfflineCall(db) as call:
        await call.say("1001 1234")
        t = await call.say("what's my balance")
        assert t.agent == "balance"
        t = await call.say("is my card locked?")  # balance -> greeter -> card security
        assert t.agent == "card_security" and "Visa debit card ending 4242" in t.text
        t = await call.say("how do I change my PIN")  # out of scope at any desk: no transfer
        assert "can't change or reset a PIN" in t.text and t.agent == "card_security"
        assert not t.tools
