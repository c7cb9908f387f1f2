"""The OFFLINE MODEL: the project's own deterministic banking "LLM".

An `llm.LLM` that needs no keys and no network. It reads the chat context the session gives
it (the caller's words, the handoff brief, tool outputs) and the tools the current agent
offers, and either calls one of those tools — the same tools a real LLM would call, through
the same code paths and policy — or phrases a reply from the last tool result. It is not a
canned script: every answer comes from the database through the tools."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from livekit.agents import llm, utils
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, NOT_GIVEN, APIConnectOptions

from .offline_nlu import Ask, Understanding, understand

OFFLINE_MODEL_NAME = "northwind-offline-banking-model"

_REF = re.compile(r"\s*\[ref \d+\]")
_BRIEF = "Handoff brief:"
_CONFIRM_QUESTION = "Please say yes to confirm"
_DISPUTE_OFFER = "open a dispute"
_CARD_WRITES = ("lock_card", "unlock_card", "report_card_lost_or_stolen")


@dataclass(frozen=True)
class Reply:
    text: str | None = None
    tool: str | None = None
    arguments: dict[str, Any] | None = None


class OfflineBankLLM(llm.LLM[Any]):
    """Deterministic offline model (clearly not a real LLM; used when no provider keys)."""

    @property
    def model(self) -> str:
        return OFFLINE_MODEL_NAME

    @property
    def provider(self) -> str:
        return "offline"

    def chat(
        self,
        *,
        chat_ctx: llm.ChatContext,
        tools: list[llm.Tool] | None = None,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
        parallel_tool_calls: Any = NOT_GIVEN,
        tool_choice: Any = NOT_GIVEN,
        extra_kwargs: Any = NOT_GIVEN,
    ) -> llm.LLMStream:
        names = {t.id for t in tools or []} if tool_choice != "none" else set()
        reply = decide(chat_ctx, names)
        return _OfflineStream(
            self, reply=reply, chat_ctx=chat_ctx, tools=tools or [], conn_options=conn_options
        )


class _OfflineStream(llm.LLMStream):
    def __init__(self, llm_: OfflineBankLLM, *, reply: Reply, **kwargs: Any) -> None:
        super().__init__(llm_, **kwargs)
        self._reply = reply

    async def _run(self) -> None:
        rid = utils.shortuuid("offline_")
        if self._reply.tool:
            delta = llm.ChoiceDelta(
                role="assistant",
                tool_calls=[
                    llm.FunctionToolCall(
                        name=self._reply.tool,
                        arguments=json.dumps(self._reply.arguments or {}),
                        call_id=utils.shortuuid("call_"),
                    )
                ],
            )
        else:
            delta = llm.ChoiceDelta(role="assistant", content=self._reply.text or "")
        self._event_ch.send_nowait(llm.ChatChunk(id=rid, delta=delta))


# -- reading the context ------------------------------------------------------------------------


@dataclass
class Context:
    items: list[llm.ChatItem]
    tools: set[str]

    def conversation(self) -> list[llm.ChatItem]:
        return [
            i for i in self.items if i.type in ("message", "function_call", "function_call_output")
        ]

    def last_of_role(self, role: str) -> str | None:
        for item in reversed(self.items):
            if item.type == "message" and item.role == role and item.text_content:
                return item.text_content
        return None

    def user_messages(self) -> list[str]:
        return [
            i.text_content or "" for i in self.items if i.type == "message" and i.role == "user"
        ]

    def system_texts(self) -> list[str]:
        return [
            i.text_content or ""
            for i in self.items
            if i.type == "message" and i.role in ("system", "developer")
        ]

    def brief(self) -> dict[str, str]:
        for text in reversed(self.system_texts()):
            if text.startswith(_BRIEF):
                fields: dict[str, str] = {}
                for part in text[len(_BRIEF) :].split(";"):
                    if "=" in part:
                        key, _, value = part.partition("=")
                        fields[key.strip()] = value.strip()
                return fields
        return {}

    def call_for(self, output: llm.FunctionCallOutput) -> llm.FunctionCall | None:
        for item in self.items:
            if item.type == "function_call" and item.call_id == output.call_id:
                return item
        return None

    def last_call(self, names: tuple[str, ...]) -> tuple[llm.FunctionCall, str] | None:
        outputs = {i.call_id: i.output for i in self.items if i.type == "function_call_output"}
        for item in reversed(self.items):
            if item.type == "function_call" and item.name in names:
                return item, str(outputs.get(item.call_id, ""))
        return None

    def has(self, tool: str) -> bool:
        return tool in self.tools


def decide(chat_ctx: llm.ChatContext, tools: set[str]) -> Reply:
    ctx = Context(list(chat_ctx.items), tools)
    conversation = ctx.conversation()
    last_system = ctx.system_texts()[-1] if ctx.system_texts() else ""
    last = conversation[-1] if conversation else None
    if last is not None and last.type == "function_call_output":
        return _after_tool(ctx, last)
    if "You have just taken over this live call" in last_system:
        return _specialist_opening(ctx)
    if "handed back to the front desk" in last_system:
        return _greeter_returning(ctx, last_system)
    if last is not None and last.type == "message" and last.role == "user":
        return _answer_user(ctx, last.text_content or "")
    return Reply(text="How can I help you today?")


# -- caller turns ---------------------------------------------------------------------------------


def _answer_user(ctx: Context, text: str) -> Reply:
    u = understand(text)
    if u.ask is Ask.YES:
        return _on_yes(ctx)
    if u.ask is Ask.NO:
        if _asked_confirmation(ctx):
            return Reply(
                text="Okay, I haven't changed anything. Is there anything else I can help with?"
            )
        return _route(ctx, Understanding(Ask.GOODBYE), text)
    return _route(ctx, u, text)


def _route(ctx: Context, u: Understanding, text: str) -> Reply:
    ask = u.ask
    if ask in (Ask.UNKNOWN, Ask.LIST_CARDS, Ask.LOCK) and _asked_which_card(ctx):
        last_four = u.card_last_four or _bare_last_four(text)
        found = ctx.last_call(_CARD_WRITES)
        if last_four and found is not None:
            call, _ = found
            args = json.loads(call.arguments or "{}")
            args["card_last_four"] = last_four
            args.pop("confirm", None)
            return Reply(tool=call.name, arguments=args)
    if ask is Ask.INJECTION:
        return Reply(
            text="I can't change how I work or who I'm speaking with. I can only help "
            "with your own accounts, once you're verified with your customer number "
            "and PIN."
        )
    if ask is Ask.HUMAN and ctx.has("transfer_to_human"):
        return Reply(tool="transfer_to_human", arguments={"reason": "caller asked for a person"})
    if ask is Ask.VERIFY:
        return _verify(ctx, u)
    if ask is Ask.SUSPICIOUS:
        return _suspicious(ctx, u)
    if ask in (Ask.LOST, Ask.STOLEN):
        if ctx.has("report_card_lost_or_stolen"):
            return _call(
                "report_card_lost_or_stolen", card_last_four=u.card_last_four, kind=ask.value
            )
        return _transfer_towards(ctx, "card_security", f"card {ask.value}")
    if ask in (Ask.LOCK, Ask.UNLOCK):
        tool = f"{ask.value}_card"
        if ctx.has(tool):
            return _call(tool, card_last_four=u.card_last_four)
        return _transfer_towards(ctx, "card_security", f"{ask.value} a card")
    if ask is Ask.LIST_CARDS:
        if ctx.has("list_cards"):
            return _call("list_cards")
        return _transfer_towards(ctx, "card_security", "card status")
    if ask is Ask.DISPUTE:
        if ctx.has("dispute_transaction"):
            return _dispute(ctx, u)
        return _transfer_towards(ctx, "card_security", "dispute a charge", merchant=u.merchant)
    if ask is Ask.TRANSACTIONS:
        if ctx.has("get_transactions"):
            return _transactions_call(u)
        return _transfer_towards(ctx, "transactions", "recent transactions")
    if ask is Ask.BALANCE:
        if ctx.has("get_balance"):
            return _call("get_balance", account=u.account or "all")
        return _transfer_towards(ctx, "balance", "balance")
    if ask is Ask.SOMETHING_ELSE:
        if ctx.has("transfer_to_greeter"):
            return _call("transfer_to_greeter", reason="caller wants something else")
        return Reply(
            text="Of course. What else can I help you with: your balance, recent "
            "transactions, or a card?"
        )
    if ask is Ask.GOODBYE:
        if ctx.has("transfer_to_greeter"):
            return _call("transfer_to_greeter", reason="caller is finished with this desk")
        return Reply(text="Thank you for calling Northwind Bank. Goodbye, and take care!")
    if ask is Ask.GREETING:
        return Reply(
            text="Hello! I can help with your balance, recent transactions, or card "
            "security. What would you like to do?"
        )
    return Reply(text=_clarify(ctx))


def _clarify(ctx: Context) -> str:
    if ctx.has("get_balance"):
        return (
            "Sorry, I didn't catch that. I can read you your balances: all accounts, or "
            "just checking, savings or your credit card. Or say 'something else'."
        )
    if ctx.has("get_transactions"):
        return (
            "Sorry, I didn't catch that. I can read your recent transactions, filter by "
            "merchant, days or amount, or help with a charge you don't recognise."
        )
    if ctx.has("lock_card"):
        return (
            "Sorry, I didn't catch that. I can list your cards, lock or unlock a card, "
            "report one lost or stolen, or dispute a charge."
        )
    return (
        "Sorry, I didn't catch that. I can help with your balance, recent transactions, "
        "or card security. Which would you like?"
    )


def _call(tool: str, **arguments: Any) -> Reply:
    return Reply(tool=tool, arguments={k: v for k, v in arguments.items() if v is not None})


def _transfer_towards(ctx: Context, desk: str, reason: str, merchant: str | None = None) -> Reply:
    tool = f"transfer_to_{desk}"
    if ctx.has(tool):
        args: dict[str, Any] = {"reason": reason}
        if desk == "card_security" and merchant:
            args["merchant"] = merchant
        return Reply(tool=tool, arguments=args)
    if ctx.has("transfer_to_greeter"):
        return _call("transfer_to_greeter", reason=f"caller needs: {reason}")
    return Reply(text=_clarify(ctx))


def _verify(ctx: Context, u: Understanding) -> Reply:
    if not ctx.has("verify_identity"):
        return Reply(
            text="You're already verified on this call, so there's no need to share "
            "your PIN again. What can I help with?"
        )
    number = u.customer_number
    pin = u.pin
    if number is None:
        # "My PIN is 1234" after giving the number in an earlier turn.
        for previous in reversed(ctx.user_messages()[:-1]):
            earlier = understand(previous)
            if earlier.customer_number:
                number = earlier.customer_number
                break
    if number and pin:
        return _call("verify_identity", customer_number=number, pin=pin)
    if number:
        return Reply(text="Thanks. And your PIN, please?")
    return Reply(text="Thanks. Could you also tell me your customer number?")


def _suspicious(ctx: Context, u: Understanding) -> Reply:
    if ctx.has("dispute_transaction"):
        brief = ctx.brief()
        if u.merchant or brief.get("suspect_transaction_ref"):
            return _dispute(ctx, u)
        return Reply(
            text="I'm sorry to hear that. Which charge don't you recognise? Tell me the "
            "merchant name."
        )
    if ctx.has("transfer_to_card_security"):
        args: dict[str, Any] = {"reason": "caller does not recognise a charge"}
        if u.merchant:
            args["merchant"] = u.merchant
        return Reply(tool="transfer_to_card_security", arguments=args)
    return _transfer_towards(ctx, "transactions", "caller does not recognise a charge")


def _dispute(ctx: Context, u: Understanding) -> Reply:
    brief = ctx.brief()
    ref = brief.get("suspect_transaction_ref")
    if u.merchant and (not ref or u.merchant.lower() not in brief.get("merchant", "").lower()):
        return _call("dispute_transaction", merchant=u.merchant)
    if ref and ref.isdigit():
        return _call("dispute_transaction", transaction_ref=int(ref))
    return Reply(text="Which charge would you like to dispute? Tell me the merchant name.")


def _transactions_call(u: Understanding) -> Reply:
    return _call(
        "get_transactions",
        account=u.account if u.account else None,
        count=u.count,
        days_back=u.days_back,
        merchant=u.merchant,
        min_amount=u.min_amount,
    )


def _asked_which_card(ctx: Context) -> bool:
    return "last four digits" in (ctx.last_of_role("assistant") or "")


def _bare_last_four(text: str) -> str | None:
    match = re.fullmatch(r"\D*(\d{4})\D*", text.strip())
    return match.group(1) if match else None


def _asked_confirmation(ctx: Context) -> bool:
    last = ctx.last_of_role("assistant") or ""
    return _CONFIRM_QUESTION.lower() in last.lower() or _DISPUTE_OFFER in last.lower()


def _on_yes(ctx: Context) -> Reply:
    last_assistant = (ctx.last_of_role("assistant") or "").lower()
    if _CONFIRM_QUESTION.lower() in last_assistant:
        found = ctx.last_call(_CARD_WRITES)
        if found is not None:
            call, _ = found
            args = json.loads(call.arguments or "{}")
            args["confirm"] = True
            return Reply(tool=call.name, arguments=args)
    if _DISPUTE_OFFER in last_assistant and ctx.has("dispute_transaction"):
        return _dispute(ctx, Understanding(Ask.DISPUTE))
    if "balance, recent transactions, or" in last_assistant:
        return Reply(
            text="Sure. Which would you like: your balance, your recent transactions, "
            "or help with a card?"
        )
    return Reply(text="Okay. What would you like me to do?")


# -- after a tool ran --------------------------------------------------------------------------


def _after_tool(ctx: Context, output: llm.FunctionCallOutput) -> Reply:
    text = _REF.sub("", str(output.output)).strip()
    call = ctx.call_for(output)
    name = call.name if call else output.name
    if output.is_error:
        return Reply(text=_spoken_error(text))
    if name == "verify_identity":
        match = re.search(r"the caller is (\w+)", text)
        who = f", {match.group(1)}" if match else ""
        return Reply(
            text=f"Thank you{who}, you're verified. Would you like your balance, your "
            "recent transactions, or help with a card?"
        )
    prefix = _opening_prefix(ctx)
    if (
        name in ("lock_card",)
        and text.startswith("Done")
        and ctx.brief().get("intent") == "suspicious_charge"
        and ctx.has("dispute_transaction")
    ):
        merchant = ctx.brief().get("merchant", "that")
        if not ctx.last_call(("dispute_transaction",)):
            text += f" Would you also like me to {_DISPUTE_OFFER} for the {merchant} charge?"
    return Reply(text=f"{prefix}{text}")


def _spoken_error(text: str) -> str:
    if "must be verified" in text:
        return (
            "I can help with that. First I need to verify your identity: please tell me "
            "your customer number and your PIN."
        )
    if "cannot be reached directly" in text:
        return (
            "I can't do that from this desk. Say 'something else' and I'll take you back to "
            "the front desk."
        )
    if text.startswith("Not transferred"):
        return "Sorry, let me make sure I help with the right thing. What do you need?"
    if text.startswith("Unknown function"):
        return _clarify_from_error()
    if text.startswith("An internal error"):
        return "I'm sorry, something went wrong on my side. Could you say that again?"
    return text


def _clarify_from_error() -> str:
    return "Sorry, I can't do that here. What else can I help you with?"


def _opening_prefix(ctx: Context) -> str:
    """One-time context for the first answer after a handoff (still a single reply)."""
    conversation = ctx.conversation()
    assistant_after_brief = any(
        i.type == "message" and i.role == "assistant" for i in conversation[-3:]
    )
    brief = ctx.brief()
    if not brief or assistant_after_brief or _spoke_since_brief(ctx):
        return ""
    if brief.get("open_question") == "continuing after verification":
        facts = brief.get("facts", "")
        match = re.search(r"verified as (\w+)", facts)
        return f"Thank you{', ' + match.group(1) if match else ''}, you're verified. "
    if brief.get("intent") == "suspicious_charge" and brief.get("merchant"):
        return f"About the {brief['merchant']} charge you don't recognise. "
    return ""


def _spoke_since_brief(ctx: Context) -> bool:
    seen_brief = False
    for item in ctx.items:
        if (
            item.type == "message"
            and item.role == "system"
            and (item.text_content or "").startswith(_BRIEF)
        ):
            seen_brief = True
        elif seen_brief and item.type == "message" and item.role == "assistant":
            return True
    return False


# -- openings after a handoff ---------------------------------------------------------------


def _specialist_opening(ctx: Context) -> Reply:
    brief = ctx.brief()
    intent = brief.get("intent", "")
    request = _latest_request(ctx)
    if intent == "suspicious_charge" and ctx.has("lock_card"):
        return _call("lock_card", card_last_four=_last_four(brief.get("card_last_four")))
    if request is not None and request.ask not in (Ask.VERIFY, Ask.UNKNOWN, Ask.GREETING):
        routed = _route(ctx, request, "")
        if routed.tool is None or not routed.tool.startswith("transfer_to_"):
            return routed
        if routed.tool == "transfer_to_card_security" or request.ask is Ask.HUMAN:
            return routed
    if ctx.has("get_balance"):
        return _call("get_balance", account=(request.account if request else None) or "all")
    if ctx.has("get_transactions"):
        return _transactions_call(request or Understanding(Ask.TRANSACTIONS))
    if ctx.has("list_cards"):
        return Reply(
            text="You're through to card security. I can lock or unlock a card, report "
            "one lost or stolen, or dispute a charge. What would you like to do?"
        )
    return Reply(text="How can I help?")


def _greeter_returning(ctx: Context, instructions: str) -> Reply:
    request = _latest_request(ctx)
    if "transfer kept bouncing" in instructions:
        return Reply(
            text="Sorry about the back and forth. In a few words, what would you like "
            "help with: your balance, your transactions, or a card?"
        )
    routable = (
        Ask.BALANCE,
        Ask.TRANSACTIONS,
        Ask.LOCK,
        Ask.UNLOCK,
        Ask.LOST,
        Ask.STOLEN,
        Ask.SUSPICIOUS,
        Ask.LIST_CARDS,
        Ask.DISPUTE,
        Ask.HUMAN,
    )
    if request is not None and request.ask in routable and ctx.tools:
        return _route(ctx, request, "")
    if request is not None and request.ask is Ask.GOODBYE:
        return Reply(text="Glad I could help. Is there anything else I can do for you today?")
    return Reply(text="Sure. What else can I help you with today?")


def _latest_request(ctx: Context) -> Understanding | None:
    """The caller's most recent meaningful request among the carried turns."""
    for text in reversed(ctx.user_messages()):
        u = understand(text)
        if u.ask not in (Ask.VERIFY, Ask.UNKNOWN, Ask.YES, Ask.NO):
            return u
    return None


def _last_four(value: str | None) -> str | None:
    return value if value and value.isdigit() and len(value) == 4 else None
