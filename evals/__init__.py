"""Evaluations against real models (`./dev eval`): conversation scenarios driven through the
real session and judged with livekit's `RunResult` expectations and an LLM judge."""

from .scenarios import SCENARIOS, Outcome, Scenario, run_scenario, run_scenarios

__all__ = ["SCENARIOS", "Outcome", "Scenario", "run_scenario", "run_scenarios"]
