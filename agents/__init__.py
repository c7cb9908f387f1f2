"""The desk's agents: a greeter and three specialists sharing one typed SessionState."""

from .balance import BalanceAgent
from .base import BankAgent
from .card_security import CardSecurityAgent
from .greeter import Greeter
from .registry import AGENTS
from .session import new_session
from .transactions import TransactionsAgent

__all__ = [
    "AGENTS",
    "BalanceAgent",
    "BankAgent",
    "CardSecurityAgent",
    "Greeter",
    "TransactionsAgent",
    "new_session",
]
