"""The real stack for end-to-end tests: a livekit-server built from its Go module, the Agent
Server (`agent.py dev`, keyless) and the token service, each a real process on free loopback
ports, against a database cloned from the seeded template.

Locally these tests are skipped (one line from `./dev test`) only when there is no
livekit-server and no Go to build one. With CI=true that is a failure, never a skip."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from db_clones import clone_template, drop_database
from e2e_stack import Stack

from local_stack import (
    AgentWorker,
    LiveKitServer,
    LiveKitServerMissing,
    TokenService,
    ensure_livekit_server,
    free_port,
)
from tools.db import APP_LOGIN, EmbeddedPostgres, login_as

IN_CI = os.environ.get("CI", "").lower() == "true"


@pytest.fixture(scope="session")
def livekit_binary() -> Path:
    try:
        return ensure_livekit_server()
    except LiveKitServerMissing as exc:
        if IN_CI:
            pytest.fail(f"CI requires the real-LiveKit tests: {exc}")
        pytest.skip(f"real-LiveKit tests need livekit-server or Go: {exc}")


@pytest.fixture(scope="session")
def stack_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("stack-logs")


@pytest.fixture(scope="session")
async def stack_dsn(pg_server: EmbeddedPostgres) -> AsyncIterator[str]:
    """One database for the whole stack (the processes share it, as in production)."""
    name = await clone_template(pg_server)
    yield pg_server.dsn_for(name)
    await drop_database(pg_server, name)


def start_stack(binary: Path, dsn: str, logs: Path) -> Stack:
    """livekit-server + token service. The token service also receives the server's
    webhooks (it re-dispatches the agent to a call whose worker was lost)."""
    logs.mkdir(parents=True, exist_ok=True)
    token_port = free_port()
    livekit = LiveKitServer(
        binary,
        log_path=logs / "livekit-server.log",
        webhook_urls=[f"http://127.0.0.1:{token_port}/livekit/webhook"],
    ).start()
    tokens = TokenService(
        livekit.url,
        livekit.api_key,
        livekit.api_secret,
        login_as(dsn, APP_LOGIN),
        log_path=logs / "token-service.log",
        port=token_port,
    )
    try:
        tokens.start()
    except BaseException:
        livekit.stop()
        raise
    return Stack(livekit, tokens, dsn, logs)


@pytest.fixture(scope="session")
def stack(livekit_binary: Path, stack_dsn: str, stack_logs: Path) -> Iterator[Stack]:
    """The shared stack most tests call through."""
    running = start_stack(livekit_binary, stack_dsn, stack_logs / "shared")
    yield running
    running.stop()


@pytest.fixture
def private_stack(
    livekit_binary: Path, stack_dsn: str, stack_logs: Path, request: pytest.FixtureRequest
) -> Iterator[Stack]:
    """A stack of the test's own, for tests that must control which workers are registered
    (a lost worker, scale-out): no other test's worker can take their calls."""
    running = start_stack(livekit_binary, stack_dsn, stack_logs / request.node.name)
    yield running
    running.stop()


@pytest.fixture(scope="session")
def agent_worker(stack: Stack) -> Iterator[AgentWorker]:
    """The keyless Agent Server most tests talk to (offline text model)."""
    worker = stack.worker("agent-worker").start()
    yield worker
    worker.stop()
