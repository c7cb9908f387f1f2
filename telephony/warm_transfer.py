"""Warm transfer of a phone caller to a person (`HUMAN_TRANSFER_MODE=warm`).

livekit's `WarmTransferTask` does the call work: the caller is put on hold, the person is
dialled through the outbound trunk (`LIVEKIT_SIP_OUTBOUND_TRUNK`) into a consultation room,
briefed there, and moved into the caller's room when they say to connect; the agent then
leaves. Our part is what the person is told, and what happens when it fails.

The brief is built in code from the session's typed state and the database (the audit
trail of this call, its card changes, the caller's cases, and the case opened for this
transfer), never from the chat: no caller words, no PIN, no balances or card numbers beyond
the last four digits. If the person cannot be reached, the caller stays with the agent,
state intact, and is told so with the case number a colleague will call back about."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from livekit.agents.beta.workflows import WarmTransferTask

from handoffs.escalation import open_callback_case
from shared_state.state import EscalationResult, Intent, SessionState
from tools.db import DatabaseUnavailable
from tools.money import format_cents

logger = logging.getLogger("bank.telephony.warm_transfer")

# The SIP header the person's phone system receives with the call: the case to open.
CASE_HEADER = "X-Bank-Case"
HOLD_LINE = (
    "Please hold while I connect you to a colleague. I'll brief them on what we've covered, "
    "so you won't have to repeat yourself."
)

_DESK_NAMES = {
    "greeter": "front desk",
    "balance": "balance desk",
    "transactions": "transactions desk",
    "card_security": "card security",
}
_ASSURANCE = {
    "pin": "verified with customer number and PIN",
    "app-auth": "signed in to the mobile app",
    "caller-id": "phone number matches, not verified",
}


@dataclass(frozen=True)
class TransferBrief:
    """What the person taking the call is told, in code, from typed sources only."""

    case_id: int | None
    customer: str | None  # "Alice, customer 1001" (verified callers only)
    assurance: str
    desks: list[str] = field(default_factory=list)
    asked_for: str | None = None
    suspect_charge: str | None = None
    card_changes: list[str] = field(default_factory=list)
    open_cases: list[str] = field(default_factory=list)
    failed_verifications: int = 0

    def text(self) -> str:
        lines = [
            f"Case {self.case_id}." if self.case_id is not None else "No case could be opened.",
            f"Caller: {self.customer}, {self.assurance}."
            if self.customer
            else f"Caller: {self.assurance}.",
        ]
        if self.desks:
            lines.append("Desks on this call: " + ", ".join(self.desks) + ".")
        if self.asked_for:
            lines.append(f"They asked about: {self.asked_for}.")
        if self.suspect_charge:
            lines.append(f"Charge they don't recognise: {self.suspect_charge}.")
        if self.card_changes:
            lines.append("Done on this call: " + "; ".join(self.card_changes) + ".")
        if self.open_cases:
            lines.append("Other open cases: " + ", ".join(self.open_cases) + ".")
        if self.failed_verifications:
            lines.append(f"Failed verification attempts on this call: {self.failed_verifications}.")
        return " ".join(lines)


async def build_brief(state: SessionState, case_id: int | None) -> TransferBrief:
    """The brief from the session's typed state and this call's rows in the database."""
    principal = state.principal
    db = state.db
    desks: list[str] = []
    changes: list[str] = []
    cases: list[str] = []
    failed = 0
    if db is not None:
        try:
            for row in await db.handoff_audit(state.session_id):
                name = _DESK_NAMES.get(row["to_agent"])
                if row["outcome"] == "accepted" and name and name not in desks:
                    desks.append(name)
            events = await db.security_events(state.session_id)
            failed = sum(1 for e in events if e["kind"] == "verification_wrong_pin")
            if principal is not None:
                for card in await db.cards(principal.customer_id):
                    for event in await db.card_events(card.id):
                        if str(event["idempotency_key"]).startswith(f"{state.session_id}:"):
                            changes.append(
                                f"{card.network.title()} {card.kind} card ending "
                                f"{card.last_four} {event['from_status']} -> "
                                f"{event['to_status']}"
                            )
                cases = [
                    f"{c.kind} case {c.id}"
                    for c in await db.cases(principal.customer_id)
                    if c.status == "open" and c.id != case_id
                ]
        except DatabaseUnavailable:
            logger.warning("warm transfer brief without the database's rows")
    brief = state.brief
    suspect = brief.suspect_transaction if brief is not None else None
    return TransferBrief(
        case_id=case_id,
        customer=(
            f"{principal.first_name}, customer {principal.customer_number}"
            if principal is not None
            else None
        ),
        assurance=_ASSURANCE.get(state.assurance.value, "not verified"),
        desks=desks,
        asked_for=(
            brief.intent.value.replace("_", " ")
            if brief and brief.intent and brief.intent is not Intent.HUMAN
            else None
        ),
        suspect_charge=(
            f"{suspect.merchant}, {_dollars(suspect.amount_cents)} on {suspect.occurred_on}"
            if suspect is not None
            else None
        ),
        card_changes=changes,
        open_cases=cases,
        failed_verifications=failed,
    )


def _dollars(cents: int) -> str:
    return format_cents(abs(cents))


INSTRUCTIONS = """\
You are Northwind Bank's voice assistant, on a separate line with a colleague who is about
to take over a call from a customer who is on hold. Start by telling them, briefly, the
brief below; then answer their questions about it, using only the brief. When they say
they are ready, call connect_to_caller. If they cannot take the call, call decline_transfer.

