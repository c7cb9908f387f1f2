"""What the offline model understands of every caller line the tests use, as a snapshot to
compare before and after a change to models/offline_nlu.py, intents.py or the intent table.

    uv run python -m bench.nlu_snapshot /tmp/before.json
    # ... change the understanding ...
    uv run python -m bench.nlu_snapshot /tmp/after.json --against /tmp/before.json

The lines are the string arguments of `say(...)` and `understand(...)` calls and the first
strings of `pytest.mark.parametrize` rows in tests/, and the hostile cases' caller text. Each
difference is printed (the request, what else was asked, and every slot) for a person to
judge: an improvement to keep, or a regression to fix. Not a benchmark: no timing."""

from __future__ import annotations

import argparse
import ast
import dataclasses
import json
from pathlib import Path

from models.offline_nlu import understand

TESTS = Path(__file__).resolve().parent.parent / "tests"


def _first_strings(node: ast.AST) -> list[str]:
    """String arguments of say()/understand() and the first strings of parametrize rows."""
    found: list[str] = []
    for call in (n for n in ast.walk(node) if isinstance(n, ast.Call)):
        name = getattr(call.func, "attr", getattr(call.func, "id", ""))
        args = call.args
        if name in ("say", "understand") and args and isinstance(args[0], ast.Constant):
            found.append(str(args[0].value))
        elif name == "parametrize" and len(args) > 1 and isinstance(args[1], ast.List):
            for row in args[1].elts:
                first = row.elts[0] if isinstance(row, ast.Tuple) and row.elts else row
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    found.append(first.value)
    return found


def caller_lines() -> list[str]:
    lines = {s for p in TESTS.rglob("*.py") for s in _first_strings(ast.parse(p.read_text()))}
    hostile = json.loads((TESTS / "data" / "hostile_cases.json").read_text())
    for case in hostile["cases"]:
        said = case.get("caller_text", [])
        lines.update(said if isinstance(said, list) else [said])
    return sorted(lines)


def snapshot() -> dict[str, dict[str, object]]:
    out: dict[str, dict[str, object]] = {}
    for line in caller_lines():
        u = understand(line)
        row = {k: v for k, v in dataclasses.asdict(u).items() if k != "extras"}
        row.update(ask=str(u.ask), then=str(u.then) if u.then else None, window=str(u.window))
        row["extras"] = {k: v for k, v in u.extras.items() if k != "text"}
        out[line] = row
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--against", type=Path, help="an earlier snapshot to compare with")
    args = parser.parse_args()
    now = snapshot()
    args.out.write_text(json.dumps(now, indent=1, sort_keys=True))
    if args.against is None:
        print(f"{len(now)} caller lines understood -> {args.out}")
        return
    before = json.loads(args.against.read_text())
    changed = 0
    for line in sorted(now.keys() & before.keys()):
        diff = [k for k in now[line] if now[line][k] != before[line].get(k)]
        if diff:
            changed += 1
            print(
                f"{line[:80]!r}: "
                + "; ".join(f"{k}: {before[line].get(k)} -> {now[line][k]}" for k in diff)
            )
    print(f"{changed} of {len(now.keys() & before.keys())} caller lines understood differently")


if __name__ == "__main__":
    main()
