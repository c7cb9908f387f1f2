"""The scaffolding every provider stand-in shares: an aiohttp app on 127.0.0.1 and a port
chosen at run time (other tests run at the same time), started and stopped by the test's
fixture. A stand-in adds its routes and keeps its own record of what the client sent."""

from __future__ import annotations

from aiohttp import web


class StandInServer:
    def __init__(self) -> None:
        self._runner: web.AppRunner | None = None
        self.base_url = ""  # http://127.0.0.1:<port>/v1 once started

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    async def start(self) -> str:
        app = web.Application()
        self.routes(app)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]  # the port the OS picked for port 0
        self.base_url = f"http://127.0.0.1:{port}/v1"
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
