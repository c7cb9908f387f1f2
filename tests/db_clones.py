"""Per-test databases: clones of the migrated, seeded template database (fast, isolated)."""

from __future__ import annotations

import itertools
import os

import asyncpg

from tools.db import EmbeddedPostgres

TEMPLATE_DB = "bank_template"
_clone_counter = itertools.count()


async def clone_template(pg_server: EmbeddedPostgres) -> str:
    """A fresh database cloned from the seeded template; returns its name."""
    name = f"t_{os.getpid()}_{next(_clone_counter)}"
    admin = await asyncpg.connect(pg_server.dsn)
    try:
        await admin.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE_DB} STRATEGY FILE_COPY")
    finally:
        await admin.close()
    return name


async def drop_database(pg_server: EmbeddedPostgres, name: str) -> None:
    admin = await asyncpg.connect(pg_server.dsn)
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await admin.close()
