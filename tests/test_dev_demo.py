"""`./dev demo` as a user runs it (piped input), against its own embedded Postgres in a
temporary directory: the server it started is stopped when it ends; one that was already
running is left running."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tools.db import EmbeddedPostgres
from tools.db.embedded import embedded_running

PROJECT = Path(__file__).resolve().parents[1]
LINES = "what's my balance\n1001 1234\ngoodbye\n"


@pytest.fixture(scope="module")
def pgdata() -> Iterator[Path]:
    """One cluster for both tests (initdb is the slow part on a loaded machine)."""
    path = Path(tempfile.mkdtemp(prefix="bank-demo-pg-"))
    yield path
    if embedded_running(path):
        EmbeddedPostgres(path, cleanup_mode=None).stop()
    shutil.rmtree(path, ignore_errors=True)


def _demo(pgdata: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATABASE_")}
    env |= {"BANK_PGDATA": str(pgdata), "BANK_MODEL_MODE": "offline"}
    return subprocess.run(
        ["./dev", "demo"],
        cwd=PROJECT,
        env=env,
        input=LINES,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_demo_stops_the_postgres_it_started(pgdata: Path) -> None:
    done = _demo(pgdata)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "balance" in done.stdout and "Goodbye" in done.stdout  # the demo really ran
    assert not embedded_running(pgdata)
    assert "Traceback" not in done.stderr, done.stderr


def test_demo_leaves_a_postgres_that_was_already_running(pgdata: Path) -> None:
    # started before the demo, as ./dev stack does
    EmbeddedPostgres(pgdata, cleanup_mode=None).start()
    assert embedded_running(pgdata)
    done = _demo(pgdata)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Goodbye" in done.stdout
    assert embedded_running(pgdata)
