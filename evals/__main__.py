"""`./dev eval` (= `python -m evals`): the conversation scenarios against the configured real
model, judged by an LLM. Skipped, with one line, when no OpenAI key is set.

The model is the one the agent would use: `realtime` mode's Realtime model when
BANK_MODEL_MODE=realtime, else the pipeline's OpenAI LLM (OPENAI_MODEL). The evals are
text conversations, so Deepgram and ElevenLabs keys are not needed. The judge is an
OpenAI LLM too (EVAL_JUDGE_MODEL, default OPENAI_MODEL). OPENAI_BASE_URL points both at
another OpenAI-compatible endpoint. The data is the demo bank in a throwaway embedded
Postgres (or EVAL_DATABASE_URL, a database the evals may write to)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from models.selection import build_models, pipeline_llm
from tools.db import APP_LOGIN, Database, EmbeddedPostgres, login_as, migrate, seed_demo

from .scenarios import SCENARIOS, Outcome, run_scenarios

SKIP_LINE = "eval: skipped (OPENAI_API_KEY is not set; the evals run against the real models)"


def configured_model() -> Any:
    if os.environ.get("BANK_MODEL_MODE", "").strip().lower() == "realtime":
        return build_models("realtime").llm
    return pipeline_llm()


async def run(
    *, dsn: str | None = None, app_dsn: str | None = None, only: list[str] | None = None
) -> list[Outcome]:
    """Run the scenarios on a database at `dsn` (the owner's login: migrated and seeded
    here; the agents use `app_dsn`, default the `bank_app` login of it), or on a
    throwaway embedded Postgres."""
    server = None
    if dsn is None:
        server = EmbeddedPostgres(
            Path(tempfile.mkdtemp(prefix="bank-eval-pg-")), cleanup_mode="delete"
        )
        dsn = server.dsn
    try:
        await migrate(dsn)
        await seed_demo(dsn, reset=True)  # a reused EVAL_DATABASE_URL starts from the demo state
        db = await Database.connect(app_dsn or login_as(dsn, APP_LOGIN))
        model, judge = configured_model(), pipeline_llm(os.environ.get("EVAL_JUDGE_MODEL"))
        try:
            return await run_scenarios(db=db, model=model, judge_llm=judge, only=only)
        finally:
            await db.close()
            for closing in (model, judge):
                await closing.aclose()
    finally:
        if server is not None:
            server.cleanup()


def report(outcomes: list[Outcome]) -> int:
    for outcome in outcomes:
        mark = "PASS" if outcome.passed else "FAIL"
        print(f"{mark}  {outcome.name}" + (f": {outcome.detail}" if outcome.detail else ""))
    failed = sum(not o.passed for o in outcomes)
    print(f"eval: {len(outcomes) - failed} passed, {failed} failed")
    return 1 if failed or not outcomes else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="./dev eval", description=__doc__.split("\n\n")[0])
    parser.add_argument("scenario", nargs="*", help="run only these scenarios (default: all)")
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    args = parser.parse_args(argv)
    if args.list:
        for scenario in SCENARIOS:
            print(f"{scenario.name}: {scenario.summary}")
        return 0
    unknown = set(args.scenario) - {s.name for s in SCENARIOS}
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    if not os.environ.get("OPENAI_API_KEY"):
        print(SKIP_LINE)
        return 0
    url = os.environ.get("EVAL_DATABASE_URL")  # one login for all, like DATABASE_URL
    outcomes = asyncio.run(run(dsn=url, app_dsn=url, only=args.scenario))
    return report(outcomes)


if __name__ == "__main__":
    sys.exit(main())
