"""Aggregation: one route fans out to several services in parallel and merges their JSON.

The answer is ``{"data": {part: value}, "parts": {part: {"status": int, "ok": bool, ...}}}``
with ``x-interlink-complete: true`` when every part answered 2xx, ``false`` otherwise. A failed
part (a non-2xx answer, no instance, a timeout, a body that is not JSON) is left out of
``data``, or given its ``fallback`` value (``"fallback": true`` in its status). The status is
200 unless every part failed and none had a fallback: then 502.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec
from starlette.types import ASGIApp, Receive, Scope, Send

from interlink._errors import CallError
from interlink.gateway._body import empty_body
from interlink.gateway._project import project
from interlink.gateway._proxy import RAW_PARAMS
from interlink.gateway._responses import error_status, send_error, send_json
from interlink.gateway._template import Template
from interlink.gateway._upstream import Upstream
from interlink.resilience import Policy

if TYPE_CHECKING:
    from interlink.gateway._route import Route

__all__ = ["COMPLETE_HEADER", "Aggregate", "Part"]

COMPLETE_HEADER = b"x-interlink-complete"
NO_FALLBACK: Any = object()


@dataclass(frozen=True, kw_only=True)
class Part:
    """A GET of ``path`` (a template filled from the route's captured values) on ``service``,
    through ``policy`` if given; ``fallback`` (any JSON value) stands in when it fails."""

    service: str
    path: str
    fallback: Any = NO_FALLBACK
    policy: Policy | None = None


class Aggregate:
    def __init__(self, parts: Mapping[str, Part], *, max_part_body: int = 1024 * 1024) -> None:
        if not parts:
            raise ValueError("an Aggregate needs at least one part")
        self.parts = dict(parts)
        self.max_part_body = max_part_body
        self._templates = {name: Template(part.path) for name, part in self.parts.items()}

    def app(self, route: Route, upstream: Callable[[], Upstream]) -> ASGIApp:
        missing = {n for t in self._templates.values() for n in t.names} - set(route.template.names)
        if missing:
            raise ValueError(f"parts of {route.path!r} use names it does not capture: {missing}")
        return _AggregateApp(self, route, upstream)


class _AggregateApp:
    def __init__(self, aggregate: Aggregate, route: Route, upstream: Callable[[], Upstream]):
        self._aggregate = aggregate
        self._route = route
        self._upstream = upstream

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await send({"type": "websocket.close", "code": 1003})
            return
        if scope["method"] not in ("GET", "HEAD"):
            message = "an aggregation answers GET and HEAD only"
            await send_error(send, 405, "MethodNotAllowed", message, [(b"allow", b"GET, HEAD")])
            return
        names = list(self._aggregate.parts)
        results = await asyncio.gather(*(self._fetch(name, scope) for name in names))
        data: dict[str, Any] = {}
        statuses: dict[str, dict[str, Any]] = {}
        for name, (status, value, error) in zip(names, results, strict=True):
            part = self._aggregate.parts[name]
            statuses[name] = {"status": status, "ok": error is None}
            if error is None:
                data[name] = value
                continue
            statuses[name]["error"] = error
            if part.fallback is not NO_FALLBACK:
                data[name] = part.fallback
                statuses[name]["fallback"] = True
        complete = all(s["ok"] for s in statuses.values())
        if self._route.project is not None:
            data = project(data, self._route.project)
        status = 200 if data or complete else 502
        header = (COMPLETE_HEADER, b"true" if complete else b"false")
        await send_json(send, status, {"data": data, "parts": statuses}, [header])

    async def _fetch(self, name: str, scope: Scope) -> tuple[int, Any, str | None]:
        part = self._aggregate.parts[name]
        target = self._aggregate._templates[name].fill(scope[RAW_PARAMS])
        try:
            if part.policy is None:
                return await self._get(part, scope, target)
            return await part.policy.execute(self._get, part, scope, target)
        except _PartFailed as exc:
            return exc.status, None, str(exc)
        except CallError as exc:
            return error_status(exc)[0], None, str(exc)

    async def _get(self, part: Part, scope: Scope, target: str) -> tuple[int, Any, str | None]:
        answer = await self._upstream().send(part.service, scope, "GET", target, empty_body())
        try:
            raw = await answer.read(self._aggregate.max_part_body)
        finally:
            answer.close()
        if not 200 <= answer.status < 300:
            raise _PartFailed(answer.status, f"{part.service} answered {answer.status}")
        try:
            return answer.status, msgspec.json.decode(raw), None
        except msgspec.DecodeError:
            raise _PartFailed(502, f"{part.service} answered something that is not JSON") from None


class _PartFailed(CallError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
