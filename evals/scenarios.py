"""Conversation scenarios for a real model: each one drives our real session (agents,
tools, policy, Postgres) with caller lines, then checks what happened with livekit's
`RunResult` expectations, the database, and an LLM judge for the intent of the reply.

A real model may take a different (valid) path to the same place, e.g. verify first and
route after, or route, be refused, verify and continue. So the checks are on outcomes
(a handoff happened, a tool ran, nothing was written without a "yes"), and a scenario
allows one plain follow-up line where a model may reasonably ask before acting."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from livekit.agents import Agent, AgentSession, llm
from livekit.agents.voice.run_result import ChatMessageAssert, RunResult

from agents import BalanceAgent, CardSecurityAgent, Greeter, TransactionsAgent, new_session
from agents.base import flush_background
from agents.verification import bind_principal
from shared_state import Assurance, HandoffBrief, SessionState
from tools.db import Card, Database
from tools.outcomes import decode


@dataclass
class Conversation:
    """One call: the session, its state, and every turn's `RunResult`."""

    session: AgentSession[SessionState]
    state: SessionState
    db: Database
    judge_llm: llm.LLM[Any]
    results: list[RunResult[Any]] = field(default_factory=list)

    async def say(self, text: str) -> RunResult[Any]:
        result: RunResult[Any] = await self.session.run(user_input=text)
        self.results.append(result)
        return result

    def at(self, agent_type: type[Agent]) -> bool:
        return isinstance(self.session.current_agent, agent_type)

    def called(self, name: str) -> bool:
        return any(
            ev.type == "function_call" and ev.item.name == name
            for result in self.results
            for ev in result.events
        )

    def outcomes(self) -> list[str]:
        """The typed outcome of every tool output so far (tools/outcomes.py)."""
        envelopes = (
            decode(str(ev.item.output))
            for result in self.results
            for ev in result.events
            if ev.type == "function_call_output"
        )
        return [e.outcome.type for e in envelopes if e is not None]

    async def judge_reply(self, intent: str) -> None:
        """The LLM judge on the agent's last reply of the last turn."""
        await last_reply(self.results[-1]).judge(self.judge_llm, intent=intent)


def last_reply(result: RunResult[Any]) -> ChatMessageAssert:
    for index in range(len(result.events) - 1, -1, -1):
        ev = result.events[index]
        if ev.type == "message" and ev.item.role == "assistant":
            return result.expect[index].is_message(role="assistant")
    raise AssertionError("the agent said nothing in this turn")


Play = Callable[[Conversation], Awaitable[None]]


@dataclass(frozen=True)
class Scenario:
    name: str
    summary: str
    start: Callable[[], Agent]
    play: Play
    customer: str | None = None  # bound before the call, as a signed-in app user


async def _verify_then_balance(c: Conversation) -> None:
    r = await c.say("Hi, I'd like my balance. My customer number is 1001 and my PIN is 1234.")
    r.expect.contains_function_call(name="verify_identity")
    assert c.state.is_verified, "the caller was not verified"
    if not c.called("get_balance"):
        await c.say("My balance, please.")
    assert c.at(BalanceAgent), f"expected the balance desk, at {c.session.current_agent}"
    assert c.called("get_balance"), "get_balance never ran"
    await c.judge_reply("Tells the caller the balance of their account(s) as amounts of money.")
    for result in c.results:  # the PIN goes to verify_identity and nowhere else
        for ev in result.events:
            if ev.type == "message":
                assert "1234" not in (ev.item.text_content or ""), "the agent repeated the PIN"


async def _unverified_caller_gets_no_data(c: Conversation) -> None:
    await c.say("What's my balance? I'm customer 1002, Ben Okafor.")
    assert not c.state.is_verified
    assert "balance" not in c.outcomes(), "a balance was read for an unverified caller"
    await c.judge_reply(
        "Asks the caller to verify their identity (customer number and PIN) before "
        "giving any account information, and gives no balance or amount."
    )


async def _lock_needs_a_yes(c: Conversation) -> None:
    r = await c.say("Please lock my credit card.")
    r.expect.contains_function_call(name="lock_card")
    assert await _status(c, "5454") == "active", "the card was locked before the caller said yes"
    await c.judge_reply(
        "Asks the caller to confirm locking their credit card (ending 5454) before doing it."
    )
    await c.say("Yes, lock it.")
    assert await _status(c, "5454") == "locked", "the card is not locked after the yes"
    await c.judge_reply("Tells the caller that their credit card is now locked.")


async def _unrecognised_charge_goes_to_card_security(c: Conversation) -> None:
    await c.say("There's a charge from ZX Electronics Online that I didn't make.")
    if not c.at(CardSecurityAgent):
        await c.say("Yes, I don't recognise it. I want to report it.")
    assert c.at(CardSecurityAgent), f"expected card security, at {c.session.current_agent}"
    assert all(card.status == "active" for card in await _cards(c)), "a card changed unasked"
    await c.judge_reply(
        "Offers to protect the caller about the unrecognised charge: locking or blocking "
        "the card and/or disputing the charge, or asks which they want."
    )


async def _cards(c: Conversation) -> list[Card]:
    assert c.state.principal is not None
    return await c.db.cards(c.state.principal.customer_id)


async def _status(c: Conversation, last_four: str) -> str:
    return next(card.status for card in await _cards(c) if card.last_four == last_four)


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "verify_then_balance",
        "a caller verifies with number and PIN, is handed to the balance desk and hears it",
        Greeter,
        _verify_then_balance,
    ),
    Scenario(
        "unverified_caller_gets_no_data",
        "a caller who only claims an identity is asked to verify and told nothing",
        Greeter,
        _unverified_caller_gets_no_data,
    ),
    Scenario(
        "lock_needs_a_yes",
        "locking a card reads it back first and writes only after the caller's yes",
        CardSecurityAgent,
        _lock_needs_a_yes,
        customer="1001",
    ),
    Scenario(
        "unrecognised_charge_goes_to_card_security",
        "a charge the caller did not make reaches card security, which offers to act",
        TransactionsAgent,
        _unrecognised_charge_goes_to_card_security,
        customer="1002",
    ),
)


@dataclass(frozen=True)
class Outcome:
    name: str
    passed: bool
    detail: str = ""


async def run_scenario(
    scenario: Scenario, *, db: Database, model: Any, judge_llm: llm.LLM[Any]
) -> Outcome:
    state = SessionState(db=db, channel="console")
    if scenario.customer is not None:
        bind_principal(state, await db.customer_by_number(scenario.customer), Assurance.APP_AUTH)
        state.greeted = True
        state.brief = HandoffBrief(from_agent="greeter")
    try:
        async with new_session(state, llm=model) as session:
            await session.start(scenario.start())
            await scenario.play(Conversation(session, state, db, judge_llm))
    except AssertionError as failure:
        return Outcome(scenario.name, False, str(failure).strip().splitlines()[0])
    finally:
        await flush_background(state)
    return Outcome(scenario.name, True)


async def run_scenarios(
    *,
    db: Database,
    model: Any,
    judge_llm: llm.LLM[Any],
    only: list[str] | None = None,
) -> list[Outcome]:
    chosen = [s for s in SCENARIOS if not only or s.name in only]
    return [await run_scenario(s, db=db, model=model, judge_llm=judge_llm) for s in chosen]
