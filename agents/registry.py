"""agent id -> agent class, for handoffs (kept apart to avoid import cycles)."""

from __future__ import annotations

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
