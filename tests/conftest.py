"""Shared fixtures: one throwaway embedded Postgres per test run, a migrated + seeded
template database, and a fresh clone of it for every test that touches the DB.

Also the network guard: tests may reach loopback and Unix sockets only, so any attempt
to call a real provider (OpenAI, Deepgram, ElevenLabs, LiveKit Cloud) fails loudly."""

from __future__ import annotations

import asyncio
import os
import socket
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from db_clones import TEMPLATE_DB, clone_template, drop_database

from tools.db import APP_LOGIN, Database, EmbeddedPostgres, login_as, migrate, seed_demo

for _key in (
    "OPENAI_API_KEY",
    "DEEPGRAM_API_KEY",
    "ELEVEN_API_KEY",
    "ELEVENLABS_API_KEY",
    "LIVEKIT_URL",
    "LIVEKIT_API_KEY",
    "LIVEKIT_API_SECRET",
    "BANK_MODEL_MODE",
    "BANK_WHISPER_MODEL",
    "BANK_PIPER_VOICE",
):
    os.environ.pop(_key, None)

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


class RealNetworkBlocked(RuntimeError):
    """Raised when a test tries to reach anything but loopback: no real providers in tests."""


def _check_address(sock: socket.socket, address: object) -> None:
    if sock.family == socket.AF_UNIX:
        return
    host = address[0] if isinstance(address, tuple) else address
    if host in ("127.0.0.1", "::1", "localhost", "0.0.0.0"):
        return
    raise RealNetworkBlocked(f"test tried to reach {host!r}: real providers are forbidden in tests")


def _guarded_connect(self: socket.socket, address: object) -> None:
    _check_address(self, address)
    _real_connect(self, address)  # type: ignore[arg-type]


def _guarded_connect_ex(self: socket.socket, address: object) -> int:
    _check_address(self, address)
    return _real_connect_ex(self, address)  # type: ignore[arg-type]


socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]

_original_getaddrinfo = socket.getaddrinfo


def _guarded_getaddrinfo(host, *args, **kwargs):  # type: ignore[no-untyped-def]
    if host not in (None, "localhost", "127.0.0.1", "::1", "0.0.0.0", ""):
        raise RealNetworkBlocked(f"test tried to resolve {host!r}: real providers are forbidden")
    return _original_getaddrinfo(host, *args, **kwargs)


socket.getaddrinfo = _guarded_getaddrinfo


@pytest.fixture(scope="session")
def pg_server() -> Iterator[EmbeddedPostgres]:
    data_dir = Path(tempfile.mkdtemp(prefix="bank-test-pg-"))
    server = EmbeddedPostgres(data_dir, cleanup_mode="delete")
    asyncio.run(_build_template(server))
    yield server
    server.cleanup()


async def _build_template(server: EmbeddedPostgres) -> None:
    admin = await asyncpg.connect(server.dsn)
    try:
        # A throwaway cluster: durability buys nothing here, and without fsync the
        # per-test CREATE DATABASE ... TEMPLATE (which checkpoints) is several times faster.
        for setting in ("fsync = off", "synchronous_commit = off", "full_page_writes = off"):
            await admin.execute(f"ALTER SYSTEM SET {setting}")
        await admin.execute("SELECT pg_reload_conf()")
        await admin.execute(f"DROP DATABASE IF EXISTS {TEMPLATE_DB}")
        await admin.execute(f"CREATE DATABASE {TEMPLATE_DB}")
    finally:
        await admin.close()
    dsn = server.dsn_for(TEMPLATE_DB)
    await migrate(dsn)
    await seed_demo(dsn)


@pytest.fixture
async def dsn(pg_server: EmbeddedPostgres) -> AsyncIterator[str]:
    """A fresh database cloned from the seeded template: tests never see each other."""
    name = await clone_template(pg_server)
    yield pg_server.dsn_for(name)
    await drop_database(pg_server, name)


@pytest.fixture
def app_dsn(dsn: str) -> str:
    """The same test database, logged in as the application's own role (never the owner)."""
    return login_as(dsn, APP_LOGIN)


@pytest.fixture
async def db(app_dsn: str) -> AsyncIterator[Database]:
    database = await Database.connect(app_dsn, retry_budget_s=1.0)
    yield database
    await database.close()


@pytest.fixture(scope="session")
def local_speech() -> object:
    """Whisper tiny.en and the Piper voice, loaded once per run from the wheel-shipped
    packages of the dev group (never downloaded): the voice tests share them."""
    from models.local_models import load_local_speech

    return load_local_speech()


@pytest.fixture(scope="session")
def silero_vad() -> object:
    from livekit.plugins import silero

    return silero.VAD.load()
