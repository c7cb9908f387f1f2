"""The app on the web, in a real browser, against the real stack: the Expo web export is
served on a free loopback port with `/api/token` proxied to the stack's token service (the
same-origin deployment mobile/README.md recommends), and `mobile/e2e/web-call.mjs` drives it
in Debian's Chromium through playwright-core: sign in, call, a typed conversation with
handoffs, hang up, call again. Screenshots go to mobile/e2e/artifacts/.

Needs node/npm and `chromium`; locally the test skips without them, with CI=true it fails."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from e2e_stack import Stack

from local_stack import AgentWorker, free_port

MOBILE = Path(__file__).resolve().parents[2] / "mobile"
ARTIFACTS = MOBILE / "e2e" / "artifacts"
IN_CI = os.environ.get("CI", "").lower() == "true"
AGENT_JOIN_TIMEOUT_MS = 90_000


def _missing(what: str) -> None:
    if IN_CI:
        pytest.fail(f"CI requires the browser test: {what}")
    pytest.skip(f"browser test needs {what}")


def _run(argv: list[str], env: dict[str, str] | None = None) -> None:
    done = subprocess.run(
        argv, cwd=MOBILE, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True
    )
    assert done.returncode == 0, (
        f"{' '.join(argv)} failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
    )


@pytest.fixture(scope="module")
def web_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The app exported for the web with the token service on its own origin ("/").
    MOBILE_WEB_DIST reuses an export made the same way (the two EXPO_PUBLIC_ values below)."""
    reuse = os.environ.get("MOBILE_WEB_DIST")
    if reuse:
        return Path(reuse)
    npm = shutil.which("npm")
    if npm is None:
        _missing("node and npm")
    assert npm is not None
    if not (MOBILE / "node_modules" / "playwright-core").is_dir():
        _run([npm, "ci", "--no-audit", "--no-fund"])  # ./dev test runs pytest before ci.sh
    out = tmp_path_factory.mktemp("web-export")
    env = {
        **os.environ,
        "EXPO_PUBLIC_TOKEN_SERVICE_URL": "/",
        # A cold agent process on a loaded 2-core box can take longer than the 20 s default.
        "EXPO_PUBLIC_AGENT_JOIN_TIMEOUT_MS": str(AGENT_JOIN_TIMEOUT_MS),
        "EXPO_NO_TELEMETRY": "1",
        "CI": "1",
    }
    _run(
        ["npx", "--no-install", "expo", "export", "--platform", "web", "--output-dir", str(out)],
        env,
    )
    return out


@pytest.fixture
def chromium() -> str:
    found = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium")
    if not found:
        _missing("Debian's chromium (apt-get install -y chromium)")
    assert found is not None
    return found


@pytest.fixture
async def web_site(web_export: Path, stack: Stack) -> AsyncIterator[str]:
    """The export as static files, and POST /api/token passed through to the token service."""
    token_url = f"{stack.token_service.base_url}/api/token"
    session = aiohttp.ClientSession()

    async def token(request: web.Request) -> web.Response:
        async with session.post(
            token_url, data=await request.read(), headers={"Content-Type": "application/json"}
        ) as upstream:
            return web.Response(
                status=upstream.status, body=await upstream.read(), content_type="application/json"
            )

    async def index(_request: web.Request) -> web.FileResponse:
        return web.FileResponse(web_export / "index.html")

    app = web.Application()
    app.router.add_post("/api/token", token)
    app.router.add_get("/", index)
    app.router.add_static("/", web_export)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        await runner.cleanup()
        await session.close()


async def test_web_app_call_in_chromium(
    web_site: str, chromium: str, agent_worker: AgentWorker
) -> None:
    node = shutil.which("node")
    if node is None:
        _missing("node")
    assert node is not None
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob("*.png"):
        old.unlink()
    env = {
        **os.environ,
        "APP_URL": web_site,
        "ARTIFACTS_DIR": str(ARTIFACTS),
        "CHROMIUM_PATH": chromium,
        "CUSTOMER_NUMBER": "1001",
        "PIN": "1234",
    }
    # The browser runs while this event loop keeps serving the site.
    process = await asyncio.create_subprocess_exec(
        node,
        str(MOBILE / "e2e" / "web-call.mjs"),
        cwd=MOBILE,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), timeout=600)
    except TimeoutError:
        process.kill()
        output, _ = await process.communicate()
    text = output.decode(errors="replace")
    print(text)
    assert process.returncode == 0, text
    assert "web-call: ok" in text
    steps = sorted(p.name for p in ARTIFACTS.glob("*.png"))
    assert steps == [
        "01-sign-in.png",
        "02-call-started.png",
        "03-balance-desk.png",
        "04-card-security-desk.png",
        "05-confirmed-on-screen.png",
        "06-hung-up.png",
        "07-called-again.png",
    ]
