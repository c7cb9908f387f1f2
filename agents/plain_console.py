"""A line-based console for when stdin is not a terminal (piped input, CI, scripted demos).

livekit's console needs a TTY for its key handling; this runs the very same session,
agents, tools and model, one caller line per input line, and prints each agent line with
the desk that spoke it and every handoff as it happens."""

from __future__ import annotations

import asyncio
import sys
from typing import Any, TextIO

from livekit.agents import llm
from livekit.agents.voice.run_result import AgentHandoffEvent, ChatMessageEvent, RunResult

from shared_state import SessionState
from tools.db import Database, database_url

from .greeter import Greeter
from .session import new_session


def _print_events(result: RunResult[Any], out: TextIO) -> None:
    for event in result.events:
        if isinstance(event, AgentHandoffEvent) and event.old_agent is not None:
            old = getattr(event.old_agent, "agent_id", "?")
            new = getattr(event.new_agent, "agent_id", "?")
            print(f"  -- handoff: {old} -> {new}", file=out)
        elif isinstance(event, ChatMessageEvent) and event.item.role == "assistant":
            desk = getattr(event.item, "extra", {}).get("desk") or "agent"
            print(f"{desk}: {event.item.text_content}", file=out)
    out.flush()


def _quiet_logs() -> None:
    import logging

    logging.basicConfig(level=logging.ERROR)
    logging.getLogger("livekit").setLevel(logging.ERROR)


async def run_plain_console(
    model: llm.LLM[Any], *, stdin: TextIO = sys.stdin, out: TextIO = sys.stdout
) -> None:
    _quiet_logs()
    db = await Database.connect(await asyncio.to_thread(database_url))
    state = SessionState(db=db, channel="console")
    try:
        async with new_session(state, llm=model) as session:

            @session.on("conversation_item_added")
            def _tag_desk(ev: object) -> None:
                item = getattr(ev, "item", None)
                if isinstance(item, llm.ChatMessage) and item.role == "assistant":
                    item.extra["desk"] = state.current_agent or "greeter"

            _print_events(await session.start(Greeter(), capture_run=True), out)
            loop = asyncio.get_running_loop()
            while True:
                print("you> ", end="", file=out, flush=True)
                line = await loop.run_in_executor(None, stdin.readline)
                if not line:
                    break
                text = line.strip()
                if not text:
                    continue
                print(text, file=out) if not stdin.isatty() else None
                _print_events(await session.run(user_input=text), out)
    finally:
        await db.close()
