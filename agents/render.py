"""The one renderer: a typed tool outcome (tools/outcomes.py) -> the tool's output, which
holds the sentence a model relays (or the offline model speaks) and the outcome itself.

Every caller-facing sentence a tool produces is written here and nowhere else."""

from __future__ import annotations

from datetime import UTC, date, datetime

from livekit.agents import ToolError

from handoffs import DISPLAY_NAMES
from tools.db import Account, Card, Transaction
from tools.money import format_cents
from tools.outcomes import (
    AccountView,
    AmbiguousCard,
    AnyOutcome,
    Balance,
    CardChanged,
    Cards,
    CardUnchanged,
    CardView,
    ChargeNotFound,
    DisputeNeedsConfirmation,
    DisputeOpened,
    Escalated,
    NeedsConfirmation,
    NoSuchAccount,
    Refused,
    Transactions,
    TxnView,
    Unavailable,
    Verified,
    encode,
)


def render(outcome: AnyOutcome) -> str:
    """The tool output for this outcome: its sentence and the outcome, as JSON."""
    return encode(outcome, say(outcome))


def fail(outcome: AnyOutcome) -> ToolError:
    """A refusal or failure, raised as livekit's ToolError so the model sees `is_error`."""
    return ToolError(render(outcome))


# -- typed views of the database rows -----------------------------------------------------


def card_view(card: Card) -> CardView:
    return CardView(
        last_four=card.last_four, network=card.network, kind=card.kind, status=card.status
    )


def account_view(a: Account) -> AccountView:
    return AccountView(
        kind=a.kind,
        last_four=a.number_last_four,
        available_cents=a.available_balance_cents,
        ledger_cents=a.ledger_balance_cents,
        pending_cents=a.pending_cents,
        credit_limit_cents=a.credit_limit_cents,
        available_credit_cents=a.available_credit_cents,
    )


def txn_view(t: Transaction) -> TxnView:
    return TxnView(
        ref=t.id,
        merchant=t.merchant,
        amount_cents=t.amount_cents,
        on=t.occurred_at.astimezone(UTC).date().isoformat(),
        pending=t.status == "pending",
    )


# -- sentences --------------------------------------------------------------------------------

_KIND_NAMES = {"checking": "checking", "savings": "savings", "credit_card": "credit card"}
_STATUS = {"active": "active", "locked": "locked", "lost": "reported lost",
           "stolen": "reported stolen"}  # fmt: skip
_VERB = {"lock": "lock", "unlock": "unlock", "lost": "report as lost", "stolen": "report as stolen"}
_DONE = {
    # The unlock rule as card_security enforces it: a PIN-verified or app-signed-in caller,
    # and their yes to the read-back (the caller may already be on the phone with us).
    "lock": "is now locked. To unlock it, just ask, on this call or a later one: once you're "
    "verified, I'll read the card back and unlock it on your yes",
    "unlock": "is unlocked and ready to use",
    "lost": "is blocked and reported lost",
    "stolen": "is blocked and reported stolen",
}


def spoken_date(when: datetime | date | str, today: date | None = None) -> str:
    if isinstance(when, str):
        when = date.fromisoformat(when)
    day = when.astimezone(UTC).date() if isinstance(when, datetime) else when
    today = today or datetime.now(UTC).date()
    delta = (today - day).days
    if delta == 0:
        return "today"
    if delta == 1:
        return "yesterday"
    return f"on {day.strftime('%B')} {day.day}"


def card_name(card: CardView) -> str:
    return f"{card.network.title()} {card.kind} card ending {card.last_four}"


def describe_card(card: CardView) -> str:
    return f"{card_name(card)}, {_STATUS[card.status]}"


def listing(cards: list[CardView]) -> str:
    return "; ".join(describe_card(c) for c in cards)


def describe_account(a: AccountView) -> str:
    label = f"{_KIND_NAMES[a.kind]} account ending {a.last_four}"
    if a.kind == "credit_card":
        return (
            f"On your {label}, you owe {format_cents(a.ledger_cents)} and have "
            f"{format_cents(a.available_credit_cents or 0)} of available credit; your credit "
            f"limit is {format_cents(a.credit_limit_cents or 0)}."
        )
    text = f"Your {label} has an available balance of {format_cents(a.available_cents)}"
    if a.available_cents != a.ledger_cents:
        text += (
            f"; the current balance is {format_cents(a.ledger_cents)}, "
            f"with {format_cents(abs(a.pending_cents))} in pending transactions"
        )
    return text + "."


