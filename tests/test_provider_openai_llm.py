"""The real `livekit.plugins.openai.LLM` (the pipeline mode's LLM) through our session,
against a local stand-in of the Chat Completions API that refuses what the API would refuse.

Every test's stand-in must end with no refused request: a tool schema, role or tool-call
id the provider would reject fails the test (see `test_the_stand_in_refuses_...`)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from livekit.agents import APIConnectOptions, RunContext, function_tool
from livekit.agents.voice.agent_session import SessionConnectOptions
from livekit.plugins import openai
from security_helpers import settle
from standins.openai_chat import Call, Cut, HttpError, OpenAIChatStandIn, Stall
from standins.openai_rules import function_schema_errors, request_errors

from agents import AGENTS, BalanceAgent, CardSecurityAgent, Greeter, new_session
from agents.session import APOLOGY
from agents.verification import bind_principal
from shared_state import Assurance, HandoffBrief, SessionState
from tools.db import Database
from tools.money import format_cents

ONE_TRY = SessionConnectOptions(
    llm_conn_options=APIConnectOptions(max_retry=0, retry_interval=0.01, timeout=5.0),
    max_unrecoverable_errors=1_000_000,
)


@pytest.fixture
async def standin() -> AsyncIterator[OpenAIChatStandIn]:
    server = OpenAIChatStandIn()
    await server.start()
    yield server
    await server.stop()
    assert server.rejections == [], f"the provider would refuse: {server.rejections}"
    assert server.remaining == 0, f"{server.remaining} stand-in turn(s) never requested"


def real_llm(standin: OpenAIChatStandIn) -> openai.LLM:
    # The same class and options as models.selection.build_models("pipeline"), aimed at the
    # stand-in (a dummy key: the plugin refuses to construct without one).
    return openai.LLM(model="gpt-4.1-mini", base_url=standin.base_url, api_key="sk-test")


def assistant_lines(session: Any) -> list[str]:
    return [
        i.text_content or ""
        for i in session.history.items
        if i.type == "message" and i.role == "assistant"
    ]


async def opened(session: Any, n: int = 1) -> None:
    for _ in range(300):  # the desk's opening line lands asynchronously
        if len(assistant_lines(session)) >= n:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"no opening line: {assistant_lines(session)}")


async def verified_state(db: Database) -> SessionState:
    state = SessionState(db=db, channel="console")
    bind_principal(state, await db.customer_by_number("1001"), Assurance.PIN)
    state.brief = HandoffBrief(from_agent="greeter")
    return state


def last_tool_output(body: dict[str, Any]) -> dict[str, Any]:
    """The newest tool message: the last message, or (a desk's opening over the read it made
    on entry) the last before the opening's system instructions."""
    messages = [m for m in body["messages"] if m["role"] != "system"]
    msg = messages[-1]
    assert msg["role"] == "tool", msg
    return json.loads(msg["content"])  # type: ignore[no-any-return]


async def test_every_agent_tool_schema_is_one_the_provider_accepts() -> None:
    """All four desks' tools, exactly as the plugin sends them (strict), pass the API's rules.
    The session tests below exercise them on the wire; this covers every tool at once."""
    from livekit.agents import llm
    from livekit.agents.llm.utils import build_strict_openai_schema

    for agent_id, cls in AGENTS.items():
        agent = cls()
        tools = [t for t in agent.tools if isinstance(t, llm.FunctionTool)]
        assert tools, agent_id
        for tool in tools:
            fn = build_strict_openai_schema(tool)["function"]
            assert function_schema_errors(fn) == [], (agent_id, fn)


async def test_verification_then_handoff_through_the_real_plugin(
    db: Database, standin: OpenAIChatStandIn
) -> None:
    """Streamed tool calls from the real client drive verification and the handoff; the
    new desk opens with the streamed text and answers from the database."""
    alice = await db.customer_by_number("1001")
    checking = (await db.accounts(alice.id))[0]
    standin.push(
        Call("verify_identity", {"customer_number": "1001", "pin": "1234"}),
        "Thanks Alice, you're verified.",
    )
    state = SessionState(db=db, channel="console")
    async with new_session(state, llm=real_llm(standin), conn_options=ONE_TRY) as session:
        await session.start(Greeter())
        result = await session.run(user_input="My customer number is 1001 and my PIN is 1234")
        result.expect.next_event().is_function_call(name="verify_identity")
        result.expect.next_event().is_function_call_output(is_error=False)
        result.expect.next_event().is_message(role="assistant")
        assert state.is_verified and state.principal is not None
        # the PIN reached the provider once, in the call it made, and never after
        assert "1234" not in json.dumps(standin.requests[-1]["messages"])
        assert standin.tools_of(0) == [
            "transfer_to_balance", "transfer_to_card_security", "transfer_to_human",
            "transfer_to_transactions", "verify_identity",
        ]  # fmt: skip

        # the handoff turn: two model calls. The desk reads the named account on entry and
        # the provider sees that read as a tool call and its output in the desk's one call.
        requests_before = len(standin.requests)
        standin.push(
            Call("transfer_to_balance", {"reason": "balance", "account": "checking"}),
            lambda body: f"Your checking balance is {last_tool_output(body)['say']}",
        )
        result = await session.run(user_input="What's my checking balance?")
        assert len(standin.requests) == requests_before + 2
        result.expect.next_event().is_message(role="assistant")  # the acknowledgement
        result.expect.next_event().is_function_call(name="transfer_to_balance")
        result.expect.next_event().is_function_call_output()
        result.expect.next_event().is_agent_handoff(new_agent_type=BalanceAgent)
        result.expect.next_event().is_function_call(
            name="get_balance", arguments={"account": "checking"}
        )
        result.expect.next_event().is_function_call_output(is_error=False)
        text = result.expect.next_event().is_message(role="assistant").event().item.text_content
        assert format_cents(checking.available_balance_cents) in (text or "")
        assert isinstance(session.current_agent, BalanceAgent)
        # the new desk's requests carry its own tools, not the greeter's
        assert "get_balance" in standin.tools_of(-1)
        assert "verify_identity" not in standin.tools_of(-1)
    await settle(state)


