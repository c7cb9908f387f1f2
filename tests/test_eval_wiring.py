"""`./dev eval` is known to run: its entry point, model construction from the environment,
every scenario, `RunResult` expectations and the LLM judge, all against the local Chat
Completions stand-in (which also refuses any request the real API would refuse). The
stand-in plays a well-behaved model here; what a real model does is the evals' business."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from standins.openai_chat import Call, OpenAIChatStandIn

import evals.__main__ as eval_cli
from evals import SCENARIOS


def well_behaved_model(verdict: bool) -> Any:
    """Answers like a model following our prompts would, from the request alone; as the
    judge, answers `check_intent` with `verdict`."""

    def respond(body: dict[str, Any]) -> Any:
        tools = {t["function"]["name"] for t in body.get("tools", [])}
        messages = body["messages"]
        if "check_intent" in tools:
            assert body["tool_choice"] == "required"
            return Call("check_intent", {"success": verdict, "reason": "stand-in verdict"})
        if messages[-1]["role"] == "tool":
            content = messages[-1]["content"]
            return json.loads(content)["say"] if content.startswith("{") else "Anything else?"
        users = [i for i, m in enumerate(messages) if m["role"] == "user"]
        if not users:
            return "You're through to this desk. How can I help?"
        text = str(messages[users[-1]]["content"]).lower()
        called = {
            c["function"]["name"]
            for m in messages[users[-1] + 1 :]
            for c in m.get("tool_calls") or []
        }

        def call(name: str, **args: Any) -> Call | None:
            return Call(name, args) if name in tools and name not in called else None

        pin = re.search(r"customer number is (\d+) and my pin is (\d+)", text)
        choices = [
            pin and call("verify_identity", customer_number=pin[1], pin=pin[2]),
            "balance" in text
            and (call("get_balance", account="all") or call("transfer_to_balance", reason="bal")),
            "didn't make" in text
            and call(
                "transfer_to_card_security",
                reason="unrecognised charge",
                merchant="ZX Electronics Online",
                transaction_ref=None,
            ),
            "lock my credit card" in text
            and call("lock_card", card_last_four=None, card_type="credit", confirm=False),
            text.startswith("yes, lock")
            and call("lock_card", card_last_four=None, card_type="credit", confirm=True),
        ]
        for choice in choices:
            if choice:
                return choice
        if "lock_card" in tools:
            return "I can lock the card or dispute the charge. Which would you like?"
        return "First I need to verify you: please tell me your customer number and PIN."

    return respond


@pytest.fixture
async def standin(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[OpenAIChatStandIn]:
    server = OpenAIChatStandIn()
    await server.start()
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    yield server
    await server.stop()
    assert server.rejections == [], f"the provider would refuse: {server.rejections}"


async def test_every_scenario_runs_through_the_eval_entry_point(
    dsn: str, standin: OpenAIChatStandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    standin.fallback = well_behaved_model(verdict=True)
    outcomes = await eval_cli.run(dsn=dsn)
    assert eval_cli.report(outcomes) == 0, capsys.readouterr().out
    assert [o.name for o in outcomes] == [s.name for s in SCENARIOS]
    assert all(o.passed for o in outcomes), outcomes
    out = capsys.readouterr().out
    assert f"eval: {len(SCENARIOS)} passed, 0 failed" in out
    # the configured model and the judge both went to the endpoint the environment named
    judged = [r for r in standin.requests if r.get("tool_choice") == "required"]
    assert len(judged) >= len(SCENARIOS)
    assert {r["model"] for r in standin.requests} == {"gpt-4.1-mini"}


async def test_a_judge_saying_no_fails_the_scenario(
    dsn: str, standin: OpenAIChatStandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    standin.fallback = well_behaved_model(verdict=False)
    outcomes = await eval_cli.run(dsn=dsn, only=["unverified_caller_gets_no_data"])
    assert eval_cli.report(outcomes) == 1
    assert len(outcomes) == 1 and not outcomes[0].passed
    assert "Judgement failed: stand-in verdict" in outcomes[0].detail
    assert "FAIL  unverified_caller_gets_no_data" in capsys.readouterr().out


def test_without_keys_the_eval_is_skipped_with_one_line() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "BANK_MODEL"))}
    done = subprocess.run(
        [sys.executable, "-m", "evals"],
        env=env,
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [eval_cli.SKIP_LINE]