def describe_transaction(t: TxnView) -> str:
    # No reference number: it is in the outcome for tool calls, never for the caller's ears.
    direction = "a deposit of" if t.amount_cents > 0 else "a charge of"
    pending = " (pending)" if t.pending else ""
    return (
        f"{direction} {format_cents(abs(t.amount_cents))} at {t.merchant} "
        f"{spoken_date(t.on)}{pending}"
    )


def say(outcome: AnyOutcome) -> str:  # noqa: C901 - one flat case per outcome
    match outcome:
        case Verified(first_name=name):
            return (
                f"Verified: the caller is {name}. Thank them by name and ask what "
                "they need: balance, transactions, or card security."
            )
        case Balance(accounts=accounts):
            return " ".join(describe_account(a) for a in accounts)
        case NoSuchAccount(asked=asked, have=have):
            return (
                f"The caller has no {asked.replace('_', ' ')} account. "
                f"They have: {', '.join(have) or 'none'}."
            )
        case Transactions(items=items):
            if not items:
                return "No transactions match that request."
            lead = (
                "Your most recent transaction is"
                if len(items) == 1
                else f"Your {len(items)} most recent transactions are"
            )
            return f"{lead}: " + "; ".join(describe_transaction(t) for t in items) + "."
        case Cards(cards=cards):
            return "Cards: " + listing(cards) + "." if cards else "The caller has no cards."
        case NeedsConfirmation(action=action, card=card):
            extra = (
                " This blocks it for good and orders a replacement."
                if action in ("lost", "stolen")
                else ""
            )
            return (
                f"To confirm: {_VERB[action]} the {card_name(card)}?{extra} "
                "Please say yes to confirm, or no to cancel."
            )
        case AmbiguousCard():
            return _ambiguous(outcome)
        case CardChanged(action=action, card=card, case_id=case_id):
            note = (
                f" A replacement card is on its way; your case number is {case_id}."
                if case_id is not None
                else ""
            )
            return f"Done: your {card_name(card)} {_DONE[action]}.{note}"
        case CardUnchanged():
            return _unchanged(outcome)
        case DisputeNeedsConfirmation(txn=txn):
            return (
                f"To confirm: open a dispute for the {format_cents(abs(txn.amount_cents))} "
                f"charge at {txn.merchant} {spoken_date(txn.on)}? "
                "Please say yes to confirm, or no to cancel."
            )
        case DisputeOpened(txn=txn, case_id=case_id, created=created):
            what = (
                f"the {format_cents(abs(txn.amount_cents))} charge at {txn.merchant} "
                f"{spoken_date(txn.on)}"
            )
            if not created:
                return f"There is already an open dispute for {what}; its case number is {case_id}."
            return (
                f"I've opened a dispute for {what}; your case number is {case_id}. "
                "We'll be in touch within five business days."
            )
        case ChargeNotFound(merchant=merchant):
            if merchant is None:
                return "Which charge should be disputed? Ask for the merchant."
            return (
                f"I couldn't find a charge from {merchant[:60]} to dispute. Which charge "
                "do you mean? Tell me the merchant name as it appears."
            )
        case Escalated(message=message):
            return message
        case Refused():
            return _refused(outcome)
        case Unavailable():
            return (
                "I'm sorry, I can't reach your accounts right now. Nothing has been changed. "
                "Please try again in a moment, or I can connect you with a person."
            )


def _ambiguous(outcome: AmbiguousCard) -> str:
    cards = listing(outcome.cards)
    if outcome.why == "bad_digits":
        return "Please tell me just the last four digits of the card."
    if outcome.why == "not_owned":
        return (
            f"None of your cards ends in those digits. Your cards are: {cards}. "
            "Which one do you mean? Please tell me its last four digits."
        )
    if outcome.why == "no_such_type":
        said = outcome.asked
        return (
            f"You don't have {'an' if said[:1] in 'AEIOU' else 'a'} {said} card with us. "
            f"Your cards are: {cards}. Which one do you mean? Please tell me its last four "
            "digits, or say which one, like 'the debit card'."
        )
    return f"Which card do you mean? Your cards are: {cards}. Please tell me the last four digits."