Brief: {brief}
"""


TaskFactory = Callable[..., Awaitable[Any]]


class WarmTransferEscalation:
    """SIP, `HUMAN_TRANSFER_MODE=warm`: brief a colleague, then hand the caller over."""

    def __init__(
        self,
        *,
        transfer_to: str,
        trunk_id: str | None,
        say: Callable[[str], Any],
        leave: Callable[[], Any],
        ringing_timeout: float = 30.0,
        hold_audio: bool = True,
        task: TaskFactory = WarmTransferTask,
    ) -> None:
        # CreateSIPParticipant takes a number or a sip: URI; HUMAN_TRANSFER_TO may be the
        # tel: URI that the cold transfer (SIP REFER) takes.
        self._transfer_to = transfer_to.removeprefix("tel:")
        self._trunk_id = trunk_id
        self._say = say
        self._leave = leave
        self._ringing_timeout = ringing_timeout
        self._hold_audio = hold_audio
        self._task = task

    async def escalate(self, state: SessionState, summary: str) -> EscalationResult:
        case_id = await _open_case(state, summary)
        if state.audit is not None:
            await state.audit.flush()  # the brief reads this call's audit trail
        brief = await build_brief(state, case_id)
        self._say(HOLD_LINE)
        options: dict[str, Any] = {}
        if not self._hold_audio:
            options["hold_audio"] = None  # a text-only room has no audio to hold with
        try:
            await self._task(
                self._transfer_to,
                sip_trunk_id=self._trunk_id,
                sip_headers={CASE_HEADER: str(case_id)} if case_id is not None else {},
                ringing_timeout=self._ringing_timeout,
                instructions=INSTRUCTIONS.format(brief=brief.text()),
                **options,
            )
        except Exception:  # livekit's ToolError (no answer, declined, voicemail) or a dial error
            logger.warning("warm transfer failed", exc_info=True)
            then = (
                f" Your case number is {case_id}, and a member of our team will call you back."
                if case_id is not None
                else ""
            )
            return EscalationResult(
                False,
                "I'm sorry, I couldn't reach a colleague just now. I'm still here, and "
                f"everything we've done so far is kept.{then} Can I help with anything else "
                "meanwhile?",
            )
        self._leave()  # the caller is with the colleague now; the agent leaves the call
        return EscalationResult(True, "You're through to a colleague now.", True)


async def _open_case(state: SessionState, summary: str) -> int | None:
    principal = state.principal
    if principal is None or state.db is None:
        return None
    try:
        return await open_callback_case(state.db, principal.customer_id, state, summary)
    except DatabaseUnavailable:
        return None