async def test_tool_call_with_optional_and_choice_arguments(
    db: Database, standin: OpenAIChatStandIn
) -> None:
    """A card tool called the way a strict-mode model calls it: every property present,
    the unused optional ones as null (livekit's sentinel for "use the default"), and the
    choice argument (`kind`) from its enum."""
    standin.push("Card security here.")
    async with new_session(
        await verified_state(db), llm=real_llm(standin), conn_options=ONE_TRY
    ) as session:
        await session.start(CardSecurityAgent())
        await opened(session)
        schema = next(
            t["function"]
            for t in standin.requests[0]["tools"]
            if t["function"]["name"] == "report_card_lost_or_stolen"
        )
        props = schema["parameters"]["properties"]
        assert schema["strict"] is True
        assert props["kind"]["enum"][:2] == ["lost", "stolen"]
        assert set(schema["parameters"]["required"]) == set(props)

        args = {"card_last_four": None, "kind": "stolen", "card_type": "credit", "confirm": None}
        standin.push(
            Call("report_card_lost_or_stolen", args),
            lambda body: last_tool_output(body)["say"],
        )
        result = await session.run(user_input="my credit card was stolen")
        call = result.expect.next_event().is_function_call(name="report_card_lost_or_stolen")
        assert json.loads(call.event().item.arguments) == args
        output = result.expect.next_event().is_function_call_output(is_error=False).event().item
        envelope = json.loads(output.output)
        assert envelope["outcome"]["type"] == "needs_confirmation", envelope
        assert "5454" in envelope["say"]  # Alice's credit card, read back before any write
        cards = await db.cards(state_customer(session))
        assert all(c.status == "active" for c in cards if c.last_four == "5454")
    await settle(session.userdata)


def state_customer(session: Any) -> int:
    return int(session.userdata.principal.customer_id)


async def test_429_then_500_then_recovery_apologises_once(
    db: Database, standin: OpenAIChatStandIn
) -> None:
    """The provider rate-limits, the retry gets a 500: the caller hears one apology (not
    one per attempt), and the next turn works against the recovered provider."""
    standin.push("Balance desk.")
    retry_once = SessionConnectOptions(
        llm_conn_options=APIConnectOptions(max_retry=1, retry_interval=0.01, timeout=5.0),
        max_unrecoverable_errors=1_000_000,
    )
    async with new_session(
        await verified_state(db), llm=real_llm(standin), conn_options=retry_once
    ) as session:
        await session.start(BalanceAgent())
        await opened(session)
        before = len(assistant_lines(session))
        standin.push(
            HttpError(429, "Rate limit reached"), HttpError(500, "The server had an error")
        )
        await asyncio.wait_for(session.run(user_input="what's my balance?"), 15)
        await asyncio.sleep(0.1)  # the apology is spoken from the session's error event
        assert assistant_lines(session)[before:] == [APOLOGY]
        assert [getattr(r, "status", None) for r in standin.replies[-2:]] == [429, 500]

        standin.push("I'm here. Which account?")
        await asyncio.wait_for(session.run(user_input="hello?"), 15)
        assert assistant_lines(session)[before:] == [APOLOGY, "I'm here. Which account?"]
    await settle(session.userdata)


