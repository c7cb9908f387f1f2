"""The balance desk."""

from __future__ import annotations

from typing import Literal

from livekit.agents import RunContext, ToolError, function_tool

from handoffs import BALANCE
from shared_state import SessionState
from tools.db import DatabaseUnavailable

from .base import UNAVAILABLE, BankAgent, require_principal
from .speech import describe_account

AccountChoice = Literal["all", "checking", "savings", "credit_card"]


class BalanceAgent(BankAgent):
    agent_id = BALANCE

    @function_tool
    async def get_balance(
        self, ctx: RunContext[SessionState], account: AccountChoice = "all"
    ) -> str:
        """Look up the verified caller's balances: available vs current (ledger) balance,
        pending amounts, and available credit on credit cards.

        Args:
            account: which account: all, checking, savings or credit_card
        """
        principal = require_principal(ctx, action="get_balance")
        db = ctx.userdata.db
        assert db is not None
        try:
            accounts = await db.accounts(principal.customer_id)
        except DatabaseUnavailable:
            raise ToolError(UNAVAILABLE) from None
        chosen = [a for a in accounts if account == "all" or a.kind == account]
        if not chosen:
            have = ", ".join(sorted({a.kind.replace("_", " ") for a in accounts})) or "none"
            raise ToolError(
                f"The caller has no {account.replace('_', ' ')} account. They have: {have}."
            )
        return " ".join(describe_account(a) for a in chosen)
