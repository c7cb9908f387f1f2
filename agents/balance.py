"""The balance desk."""

from __future__ import annotations

from typing import Any, Literal

from livekit.agents import RunContext, function_tool

from handoffs import BALANCE
from shared_state import HandoffBrief, Intent, SessionState
from tools.db import DatabaseUnavailable
from tools.outcomes import Balance, NoSuchAccount, Unavailable

from .base import BankAgent
from .guard import require_principal
from .prefetch import OpeningRead
from .render import account_view, fail, render

AccountChoice = Literal["all", "checking", "savings", "credit_card"]


class BalanceAgent(BankAgent):
    agent_id = BALANCE

    @classmethod
    def opening_read(cls, brief: HandoffBrief, slots: dict[str, Any]) -> OpeningRead | None:
        if brief.intent is not Intent.BALANCE:
            return None
        return OpeningRead("get_balance", {"account": slots.get("account") or "all"})

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
            raise fail(Unavailable()) from None
        chosen = [account_view(a) for a in accounts if account == "all" or a.kind == account]
        if not chosen:
            have = sorted({a.kind.replace("_", " ") for a in accounts})
            raise fail(NoSuchAccount(asked=account, have=have))
        return render(Balance(accounts=chosen))
