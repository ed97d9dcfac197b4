"""Route: what a request must look like (host, path, method, headers) and where it goes (an
upstream service through discovery, an aggregation, or a mounted ASGI app)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from starlette.types import ASGIApp, Scope

from interlink.gateway._template import Template
from interlink.resilience import Policy

if TYPE_CHECKING:
    from interlink.gateway._aggregate import Aggregate
    from interlink.gateway._traffic import Mirror, Versions

__all__ = ["DEFAULT_MAX_BODY", "Middleware", "Route"]

DEFAULT_MAX_BODY = 10 * 1024 * 1024
"""Bytes of request body a route accepts unless it says otherwise (413 past it)."""


class Middleware(Protocol):
    """An edge policy: wraps the route's app once, at startup."""

    def wrap(self, app: ASGIApp) -> ASGIApp: ...


@dataclass(frozen=True, kw_only=True, eq=False)
class Route:
    """One rule of the gateway. Exactly one of ``service``, ``aggregate`` and ``app``.

    ``path`` is a template (``/orders/{id}``; ``{rest:path}`` takes the rest of the path);
    ``methods`` (None: any), ``host`` (exact, or ``*.example.com``) and ``headers`` (name →
    exact value, or ``"*"`` for present) narrow the match. ``rewrite`` is the upstream path
    template, filled with the captured values (default: the request's own path).
    """

    path: str
    service: str | None = None
    aggregate: Aggregate | None = None
    app: ASGIApp | None = None
    methods: Collection[str] | None = None
    host: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    rewrite: str | None = None
    policy: Policy | None = None
    max_body: int = DEFAULT_MAX_BODY
    middleware: Sequence[Middleware] = ()
    versions: Versions | None = None
    mirror: Mirror | None = None
    project: Mapping[str, str] | None = None
    name: str = ""
    template: Template = field(init=False, repr=False)
    upstream: Template | None = field(init=False, repr=False)
    _methods: frozenset[str] | None = field(init=False, repr=False)
    _headers: tuple[tuple[bytes, bytes | None], ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        targets = [t for t in (self.service, self.aggregate, self.app) if t is not None]
        if len(targets) != 1:
            raise ValueError(f"route {self.path!r} needs exactly one of service=, aggregate=, app=")
        if self.max_body < 0:
            raise ValueError(f"max_body must be >= 0, not {self.max_body!r}")
        template = Template(self.path)
        upstream = None if self.rewrite is None else Template(self.rewrite)
        if upstream is not None and not set(upstream.names) <= set(template.names):
            raise ValueError(f"rewrite {self.rewrite!r} uses a name {self.path!r} does not capture")
        methods = None if self.methods is None else frozenset(m.upper() for m in self.methods)
        wanted = tuple(
            (k.lower().encode("latin-1"), None if v == "*" else v.encode("latin-1"))
            for k, v in self.headers.items()
        )
        object.__setattr__(self, "template", template)
        object.__setattr__(self, "upstream", upstream)
        object.__setattr__(self, "_methods", methods)
        object.__setattr__(self, "_headers", wanted)

    def with_prefix(self, prefix: str, **changes: Any) -> Route:
        """This route under ``prefix`` (a BFF's), with ``changes`` applied."""
        fields = {k: getattr(self, k) for k in _INIT_FIELDS}
        fields["path"] = prefix.rstrip("/") + self.path
        if self.rewrite is None and self.service is not None:
            fields["rewrite"] = self.path  # the service sees the path without the prefix
        return Route(**(fields | changes))

    # -- matching -----------------------------------------------------------------------------

    def matches_host(self, host: str) -> bool:
        if self.host is None:
            return True
        if self.host.startswith("*."):
            return host.endswith(self.host[1:]) and len(host) > len(self.host) - 1
        return host == self.host

    def matches_method(self, method: str) -> bool:
        return self._methods is None or method in self._methods

    def matches_headers(self, scope: Scope) -> bool:
        if not self._headers:
            return True
        have: dict[bytes, bytes] = {}
        for name, value in scope["headers"]:
            have.setdefault(name.lower(), value)
        for name, value in self._headers:
            got = have.get(name)
            if got is None or (value is not None and got != value):
                return False
        return True

    @property
    def allowed(self) -> frozenset[str] | None:
        return self._methods


_INIT_FIELDS = [
    "path",
    "service",
    "aggregate",
    "app",
    "methods",
    "host",
    "headers",
    "rewrite",
    "policy",
    "max_body",
    "middleware",
    "versions",
    "mirror",
    "project",
    "name",
]
