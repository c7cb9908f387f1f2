"""The project's own packages import one another without cycles.

The graph is grimp's (the library behind import-linter). Imports under `if TYPE_CHECKING:`
count as edges here: a cycle only type checkers see still ties the two modules' design
together, and `from __future__ import annotations` keeps such imports cheap to avoid.
Imports inside functions count too (grimp reads every import statement).

Two checks: no module imports itself through others, and no two top-level packages import
each other (importing `pkg.mod` runs `pkg/__init__.py` too, which a module graph alone
does not show). `agent.py` is a single module, which grimp does not build a graph of; it is
covered by checking that no package imports it (a module nobody imports is on no cycle)."""

from __future__ import annotations

from pathlib import Path

import grimp
import pytest

PACKAGES = (
    "agents",
    "handoffs",
    "shared_state",
    "tools",
    "models",
    "token_service",
    "telephony",
    "local_stack",
)


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(
        *PACKAGES,
        include_external_packages=True,
        exclude_type_checking_imports=False,
        cache_dir=None,
    )


def module_cycles(graph: grimp.ImportGraph, packages: tuple[str, ...]) -> list[tuple[str, ...]]:
    """Every module cycle among `packages`, once each, starting at its smallest name."""

    def ours(module: str) -> bool:
        return module.split(".")[0] in packages

    cycles: set[tuple[str, ...]] = set()
    for module in sorted(m for m in graph.modules if ours(m)):
        for imported in graph.find_modules_directly_imported_by(module):
            if not ours(imported):
                continue
            back = graph.find_shortest_chain(importer=imported, imported=module)
            if back is not None:
                cycle = (module, *back[:-1])  # `back` ends where it started
                start = cycle.index(min(cycle))
                cycles.add(cycle[start:] + cycle[:start])
    return sorted(cycles)


def test_no_module_imports_itself_through_others(graph: grimp.ImportGraph) -> None:
    cycles = module_cycles(graph, PACKAGES)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_no_two_packages_import_each_other(graph: grimp.ImportGraph) -> None:
    both_ways = [
        (a, b)
        for i, a in enumerate(PACKAGES)
        for b in PACKAGES[i + 1 :]
        if graph.chain_exists(importer=a, imported=b, as_packages=True)
        and graph.chain_exists(importer=b, imported=a, as_packages=True)
    ]
    assert not both_ways, f"packages importing each other: {both_ways}"


def test_no_package_imports_the_agent_server(graph: grimp.ImportGraph) -> None:
    assert "agent" not in graph.modules, graph.find_modules_that_directly_import("agent")


def test_the_check_finds_a_cycle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The check can fail: a cycle through a `TYPE_CHECKING` import in a throwaway package
    is found, and an acyclic import next to it is not reported."""
    pkg = tmp_path / "cyclic_probe"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from cyclic_probe import b\n")
    (pkg / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from cyclic_probe import c\n"
    )
    (pkg / "c.py").write_text("import cyclic_probe.a\nimport cyclic_probe.d\n")
    (pkg / "d.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    probe = grimp.build_graph("cyclic_probe", exclude_type_checking_imports=False, cache_dir=None)
    assert module_cycles(probe, ("cyclic_probe",)) == [
        ("cyclic_probe.a", "cyclic_probe.b", "cyclic_probe.c")
    ]
