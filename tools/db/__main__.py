"""`python -m tools.db migrate | seed --demo [--reset] | seed --synthetic N | smoke | url
| status | stop`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import time

from .database import Database
from .embedded import (
    database_url,
    embedded_running,
    owner_database_url,
    stop_embedded_if_idle,
)
from .migrate import migrate, set_app_password
from .seed import seed_demo, seed_synthetic


async def _main(args: argparse.Namespace) -> int:
    if args.command in ("status", "stop"):
        return await _embedded_server(args.command)
    if args.command == "url":
        print(database_url())  # the application's login
        return 0
    dsn = owner_database_url()  # migrations and seeding run as the owner
    applied = await migrate(dsn)
    print(f"migrations applied: {', '.join(applied) or 'none (up to date)'}")
    if password := os.environ.get("BANK_APP_DB_PASSWORD"):
        await set_app_password(dsn, password)
    if args.command == "seed":
        if args.demo:
            written = await seed_demo(dsn, reset=args.reset)
            print(f"demo customers written: {', '.join(written) or 'none (already present)'}")
        if args.synthetic:
            started = time.perf_counter()
            await seed_synthetic(dsn, args.synthetic)
            print(f"synthetic customers: {args.synthetic} in {time.perf_counter() - started:.1f}s")
    if args.command == "smoke":
        db = await Database.connect(database_url())
        try:
            customer = await db.customer_by_number("1001")
            accounts = await db.accounts(customer.id)
            print(f"smoke ok: customer {customer.customer_number} has {len(accounts)} accounts")
        finally:
            await db.close()
    return 0


async def _embedded_server(command: str) -> int:
    """`status`: exit 0 when the embedded server is up (or DATABASE_URL names another one),
    1 when it is down; nothing is started. `stop`: stop the embedded server unless another
    client is using it (`./dev demo` stops the server it started)."""
    if os.environ.get("DATABASE_URL"):
        print("DATABASE_URL is set: not the embedded server")
        return 0
    if command == "status":
        running = embedded_running()
        print("embedded Postgres: " + ("running" if running else "stopped"))
        return 0 if running else 1
    stopped = await stop_embedded_if_idle()
    print("embedded Postgres: " + ("stopped" if stopped else "left as it was"))
    return 0


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    parser = argparse.ArgumentParser(prog="python -m tools.db")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate")
    sub.add_parser("url")
    sub.add_parser("smoke")
    sub.add_parser("status", help="is the embedded Postgres running? (exit 0 yes, 1 no)")
    sub.add_parser("stop", help="stop the embedded Postgres unless another client uses it")
    seed = sub.add_parser("seed")
    seed.add_argument("--demo", action="store_true")
    seed.add_argument("--reset", action="store_true", help="restore demo customers' state")
    seed.add_argument("--synthetic", type=int, default=0, metavar="N")
    raise SystemExit(asyncio.run(_main(parser.parse_args())))


if __name__ == "__main__":
    main()
