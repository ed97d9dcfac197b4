"""Gateway: an ASGI app that matches each request to a route and hands it to the route's app
(proxy, aggregation or mounted app), each wrapped once in the route's middleware."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

from starlette.types import ASGIApp, Receive, Scope, Send

from interlink._clock import SYSTEM_CLOCK
from interlink.discovery import LoadBalancer, Registry, balancer, registry_from_url
from interlink.discovery._cache import Discovery
from interlink.discovery._factory import BalancerKind
from interlink.gateway._mirrors import Mirrors
from interlink.gateway._proxy import DEFAULT_TIMEOUT, RAW_PARAMS, ServiceProxy
from interlink.gateway._responses import send_error
from interlink.gateway._route import Route
from interlink.gateway._upstream import Upstream
from interlink.transport.http._stream_pool import StreamPool

if TYPE_CHECKING:
    from interlink.gateway._bff import Bff

__all__ = ["Gateway"]


class Gateway:
    """``Gateway(routes, registry=...)``: an ASGI app; ``async with gateway:`` (or the ASGI
    lifespan) opens its registry client, discovery and connection pool and closes them."""

    def __init__(
        self,
        routes: Sequence[Route | Bff] = (),
        *,
        registry: str | Registry = "memory://",
        balancer: BalancerKind | Callable[[], LoadBalancer] = "round_robin",
        directory: str = ".interlink",
        max_connections: int = 1024,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        if max_connections < 1:
            raise ValueError(f"max_connections must be at least 1, not {max_connections!r}")
        self.timeout = timeout
        self.routes: list[Route] = []
        for item in routes:
            self.routes.extend(item.routes if not isinstance(item, Route) else [item])
        self._registry_given = registry
        self._balancer = _known(balancer)
        self._directory = directory
        self._max_connections = max_connections
        self._upstream: Upstream | None = None
        self._registry: Registry | None = None
        self._entered: contextlib.AsyncExitStack | None = None
        self._opening = asyncio.Lock()
        self._mirrors = Mirrors(self.upstream)
        self._table = [(route, self._build(route)) for route in self.routes]
        self._by_host = any(route.host is not None for route in self.routes)

    def using(self, *, registry: str | Registry, directory: str | None = None) -> Gateway:
        """The same routes on another registry (what ``interlink gateway --registry`` does)."""
        return Gateway(
            self.routes,
            registry=registry,
            balancer=self._balancer,
            directory=self._directory if directory is None else directory,
            max_connections=self._max_connections,
            timeout=self.timeout,
        )

    @classmethod
    def from_toml(cls, path: str, **options: Any) -> Gateway:
        from interlink.gateway._toml import gateway_from_toml

        gateway: Gateway = gateway_from_toml(path, **options)
        return gateway

    # -- lifecycle ---------------------------------------------------------------------------

    async def __aenter__(self) -> Gateway:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def open(self) -> None:
        async with self._opening:
            if self._upstream is not None:
                return
            stack = contextlib.AsyncExitStack()
            try:
                await self._open(stack)
            except BaseException:
                await stack.aclose()
                raise
            self._entered = stack

    async def _open(self, stack: contextlib.AsyncExitStack) -> None:
        registry = self._registry_given
        if isinstance(registry, str):
            registry = registry_from_url(registry, directory=self._directory)
            await registry.connect()
            stack.push_async_callback(registry.close)
        self._registry = registry
        factory = self._balancer
        if isinstance(factory, str):
            factory = balancer(factory, eject=False)
        discovery = Discovery(registry, balancer=factory, clock=SYSTEM_CLOCK)
        stack.push_async_callback(discovery.close)
        pool = StreamPool(max_connections=self._max_connections)
        stack.push_async_callback(pool.close)
        stack.push_async_callback(self._mirrors.close)
        for part in self._resources():
            await stack.enter_async_context(part)
        self._upstream = Upstream(discovery, pool)

    async def close(self) -> None:
        stack, self._entered = self._entered, None
        self._upstream = None
        if stack is not None:
            await stack.aclose()

    def upstream(self) -> Upstream:
        if self._upstream is None:
            raise RuntimeError("the gateway is not open (use `async with gateway:`)")
        return self._upstream

    @property
    def registry(self) -> Registry | None:
        return self._registry

    @property
    def registry_url(self) -> str | Registry:
        """The registry as given: a URL, or the Registry object."""
        return self._registry_given

    def _resources(self) -> list[Any]:
        """Mounted apps and middleware that are async context managers: entered on open."""
        found: list[Any] = []
        for route in self.routes:
            for part in (route.app, *route.middleware):
                if hasattr(part, "__aenter__") and hasattr(part, "__aexit__") and part not in found:
                    found.append(part)
        return found

    # -- serving -----------------------------------------------------------------------------

    def _build(self, route: Route) -> ASGIApp:
        """The route's app in its middleware, composed once: m1.wrap(m2.wrap(app))."""
        app: ASGIApp
        if route.app is not None:
            app = route.app
        elif route.aggregate is not None:
            app = route.aggregate.app(route, self.upstream)
        else:
            app = ServiceProxy(route, self.upstream, self._mirrors, self.timeout)
        for middleware in reversed(route.middleware):
            app = middleware.wrap(app)
        return app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(receive, send)
            return
        if self._upstream is None:
            await self.open()
        raw = scope.get("raw_path")
        path = raw.decode("latin-1") if raw else quote(scope["path"])
        host = _host(scope) if self._by_host else ""
        allowed: set[str] = set()
        for route, app in self._table:
            if not route.matches_host(host):
                continue
            params = route.template.match(path)
            if params is None or not route.matches_headers(scope):
                continue
            if kind == "http" and not route.matches_method(scope["method"]):
                allowed |= route.allowed or set()
                continue
            scope["path_params"] = {k: unquote(v) for k, v in params.items()} if params else {}
            scope[RAW_PARAMS] = params
            await app(scope, receive, send)
            return
        await _no_route(kind, allowed, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.open()
                except Exception as exc:
                    await send({"type": "lifespan.startup.failed", "message": repr(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


def _host(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"host":
            text: str = value.decode("latin-1").lower()
            return text.rsplit(":", 1)[0] if not text.endswith("]") else text
    return ""


async def _no_route(kind: str, allowed: set[str], send: Send) -> None:
    if kind == "websocket":
        await send({"type": "websocket.close", "code": 1008})
    elif allowed:
        allow = ", ".join(sorted(allowed)).encode()
        await send_error(
            send, 405, "MethodNotAllowed", "no route takes this method", [(b"allow", allow)]
        )
    else:
        await send_error(send, 404, "NotFound", "no route matches this request")


def _known(
    kind: BalancerKind | Callable[[], LoadBalancer],
) -> BalancerKind | Callable[[], LoadBalancer]:
    """``kind`` itself; an unknown balancer name raises ConfigurationError here, not at open."""
    if isinstance(kind, str):
        balancer(kind, eject=False)
    return kind
