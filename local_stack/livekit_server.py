"""livekit-server as a project dev dependency: the pinned Go module, built once into the
git-ignored `.bin/`, and started on loopback with a config that works with no outside
network (see README, "Running against a real LiveKit server")."""

from __future__ import annotations

import fcntl
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from .processes import ManagedProcess, ProcessExited, free_port, free_udp_port

PROJECT_ROOT = Path(__file__).resolve().parents[1]
BIN_DIR = PROJECT_ROOT / ".bin"
# v1.13.5 is the newest tag whose go.mod has no `replace` lines, which `go install
# module@version` refuses; check a newer tag's go.mod before moving the pin.
LIVEKIT_SERVER_VERSION = "v1.13.5"
LIVEKIT_SERVER_MODULE = "github.com/livekit/livekit-server/cmd/server"
DEV_API_KEY = "devkey"
PORT_ATTEMPTS = 3
DEV_API_SECRET = "secret"  # the well-known `livekit-server --dev` pair


class LiveKitServerMissing(RuntimeError):
    """No livekit-server binary and no Go toolchain to build one."""


def pinned_binary() -> Path:
    return BIN_DIR / f"livekit-server-{LIVEKIT_SERVER_VERSION}"


def find_livekit_server() -> Path | None:
    """LIVEKIT_SERVER_BIN, else the pinned build in .bin/, else `livekit-server` on PATH."""
    configured = os.environ.get("LIVEKIT_SERVER_BIN")
    if configured:
        path = Path(configured)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise LiveKitServerMissing(f"LIVEKIT_SERVER_BIN={configured} is not an executable")
        return path
    if pinned_binary().is_file():
        return pinned_binary()
    on_path = shutil.which("livekit-server")
    return Path(on_path) if on_path else None


