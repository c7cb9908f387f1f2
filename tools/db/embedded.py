"""The project's own Postgres, used when DATABASE_URL is not set.

`pgserver` ships real PostgreSQL binaries on PyPI; the cluster lives in a project-local
directory (`.data/pg` by default) so demo data survives restarts."""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

logger = logging.getLogger("bank.db.embedded")

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA_DIR = PROJECT_ROOT / ".data" / "pg"
APP_LOGIN = "bank_app"  # the application's own, non-superuser login (migration 006)


class EmbeddedPostgres:
    """A pgserver-managed cluster that can also be stopped and started again (fault tests)."""

    def __init__(self, data_dir: Path, *, cleanup_mode: str | None = "stop") -> None:
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); harmless here.
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        import pgserver  # imported lazily: only needed without DATABASE_URL

        data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir = data_dir
        self._server: Any = pgserver.get_server(  # type: ignore[attr-defined]
            data_dir, cleanup_mode=cleanup_mode
        )

    @property
    def dsn(self) -> str:
        return str(self._server.get_uri())

    def dsn_for(self, database: str) -> str:
        return self.dsn.replace("/postgres?", f"/{database}?")

    def stop(self) -> None:
        """Really stop the server (fast shutdown: live connections are cut)."""
        from pgserver import pg_ctl  # type: ignore[attr-defined]

        # pgserver runs postgres as its own system user when we are root; pg_ctl must too.
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.data_dir, user=self._server.system_user)

    def start(self) -> None:
        self._server.ensure_postgres_running()

    def cleanup(self) -> None:
        self._server.cleanup()


def database_url() -> str:
    """The application's login: DATABASE_URL if set, else the embedded server logged in as
    the non-superuser role `bank_app` (started on first use). Migrations and seeding log in
    as the owner instead: `owner_database_url`."""
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    return login_as(_embedded_dsn(), APP_LOGIN)


def owner_database_url() -> str:
    """The owner's login, for migrations and seeding only: DATABASE_OWNER_URL, else
    DATABASE_URL (a single-login setup), else the embedded server's superuser."""
    url = os.environ.get("DATABASE_OWNER_URL") or os.environ.get("DATABASE_URL")
    if url:
        return url
    return _embedded_dsn()


def login_as(dsn: str, role: str, password: str | None = None) -> str:
    """The same server and database as `dsn`, logged in as `role`."""
    parts = urlsplit(dsn)
    user = quote(role, safe="")
    if password:
        user += ":" + quote(password, safe="")
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{user}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def embedded_data_dir() -> Path:
    return Path(os.environ.get("BANK_PGDATA", str(DEFAULT_DATA_DIR)))


def embedded_running(data_dir: Path | None = None) -> bool:
    """Whether the embedded server of `data_dir` is up (it is not started to find out)."""
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    from pgserver.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(data_dir or embedded_data_dir())
    return info is not None and bool(info.is_running())


async def stop_embedded_if_idle(data_dir: Path | None = None) -> bool:
    """Stop the embedded server unless someone else is using it (a `./dev stack` started
    meanwhile, another console): it is stopped only with no client session but ours.
    Returns whether it was stopped."""
    import asyncpg

    data_dir = data_dir or embedded_data_dir()
    if not embedded_running(data_dir):
        return False
    server = EmbeddedPostgres(data_dir, cleanup_mode=None)
    conn = await asyncpg.connect(server.dsn)
    try:
        others = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
        )
    finally:
        await conn.close()
    if others:
        logger.info("embedded Postgres left running: %d other client session(s)", others)
        return False
    server.stop()
    return True


def _embedded_dsn() -> str:
    data_dir = embedded_data_dir()
    # cleanup_mode=None: keep the demo server up for later runs; it is cheap to reuse.
    server = EmbeddedPostgres(data_dir, cleanup_mode=None)
    return server.dsn
