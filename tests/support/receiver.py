"""An application's webhook endpoint on loopback: records every request it is sent, and
answers with the status the test sets."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    port: int = 0
    status: int = 204
    requests: list[Received] = field(default_factory=list)
    _runner: web.AppRunner | None = None

    async def _take(self, request: web.Request) -> web.Response:
        self.requests.append(Received(dict(request.headers), await request.read()))
        return web.Response(status=self.status)

    async def start(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/events", self._take)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/events"
