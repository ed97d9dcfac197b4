"""Backends-for-frontend: a client's own set of routes under its prefix."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from starlette.types import ASGIApp, Receive, Scope, Send

from interlink.gateway._route import Middleware, Route

__all__ = ["Bff"]


class Bff:
    """``Bff("mobile", routes=[...], prefix="/api/mobile")``: each route is served under
    ``prefix`` (default ``/api/{name}``); a service route without a ``rewrite`` sends the
    upstream its path without the prefix. ``project`` (a field projection) applies to every
    route that has none of its own; ``middleware`` runs before each route's own. The upstream
    request carries ``x-interlink-client: {name}``."""

    def __init__(
        self,
        name: str,
        *,
        routes: Sequence[Route],
        prefix: str | None = None,
        project: Mapping[str, str] | None = None,
        middleware: Sequence[Middleware] = (),
    ) -> None:
        self.name = name
        self.prefix = f"/api/{name}" if prefix is None else prefix
        self.routes = [
            route.with_prefix(
                self.prefix,
                project=route.project if route.project is not None else project,
                middleware=[_ClientTag(name), *middleware, *route.middleware],
                headers=dict(route.headers),
            )
            for route in routes
        ]


class _ClientTag:
    """Marks the request with the BFF's name (``x-interlink-client``) for the services."""

    def __init__(self, name: str) -> None:
        self._header = (b"x-interlink-client", name.encode("latin-1"))

    def wrap(self, app: ASGIApp) -> ASGIApp:
        header = self._header

        async def tagged(scope: Scope, receive: Receive, send: Send) -> None:
            kept = [h for h in scope["headers"] if h[0] != header[0]]
            await app(dict(scope, headers=[*kept, header]), receive, send)

        return tagged