async def test_a_stream_cut_mid_reply_gets_the_apology_and_the_call_goes_on(
    db: Database, standin: OpenAIChatStandIn
) -> None:
    """The connection drops after a few words: the half reply is not retried (it was
    already heard), the caller gets the apology, and the next turn works."""
    standin.push("Balance desk.")
    async with new_session(
        await verified_state(db), llm=real_llm(standin), conn_options=ONE_TRY
    ) as session:
        await session.start(BalanceAgent())
        await opened(session)
        before = len(assistant_lines(session))
        standin.push(Cut("Your checking account has an available"))
        await asyncio.wait_for(session.run(user_input="what's my balance?"), 15)
        await asyncio.sleep(0.1)
        said = assistant_lines(session)[before:]
        assert said[-1] == APOLOGY and said.count(APOLOGY) == 1, said
        assert len(standin.requests) == 2  # no silent retry of a reply already under way

        standin.push("Sorry about that. Which account?")
        await asyncio.wait_for(session.run(user_input="are you there?"), 15)
        assert assistant_lines(session)[-1] == "Sorry about that. Which account?"
    await settle(session.userdata)


async def test_a_provider_that_hangs_times_out_into_the_apology(
    db: Database, standin: OpenAIChatStandIn
) -> None:
    """No answer within the request timeout: the plugin's timeout, not silence."""
    standin.push("Balance desk.")
    quick = SessionConnectOptions(
        llm_conn_options=APIConnectOptions(max_retry=0, retry_interval=0.01, timeout=0.5),
        max_unrecoverable_errors=1_000_000,
    )
    async with new_session(
        await verified_state(db), llm=real_llm(standin), conn_options=quick
    ) as session:
        await session.start(BalanceAgent())
        await opened(session)
        before = len(assistant_lines(session))
        standin.push(Stall(1.5))
        await asyncio.wait_for(session.run(user_input="what's my balance?"), 15)
        await asyncio.sleep(0.1)
        assert assistant_lines(session)[before:] == [APOLOGY]
        standin.push("Still here. Which account?")
        await asyncio.wait_for(session.run(user_input="hello?"), 15)
        assert assistant_lines(session)[-1] == "Still here. Which account?"
    await settle(session.userdata)


class _AgentWithAnOpenMap(BalanceAgent):
    """A tool whose argument is a free-form map: its JSON schema has
    `additionalProperties: {type: integer}`, which strict mode refuses."""

    @function_tool
    async def set_limits(self, ctx: RunContext[SessionState], limits: dict[str, int]) -> str:
        """Set spending limits per category.

        Args:
            limits: category name to limit in cents
        """
        return "ok"


async def test_the_stand_in_refuses_a_schema_the_provider_would_refuse(db: Database) -> None:
    """The guard the other tests rely on: a tool schema strict mode refuses gets a 400 (so
    the turn fails and the fixture's `rejections == []` check fails the test)."""
    bad = OpenAIChatStandIn("never sent")
    await bad.start()
    try:
        async with new_session(
            await verified_state(db), llm=real_llm(bad), conn_options=ONE_TRY
        ) as session:
            await session.start(_AgentWithAnOpenMap())
            for _ in range(300):
                if bad.rejections:
                    break
                await asyncio.sleep(0.01)
    finally:
        await bad.stop()
        await settle(session.userdata)
    assert bad.requests == [] and bad.remaining == 1
    assert any(
        "set_limits" in e and "additionalProperties' must be false" in e for e in bad.rejections[0]
    ), bad.rejections


def test_the_rules_catch_what_the_api_refuses() -> None:
    ok_tool = {
        "type": "function",
        "function": {
            "name": "get_balance",
            "strict": True,
            "parameters": {
                "type": "object",
                "properties": {"account": {"type": ["string", "null"], "enum": ["all", None]}},
                "required": ["account"],
                "additionalProperties": False,
            },
        },
    }
    user = {"role": "user", "content": "hi"}
    good = {"model": "m", "stream": True, "messages": [user], "tools": [ok_tool]}
    assert request_errors(good) == []

    def errors_with(**changes: Any) -> str:
        return "; ".join(request_errors({**good, **changes}))

    optional_not_required = json.loads(json.dumps(ok_tool))
    optional_not_required["function"]["parameters"]["required"] = []
    assert "every property must be in 'required'" in errors_with(tools=[optional_not_required])
    with_default = json.loads(json.dumps(ok_tool))
    with_default["function"]["parameters"]["properties"]["account"]["default"] = "all"
    assert "'default' is not permitted" in errors_with(tools=[with_default])
    bad_name = json.loads(json.dumps(ok_tool))
    bad_name["function"]["name"] = "get balance"
    assert "does not match" in errors_with(tools=[bad_name])
    assert "only allowed when 'tools'" in errors_with(tools=None, tool_choice="auto")

    call = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    asked = {"role": "assistant", "content": None, "tool_calls": [call]}
    answered = {"role": "tool", "tool_call_id": "call_1", "content": "{}"}
    assert errors_with(messages=[user, asked, answered, user]) == ""
    assert "must be followed by tool messages" in errors_with(messages=[user, asked, user])
    orphan = {**answered, "tool_call_id": "call_2"}
    assert "must be a response to a preceding" in errors_with(messages=[user, asked, orphan])
    assert "is not one of" in errors_with(messages=[{"role": "function", "content": "x"}])
