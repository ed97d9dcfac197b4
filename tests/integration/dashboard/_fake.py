"""A stand-in for one service instance's observability endpoints, on a real loopback socket:
``GET /metrics`` answers the text it is given, ``GET /_interlink/spans?after=N`` the spans
added after sequence number N, as the shared contract describes."""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Any

from aiohttp import web

from interlink.discovery import Instance


class FakeInstance:
    def __init__(self, service: str, *, metrics: bool = True, spans: bool = True) -> None:
        self.service = service
        self.metrics_text = ""
        self.serve_metrics, self.serve_spans = metrics, spans
        self.hang = False
        self.spans: list[tuple[int, dict[str, Any]]] = []
        self.afters: list[int] = []
        self._runner: web.AppRunner | None = None
        self.port = 0

    def add(self, *spans: dict[str, Any]) -> None:
        seq = self.spans[-1][0] if self.spans else 0
        self.spans.extend((seq + n, s) for n, s in enumerate(spans, start=1))

    def instance(self) -> Instance:
        return Instance(
            id=f"{self.service}-{self.port}",
            service=self.service,
            address="127.0.0.1",
            port=self.port,
        )

    async def _metrics(self, request: web.Request) -> web.StreamResponse:
        if self.hang:
            await asyncio.Event().wait()
        if not self.serve_metrics:
            raise web.HTTPNotFound()
        return web.Response(text=self.metrics_text, content_type="text/plain")

    async def _spans(self, request: web.Request) -> web.StreamResponse:
        if not self.serve_spans:
            raise web.HTTPNotFound()
        after = int(request.query.get("after", "0"))
        self.afters.append(after)
        fresh = [s for seq, s in self.spans if seq > after]
        last = self.spans[-1][0] if self.spans else 0
        return web.json_response({"next": last, "spans": fresh})

    async def __aenter__(self) -> FakeInstance:
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/_interlink/spans", self._spans)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._runner is not None:  # idempotent: a test may stop it early
            runner, self._runner = self._runner, None
            await runner.cleanup()