def _unchanged(outcome: CardUnchanged) -> str:
    card, action = outcome.card, outcome.action
    if outcome.why == "no_cards":
        return "I can't find any cards on your accounts."
    if outcome.why == "already" and card is not None:
        status = _STATUS[card.status]
        return f"Your {card_name(card)} is already {status}, so nothing needed changing."
    if outcome.why == "blocked" and card is not None:
        return (
            f"Your {card_name(card)} was reported {card.status}, so it stays blocked for good; "
            "a replacement card is the way forward."
        )
    if action == "unlock":
        lead = "None of your cards is locked, so there's nothing to unlock"
    elif action == "lock":
        lead = "None of your cards is active, so there's nothing to lock"
    else:
        lead = "None of your cards can be reported: they are already blocked"
    return f"{lead}. Your cards are: {listing(outcome.cards)}."


def _desk(agent_id: str) -> str:
    return DISPLAY_NAMES.get(agent_id, "another desk")


def _refused(r: Refused) -> str:  # noqa: C901 - one flat case per reason
    match r.reason:
        case "unverified":
            return (
                "I can't do that yet: the caller is not verified. Nothing was shared or "
                "changed. They need to verify with their customer number and PIN at the "
                "front desk first."
            )
        case "forged_argument":
            return (
                "I can't do that: this tool only ever works on the verified caller's own "
                f"accounts and does not take {r.detail}. Nothing was shared or changed. Each "
                "customer can only ask about their own accounts, on their own call. Call it "
                "again without those arguments if the caller wants their own details."
            )
        case "unknown_transaction":
            return "I couldn't find that transaction on your accounts."
        case "not_a_charge":
            return "That is a deposit, not a charge, so it can't be disputed."
        case "invalid_argument":
            return r.detail
        case "credentials_mismatch":
            return (
                "That customer number and PIN don't match our records. Please check them and "
                "try again."
            )
        case "credentials_locked":
            return (
                "Verification for that customer number is locked for 15 minutes after too "
                "many incorrect PINs. You can try again after that, or call the number on the "
                "back of your card to speak with someone."
            )
        case "too_many_attempts":
            return (
                "There have been too many verification attempts on this call, so I can't try "
                "again. You can call back later, or call the number on the back of your card "
                "to speak with someone."
            )
        case "invalid_credentials":
            return f"That doesn't look like a valid {r.subject}. It should be {r.detail} digits."
        case "other_customer":
            return (
                "This call is already verified for one customer. For another customer's "
                "accounts, they need to call us themselves."
            )
        case "verification_unavailable":
            return (
                "I'm sorry, I can't reach our verification system right now. Please try "
                "again in a moment."
            )
        case "verification_required" if r.detail == "keypad":
            return (
                f"Not transferred: the caller must be verified before {_desk(r.subject)}. "
                "Ask them to key in their PIN on the phone's keypad followed by the pound key "
                "(or to say their customer number and PIN, then call verify_identity); once "
                "verified they will be connected automatically."
            )
        case "verification_required":
            return (
                f"Not transferred: the caller must be verified before {_desk(r.subject)}. "
                "Ask for their customer number and PIN and call verify_identity; once verified "
                "they will be connected automatically."
            )
        case "edge_not_allowed":
            return (
                f"Not transferred: {_desk(r.subject)} cannot be reached directly from here. "
                "Use transfer_to_greeter so the front desk can help."
            )
        case "same_agent":
            return "Not transferred: the caller is already with this desk. Help them here."
        case "one_handoff_per_turn":
            return (
                f"Not transferred: the caller is already being transferred to {r.detail} in "
                "this same reply, and only one transfer can happen at a time. Do not call "
                "another transfer now; that desk can pass them on if they also need "
                f"{_desk(r.subject)}."
            )
        case "interrupted":
            return f"Not {r.detail or 'transferred'}: the caller interrupted. {_AGAIN[r.detail]}"
        case "not_transferred":
            return "Not transferred. Ask the caller, in one short question, what they need."


_AGAIN = {"": "Ask them what they need.", "transferred": "Ask them what they need.",
          "checked": "Ask them to say it again."}  # fmt: skip