def ensure_livekit_server(*, quiet: bool = False) -> Path:
    """The binary to run, building the pinned version with `go install` the first time."""
    found = find_livekit_server()
    if found is not None:
        return found
    go = shutil.which("go")
    if go is None:
        raise LiveKitServerMissing(
            "livekit-server not found and Go is not installed: install Go 1.26+ (then "
            "`./dev stack` builds it), or install livekit-server (brew install livekit, "
            "curl -sSL https://get.livekit.io | bash, or the livekit/livekit-server Docker "
            "image) and put it on PATH or in LIVEKIT_SERVER_BIN"
        )
    BIN_DIR.mkdir(exist_ok=True)
    # Two test runs or a test and `./dev stack` may start together: one builds, one waits.
    with open(BIN_DIR / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if pinned_binary().is_file():
            return pinned_binary()
        _go_install(go, quiet=quiet)
    return pinned_binary()


def _go_install(go: str, *, quiet: bool) -> None:
    target = f"{LIVEKIT_SERVER_MODULE}@{LIVEKIT_SERVER_VERSION}"

    def say(message: str) -> None:
        if not quiet:
            print(message, file=sys.stderr, flush=True)

    say(
        f"==> building livekit-server {LIVEKIT_SERVER_VERSION} with `go install {target}` "
        f"into {BIN_DIR} (one time; a few minutes on 2 cores)"
    )
    started = time.monotonic()
    with tempfile.TemporaryDirectory(dir=BIN_DIR, prefix=".gobin-") as gobin:
        env = {**os.environ, "GOBIN": gobin, "CGO_ENABLED": "0", "GOFLAGS": "-buildvcs=false"}
        # -v names each package as it compiles: a running count is the progress bar.
        proc = subprocess.Popen(
            [go, "install", "-v", target],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert proc.stdout is not None
        downloaded = compiled = 0
        tail: list[str] = []
        for line in proc.stdout:
            tail = [*tail[-20:], line.rstrip()]
            if line.startswith("go: downloading"):
                downloaded += 1
            else:
                compiled += 1
            if (downloaded + compiled) % 50 == 0:
                say(
                    f"    {downloaded} modules downloaded, {compiled} packages compiled "
                    f"({time.monotonic() - started:.0f} s)"
                )
        if proc.wait() != 0:
            detail = "\n".join(tail)
            raise LiveKitServerMissing(f"`go install {target}` failed:\n{detail}")
        os.replace(Path(gobin) / "server", pinned_binary())
    say(f"==> livekit-server built in {time.monotonic() - started:.0f} s: {pinned_binary()}")


@dataclass
class LiveKitServer:
    """One livekit-server process on 127.0.0.1: signalling, HTTP API and WebRTC (TCP + one
    muxed UDP port), all advertised on loopback.

    The config is what a machine with no outside network needs: loopback node IP and ICE
    candidates, no external-IP discovery, and no public STUN servers handed to clients."""

    binary: Path
    port: int = 0
    rtc_tcp_port: int = 0
    rtc_udp_port: int = 0
    api_key: str = DEV_API_KEY
    # A fresh 32-byte secret per server unless given (`./dev stack` passes the well-known
    # dev pair that clients and docs expect).
    api_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    host: str = "127.0.0.1"
    log_path: Path | None = None
    # Where the server POSTs its webhooks (signed with the API key), e.g. the token service.
    webhook_urls: list[str] = field(default_factory=list)
    _process: ManagedProcess | None = field(default=None, init=False, repr=False)
    _workdir: tempfile.TemporaryDirectory[str] | None = field(default=None, init=False, repr=False)

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def config(self) -> str:
        return "\n".join(
            [
                f"port: {self.port}",
                f"bind_addresses: [{self.host!r}]",
                "rtc:",
                f"  tcp_port: {self.rtc_tcp_port}",
                f"  udp_port: {self.rtc_udp_port}",
                "  use_external_ip: false",
                f"  node_ip: {self.host}",
                "  enable_loopback_candidate: true",
                # Without this the server hands clients Google's public STUN servers.
                f"  stun_servers: ['{self.host}:3478']",
                "keys:",
                f"  {self.api_key}: {self.api_secret}",
                "logging:",
                "  level: info",
                *self._webhook_config(),
                "",
            ]
        )

    def _webhook_config(self) -> list[str]:
        if not self.webhook_urls:
            return []
        return ["webhook:", f"  api_key: {self.api_key}", "  urls:"] + [
            f"    - {url}" for url in self.webhook_urls
        ]

    def start(self, *, timeout: float = 90.0) -> LiveKitServer:
        # Ports are picked free, then bound by the server a moment later; on a busy machine
        # another process can take one in between. Picked ports get fresh ones and a retry.
        chosen = (self.port, self.rtc_tcp_port, self.rtc_udp_port)
        for attempt in range(PORT_ATTEMPTS):
            self.port = chosen[0] or free_port()
            self.rtc_tcp_port = chosen[1] or free_port()
            self.rtc_udp_port = chosen[2] or free_udp_port()
            try:
                self._launch(timeout)
                return self
            except ProcessExited as exc:
                self.stop()
                if "address already in use" not in str(exc) or attempt == PORT_ATTEMPTS - 1:
                    raise
        return self

    def _launch(self, timeout: float) -> None:
        self._workdir = tempfile.TemporaryDirectory(prefix="livekit-server-")
        config = Path(self._workdir.name) / "livekit.yaml"
        config.write_text(self.config())
        log_path = self.log_path or Path(self._workdir.name) / "livekit-server.log"
        self._process = ManagedProcess(
            "livekit-server", [str(self.binary), "--config", str(config)], log_path=log_path
        ).start()
        self._process.wait_for_http(self.http_url, timeout=timeout)

    def stop(self) -> None:
        if self._process is not None:
            self._process.stop()
            self._process = None
        if self._workdir is not None:
            self._workdir.cleanup()
            self._workdir = None

    def __enter__(self) -> LiveKitServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
