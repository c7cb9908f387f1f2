"""The transactions desk."""

from __future__ import annotations

from typing import Any, Literal

from livekit.agents import RunContext, function_tool

from handoffs import TRANSACTIONS
from shared_state import HandoffBrief, Intent, SessionState
from tools.db import DatabaseUnavailable
from tools.outcomes import Refused, Transactions, Unavailable

from .base import BankAgent
from .guard import require_principal
from .prefetch import OpeningRead
from .render import fail, render, txn_view

AccountChoice = Literal["all", "checking", "savings", "credit_card"]
MAX_COUNT = 20
MAX_DAYS = 366
MAX_AMOUNT_DOLLARS = 10_000_000


class TransactionsAgent(BankAgent):
    agent_id = TRANSACTIONS

    @classmethod
    def opening_read(cls, brief: HandoffBrief, slots: dict[str, Any]) -> OpeningRead | None:
        # The recent ones: what the caller asked for, or what they pick a charge from.
        if brief.intent is not Intent.TRANSACTIONS:
            return None
        return OpeningRead("get_transactions", {})

    @function_tool
    async def get_transactions(
        self,
        ctx: RunContext[SessionState],
        account: AccountChoice = "all",
        count: int = 3,
        days_back: int | None = None,
        merchant: str | None = None,
        min_amount: float | None = None,
    ) -> str:
        """Look up the verified caller's recent transactions, newest first.

        Args:
            account: all, checking, savings or credit_card
            count: how many transactions (1 to 20, default 3)
            days_back: only transactions from the last N days
            merchant: only transactions whose merchant name contains this text
            min_amount: only charges (money out) of at least this many dollars, for "charges
                over $100" or "anything over 100 dollars"; deposits and refunds are left out
        """
        principal = require_principal(ctx, action="get_transactions")
        if not 1 <= count <= MAX_COUNT:
            raise _invalid(f"count must be between 1 and {MAX_COUNT}.")
        if days_back is not None and not 1 <= days_back <= MAX_DAYS:
            raise _invalid(f"days_back must be between 1 and {MAX_DAYS}.")
        if min_amount is not None and not 0 <= min_amount <= MAX_AMOUNT_DOLLARS:
            raise _invalid("min_amount must be a dollar amount between 0 and 10 million.")
        if merchant is not None:
            merchant = merchant.strip()
            if not merchant or len(merchant) > 60 or not merchant.isprintable():
                raise _invalid("merchant must be a short merchant name.")
        db = ctx.userdata.db
        assert db is not None
        try:
            rows = await db.transactions(
                principal.customer_id,
                account_kind=None if account == "all" else account,
                limit=count + 1,
                days_back=days_back,
                merchant=merchant,
                min_charge_cents=round(min_amount * 100) if min_amount is not None else None,
            )
        except DatabaseUnavailable:
            raise fail(Unavailable()) from None
        # One row more than asked for says whether older ones exist (the caller's "more").
        items = [txn_view(t) for t in rows[:count]]
        return render(Transactions(items=items, more=len(rows) > count))


def _invalid(detail: str) -> Exception:
    return fail(Refused(reason="invalid_argument", detail=detail))
