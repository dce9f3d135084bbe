"""A webhook receiver on loopback: what apprise's generic ``json://`` URL posts, collected in order."""

from __future__ import annotations

from types import TracebackType
from typing import Any

from aiohttp import web


class Receiver:
    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []  # the JSON bodies, as received
        self.paths: list[str] = []
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.port}/hook/s3cr3t-token"

    async def __aenter__(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._post)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def __aexit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    async def _post(self, request: web.Request) -> web.Response:
        self.paths.append(request.path)
        self.posts.append(await request.json())
        return web.Response(text="ok")

    def kinds(self) -> list[str]:
        """Each alert's kind, from its title (``arb run 3: breaker open``)."""
        return [post["title"].rpartition(": ")[2] for post in self.posts]
