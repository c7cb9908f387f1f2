"""Keeping a pending question alive when the caller goes off-script, for the offline model.

"Say that again", "are you a robot?", "thank you", or words that answer nothing, while the
desk is waiting for a yes/no: the question is asked again, never silently dropped. A card
read-back is asked again by calling the card tool again (its yes must come on the very next
turn, which agents/card_security.py enforces), everything else by repeating the question."""

from __future__ import annotations

import json
import re

from .offline_context import Context
from .offline_frames import Frame
from .offline_nlu import Ask, Understanding
from .offline_reply import Reply

ABOUT_ME = (
    "I'm Northwind Bank's automated assistant, not a person. I can help with your balance, "
    "your recent transactions, or a card; if you'd rather speak to someone, just ask for a "
    "person."
)
# Off-script turns that leave a pending question standing (asked again, not dropped).
OFF_SCRIPT = (Ask.UNKNOWN, Ask.GREETING, Ask.REPEAT, Ask.ABOUT, Ask.THANKS, Ask.MORE)


def reask_card_confirmation(ctx: Context) -> Reply | None:
    """The card read-back again (a fresh one: the yes must follow it directly)."""
    frame = ctx.asked("confirm_card")
    if frame is None or frame.tool is None:
        return None
    found = ctx.last_call((frame.tool,))
    if found is None:
        return None
    args = json.loads(found[0].arguments or "{}")
    args.pop("confirm", None)
    return Reply(tool=found[0].name, arguments=args)


def question_again(ctx: Context, frame: Frame) -> str:
    """The frame's question as said, to ask it again. An unlock offer names its card before
    the question, and a request ("tell me the last four digits") ends on no question mark:
    for those, the whole line as said."""
    if frame.kind == "offer_unlock" or not frame.question:
        return ctx.last_of_role("assistant") or frame.question
    return frame.question


def is_off_script(u: Understanding, frame: Frame | None) -> bool:
    """A turn that answers no pending question: asked again rather than dropped. A "why"
    is about the question pending ("why do you need to lock it?") only where one is;
    otherwise it is a request of its own ("why was my card declined?")."""
    if u.ask in OFF_SCRIPT:
        return True
    return bool(_WHY.search(u.extras.get("text", ""))) and (
        frame is not None and frame.kind in ("confirm_card", "offer_unlock", "credentials")
    )


def off_script_prefix(u: Understanding, action: str = "") -> str:
    if _WHY.search(u.extras.get("text", "")):
        return _WHY_ANSWER.get(action, "")
    if u.ask is Ask.ABOUT:
        return ABOUT_ME + " "
    if u.ask is Ask.THANKS:
        return "You're welcome. "
    if u.ask is Ask.REPEAT:
        return "Sure. "
    return "Sorry, I didn't catch that. "


def recover(ctx: Context, u: Understanding) -> Reply | None:
    """An off-script turn while a question is pending: ask it again, with the same frame."""
    frame = ctx.frame()
    if not is_off_script(u, frame):
        return None
    if (again := reask_card_confirmation(ctx)) is not None:
        return again
    why = bool(_WHY.search(u.extras.get("text", "")))
    if why and frame is not None and frame.kind == "credentials":
        return Reply(text=_WHY_VERIFY, frame=frame)
    if u.ask is Ask.REPEAT:
        last = ctx.last_of_role("assistant") or ""
        return Reply(text=f"Sure. {last}" if last else "How can I help you today?", frame=frame)
    if frame is None or u.ask in (Ask.GREETING, Ask.MORE):
        return None
    question = question_again(ctx, frame)
    if why:
        locked = _WHY_LOCKED if frame.kind == "offer_unlock" else ""
        return Reply(text=f"{locked}{question}", frame=frame)
    if u.ask is Ask.UNKNOWN:
        if not frame.yes_no:
            return None  # "which card?"-style questions have their own follow-ups
        return Reply(
            text=f"Sorry, I didn't catch that. {question} Just say yes or no.", frame=frame
        )
    return Reply(text=f"{off_script_prefix(u)}{question}", frame=frame)


_WHY = re.compile(
    r"^\W*(?:but |and |ok |okay )?why\b|\bwhat (?:does|will) (?:that|locking|it) do\b|"
    r"\bwhat (?:do|did) you need (?:that|it|this|them|those|my \w+) for\b|"
    r"\bwhy (?:do|does|would|should) (?:you|it) need\b",
    re.I,
)
_WHY_VERIFY = (
    "I need to check I'm speaking with the account holder before I share or change anything "
    "on an account; it's for your security. Please tell me your customer number and your PIN."
)
_WHY_LOCKED = (
    "I can't see who locked it from here: a card is locked when that's requested, in the app "
    "or on a call, to keep it safe. "
)
_WHY_ANSWER = {
    "lock_card": "Locking stops new payments on the card straight away, so no one can use it "
    "while this is sorted out, and you can unlock it any time. ",
    "unlock_card": "Unlocking lets you pay with the card again straight away. ",
    "report_card_lost_or_stolen": "Reporting it blocks the card for good, so no one else can "
    "use it, and we send you a replacement. ",
}


def forgot_pin(ctx: Context) -> Reply:
    if ctx.is_verified():
        return Reply(
            text="You're already verified on this call, so you don't need your PIN now. I "
            "can't reset a PIN on this line, but I can connect you with a person who can: "
            "would you like that?",
            frame=Frame(kind="offer_person"),
        )
    # No offer of a call back: it needs a verified caller, so accepting it would be refused.
    return Reply(
        text="No problem. I can't reset a PIN on this line, and for your security I can't "
        "open your accounts without it. To speak with a person who can verify you another "
        "way and help reset it, please call the number on the back of your card."
    )
