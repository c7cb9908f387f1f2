"""Drive a real session with the offline model, the way a caller types into the demo."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from livekit.agents import AgentSession, llm

from agents import Greeter, new_session
from models import OfflineBankLLM
from shared_state import SessionState
from tools.db import Database


@dataclass
class Turn:
    said: str
    replies: list[str] = field(default_factory=list)
    tools: list[str] = field(default_factory=list)
    handoffs: list[str] = field(default_factory=list)
    agent: str | None = None
    model_calls: int = 0  # sequential model calls this turn (offline model: one per chat())

    @property
    def text(self) -> str:
        return " ".join(self.replies)


class CountingOfflineLLM(OfflineBankLLM):
    """The offline model, counting its calls (each one a round trip with a hosted model)."""

    calls = 0

    def chat(self, **kwargs: Any) -> llm.LLMStream:
        self.calls += 1
        return super().chat(**kwargs)


class OfflineCall:
    def __init__(self, db: Database, **state_kwargs: Any) -> None:
        self.state = SessionState(
            db=db, channel=state_kwargs.pop("channel", "console"), **state_kwargs
        )
        self.model = CountingOfflineLLM()
        self.session: AgentSession[SessionState] = new_session(self.state, llm=self.model)
        self.opening: list[str] = []

    async def __aenter__(self) -> OfflineCall:
        await self.session.__aenter__()
        result = await self.session.start(Greeter(), capture_run=True)
        self.opening = [e.item.text_content or "" for e in result.events if e.type == "message"]
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.session.__aexit__(None, None, None)

    async def say(self, text: str) -> Turn:
        calls_before = self.model.calls
        result = await self.session.run(user_input=text)
        turn = Turn(text, model_calls=self.model.calls - calls_before)
        for event in result.events:
            if event.type == "message" and event.item.role == "assistant":
                turn.replies.append(event.item.text_content or "")
            elif event.type == "function_call":
                turn.tools.append(event.item.name)
            elif event.type == "agent_handoff":
                turn.handoffs.append(getattr(event.new_agent, "agent_id", "?"))
        turn.agent = self.state.current_agent
        return turn
