"""The handoff graph: which agent may hand the live session to which, in one place."""

from __future__ import annotations

from typing import Final, Literal, Protocol

AgentId = Literal["greeter", "balance", "transactions", "card_security", "human"]

GREETER: Final = "greeter"
BALANCE: Final = "balance"
TRANSACTIONS: Final = "transactions"
CARD_SECURITY: Final = "card_security"
HUMAN: Final = "human"

SPECIALISTS: Final[frozenset[str]] = frozenset({BALANCE, TRANSACTIONS, CARD_SECURITY})

# Sideways edges exist where a caller's next question naturally belongs to a neighbour:
# balance <-> transactions ("what made it so low?"), transactions -> card security
# ("I don't recognise that charge"), card security -> transactions ("which charges?").
# Anything else goes back through the greeter, which re-triages.
EDGES: Final[dict[str, frozenset[str]]] = {
    GREETER: frozenset({BALANCE, TRANSACTIONS, CARD_SECURITY, HUMAN}),
    BALANCE: frozenset({GREETER, TRANSACTIONS, HUMAN}),
    TRANSACTIONS: frozenset({GREETER, BALANCE, CARD_SECURITY, HUMAN}),
    CARD_SECURITY: frozenset({GREETER, TRANSACTIONS, HUMAN}),
}

# Edges whose target serves account data: the caller must be verified (PIN or app-auth).
REQUIRES_VERIFIED: Final[frozenset[str]] = SPECIALISTS

DISPLAY_NAMES: Final[dict[str, str]] = {
    GREETER: "the front desk",
    BALANCE: "the balance desk",
    TRANSACTIONS: "the transactions desk",
    CARD_SECURITY: "card security",
    HUMAN: "a member of our team",
}


def is_allowed(from_agent: str | None, to_agent: str) -> bool:
    return from_agent is not None and to_agent in EDGES.get(from_agent, frozenset())


def transfer_tool_name(to_agent: str) -> str:
    return f"transfer_to_{to_agent}"


class _Tools(Protocol):
    def has(self, tool: str) -> bool: ...


def _distance(start: str, goal: str) -> int:
    seen, frontier, steps = {start}, {start}, 0
    while frontier and goal not in frontier:
        frontier = {n for d in frontier for n in EDGES.get(d, frozenset())} - seen
        seen |= frontier
        steps += 1
    return steps if goal in frontier else len(EDGES) + 1


def next_hop(desk_tools: _Tools, goal: str) -> str | None:
    """The neighbour this desk transfers to on the way to `goal` over the handoff graph: the
    goal itself when it is one, else the nearest one, the greeter on a tie (it re-triages)."""
    hops = [d for d in (goal, GREETER, *sorted(EDGES)) if desk_tools.has(transfer_tool_name(d))]
    return min(hops, key=lambda hop: _distance(hop, goal)) if hops else None
