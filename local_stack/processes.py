"""Real processes of the local stack, each in its own process group with its output in a
log file: the Agent Server (`agent.py dev`) and the token service."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

PROJECT_ROOT = Path(__file__).resolve().parents[1]
WORKER_REGISTERED = "registered worker"


def free_port() -> int:
    """A TCP port free on loopback now (the caller binds it next; good enough for tests)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ProcessExited(RuntimeError):
    """A stack process ended while it was expected to run; the message holds its log tail."""


@dataclass
class ManagedProcess:
    name: str
    argv: Sequence[str]
    log_path: Path
    env: Mapping[str, str] | None = None
    cwd: Path = PROJECT_ROOT
    _popen: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _log: IO[bytes] | None = field(default=None, init=False, repr=False)

    def start(self) -> ManagedProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop(); one run per file
        self._popen = subprocess.Popen(
            list(self.argv),
            cwd=self.cwd,
            env=dict(self.env) if self.env is not None else None,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            # Its own group, so stop() and kill() reach the job processes it forks too.
            start_new_session=True,
        )
        return self

    @property
    def pid(self) -> int:
        assert self._popen is not None, f"{self.name} was never started"
        return self._popen.pid

    @property
    def running(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def raise_if_exited(self) -> None:
        if self._popen is not None and self._popen.poll() is not None:
            tail = "\n".join(self.log_text().splitlines()[-30:])
            raise ProcessExited(f"{self.name} exited with {self._popen.returncode}:\n{tail}")

    def wait_for_log(self, text: str, *, timeout: float, after: int = 0) -> int:
        """Wait until `text` appears in the log after byte offset `after`; returns the
        offset just past it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            content = self.log_text()
            found = content.find(text, after)
            if found >= 0:
                return found + len(text)
            self.raise_if_exited()
            time.sleep(0.1)
        raise TimeoutError(f"{self.name}: {text!r} not logged within {timeout:.0f} s")

    def wait_for_http(self, url: str, *, timeout: float) -> None:
        """Wait until `url` answers 200 while this process runs (its readiness probe)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.raise_if_exited()
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(url, timeout=1) as response:
                    if response.status == 200:
                        return
            time.sleep(0.1)
        raise TimeoutError(f"{self.name} did not answer on {url} in {timeout:.0f} s")

    def stop(self, *, grace: float = 10.0) -> None:
        """SIGTERM to the leader (it shuts its own children down cleanly), then SIGKILL to
        the whole group after `grace` seconds."""
        if self._popen is not None and self._popen.poll() is None:
            self._popen.send_signal(signal.SIGTERM)
        if self._popen is not None:
            try:
                self._popen.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self._popen.wait(timeout=5)
            self._signal_group(signal.SIGKILL)  # anything the leader left behind
        self._close_log()

    def kill(self) -> None:
        """SIGKILL the whole group at once: what a crashed machine looks like to LiveKit."""
        self._signal_group(signal.SIGKILL)
        if self._popen is not None:
            self._popen.wait(timeout=5)
        self._close_log()

    def _signal_group(self, sig: signal.Signals) -> None:
        if self._popen is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._popen.pid, sig)

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


def _livekit_env(url: str, api_key: str, api_secret: str, database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "LIVEKIT_URL": url,
        "LIVEKIT_API_KEY": api_key,
        "LIVEKIT_API_SECRET": api_secret,
        "DATABASE_URL": database_url,
        "PYTHONUNBUFFERED": "1",
    }


@dataclass
class AgentWorker:
    """`python agent.py dev`: registers the `bank-support` agent with the LiveKit server."""

    url: str
    api_key: str
    api_secret: str
    database_url: str
    log_path: Path
    extra_env: Mapping[str, str] = field(default_factory=dict)
    command: str = "dev"
    process: ManagedProcess | None = field(default=None, init=False)

    def start(self, *, timeout: float = 120.0) -> AgentWorker:
        env = {**_livekit_env(self.url, self.api_key, self.api_secret, self.database_url)}
        env.update(self.extra_env)
        self.process = ManagedProcess(
            "agent worker",
            [
                sys.executable,
                str(PROJECT_ROOT / "agent.py"),
                self.command,
                "--log-level",
                "info",  # "registered worker", which start() waits for, is an info line
            ],
            log_path=self.log_path,
            env=env,
        ).start()
        self.process.wait_for_log(WORKER_REGISTERED, timeout=timeout)
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()

    def log_text(self) -> str:
        return self.process.log_text() if self.process else ""


@dataclass
class TokenService:
    """`python -m token_service`: customer number + PIN in, a LiveKit join token out."""

    url: str
    api_key: str
    api_secret: str
    database_url: str
    log_path: Path
    port: int = 0
    host: str = "127.0.0.1"
    extra_env: Mapping[str, str] = field(default_factory=dict)
    process: ManagedProcess | None = field(default=None, init=False)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, *, timeout: float = 90.0) -> TokenService:
        self.port = self.port or free_port()
        env = _livekit_env(self.url, self.api_key, self.api_secret, self.database_url)
        env.update(
            {"TOKEN_SERVICE_HOST": self.host, "TOKEN_SERVICE_PORT": str(self.port)},
        )
        env.update(self.extra_env)
        self.process = ManagedProcess(
            "token service",
            [sys.executable, "-m", "token_service"],
            log_path=self.log_path,
            env=env,
        ).start()
        self.process.wait_for_http(f"{self.base_url}/healthz", timeout=timeout)
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
