"""`python -m local_stack build-server | stack` (what `./dev stack` runs).

`stack` starts livekit-server in dev mode on loopback, the Agent Server registering
`bank-support`, and the token service, against the embedded Postgres (or DATABASE_URL); it
prints what to connect to, and Ctrl-C stops everything it started."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time
from pathlib import Path

from .livekit_server import (
    DEV_API_KEY,
    DEV_API_SECRET,
    LiveKitServer,
    LiveKitServerMissing,
    ensure_livekit_server,
)
from .processes import PROJECT_ROOT, AgentWorker, TokenService

LOG_DIR = PROJECT_ROOT / ".data" / "stack"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local_stack")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("build-server", help="build the pinned livekit-server into .bin/")
    commands.add_parser("server-path", help="print the livekit-server binary in use")
    stack = commands.add_parser("stack", help="livekit-server + Agent Server + token service")
    stack.add_argument(
        "--host",
        default=os.environ.get("STACK_HOST", "127.0.0.1"),
        help="address to serve on; a LAN address lets a phone on the same network connect",
    )
    stack.add_argument(
        "--external",
        action="store_true",
        help="use the LiveKit server in LIVEKIT_URL / LIVEKIT_API_KEY / LIVEKIT_API_SECRET "
        "(e.g. LiveKit Cloud) instead of starting one",
    )
    args = parser.parse_args(argv)
    try:
        if args.command == "build-server":
            ensure_livekit_server()
            return 0
        if args.command == "server-path":
            print(ensure_livekit_server(quiet=True))
            return 0
        return run_stack(args.host, external=args.external)
    except LiveKitServerMissing as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def run_stack(host: str, *, external: bool = False) -> int:
    from tools.db import database_url, migrate, owner_database_url, seed_demo

    owner = owner_database_url()  # migrations and demo data as the owner ...
    asyncio.run(migrate(owner))
    asyncio.run(seed_demo(owner))
    dsn = database_url()  # ... the processes with the application's least-privilege login
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    token_port = int(os.environ.get("TOKEN_SERVICE_PORT", "8088"))
    livekit: LiveKitServer | None = None
    if external:
        missing = [
            name
            for name in ("LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET")
            if not os.environ.get(name)
        ]
        if missing:
            print(f"error: --external needs {', '.join(missing)}", file=sys.stderr)
            return 2
        url = os.environ["LIVEKIT_URL"]
        key = os.environ["LIVEKIT_API_KEY"]
        secret = os.environ["LIVEKIT_API_SECRET"]
    else:
        livekit = LiveKitServer(
            ensure_livekit_server(),
            host=host,
            port=7880,
            rtc_tcp_port=7881,
            rtc_udp_port=7882,
            api_key=DEV_API_KEY,
            api_secret=DEV_API_SECRET,
            log_path=LOG_DIR / "livekit-server.log",
            webhook_urls=[f"http://127.0.0.1:{token_port}/livekit/webhook"],
        )
        url, key, secret = livekit.url, DEV_API_KEY, DEV_API_SECRET
    worker = AgentWorker(url, key, secret, dsn, log_path=LOG_DIR / "agent-worker.log")
    tokens = TokenService(
        url, key, secret, dsn, log_path=LOG_DIR / "token-service.log", host=host, port=token_port
    )
    stopping = {"now": False}

    def stop(*_: object) -> None:
        stopping["now"] = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    started: list[LiveKitServer | AgentWorker | TokenService] = []
    try:
        if livekit is not None:
            print(f"==> livekit-server on {livekit.url}", flush=True)
            started.append(livekit.start())
        print("==> token service", flush=True)
        started.append(tokens.start())
        print("==> Agent Server (registering bank-support)", flush=True)
        started.append(worker.start())
        _print_banner(url, tokens.base_url, host)
        while not stopping["now"]:
            for process in (worker.process, tokens.process):
                if process is not None:
                    process.raise_if_exited()
            time.sleep(0.5)
        print("\n==> stopping", flush=True)
        return 0
    except Exception as exc:  # report which piece failed, then stop the rest
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        for piece in reversed(started):
            piece.stop()


def _print_banner(livekit_url: str, token_url: str, host: str) -> None:
    logs = Path(os.path.relpath(LOG_DIR, Path.cwd()))
    print(
        f"""
  The bank's voice desk is running.

    LiveKit server   {livekit_url}   (API key devkey, secret secret)
    Token service    {token_url}/api/token   (demo login: customer 1001, PIN 1234)
    Agent            bank-support, dispatched by the token's room configuration
    Logs             {logs}/

  Connect:
    app (browser/device)  EXPO_PUBLIC_TOKEN_SERVICE_URL={token_url} (see mobile/README.md)
    your own client       POST {token_url}/api/token {{"customer_number":"1001","pin":"1234"}}
                          then join server_url with participant_token; type on lk.chat
  {"Phones on your LAN need --host <this machine's LAN IP>." if host == "127.0.0.1" else ""}
  Ctrl-C stops everything.
""",
        flush=True,
    )


if __name__ == "__main__":
    raise SystemExit(main())
