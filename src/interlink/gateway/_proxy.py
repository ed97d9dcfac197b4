"""The app behind a ``Route(service=...)``: reads the request, sends it through the route's
policy to an instance, and streams the answer back (or projects it, for a BFF route)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import msgspec
from starlette.types import Receive, Scope, Send

from interlink._errors import CallError, DeadlineExceeded
from interlink._timer import timeout_after
from interlink.gateway._body import BodyTooLarge, ClientGone, RequestBody
from interlink.gateway._headers import response_headers
from interlink.gateway._project import project
from interlink.gateway._responses import error_status, send_error, send_json
from interlink.gateway._upstream import Answer, Upstream

if TYPE_CHECKING:
    from interlink.gateway._mirrors import Mirrors
    from interlink.gateway._route import Route

__all__ = ["DEFAULT_TIMEOUT", "MAX_PROJECTED", "RAW_PARAMS", "ServiceProxy", "UpstreamStatus"]

RAW_PARAMS = "interlink.raw_params"
"""Scope key: the path values the route captured, still percent-encoded."""
MAX_PROJECTED = 1024 * 1024
"""Bytes of an upstream answer a projecting route reads (502 past it)."""
_ERROR_BODY_LIMIT = 64 * 1024
DEFAULT_TIMEOUT = 30.0
"""Seconds a route without a policy waits for an answer's head (body sent included)."""


class UpstreamStatus(CallError):
    """An upstream answered 5xx: a failure for the policy (retry when safe, breaker), relayed
    as it was when the policy gives up."""

    def __init__(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        super().__init__(f"the upstream answered {status}")
        self.status, self.headers, self.body = status, headers, body


class ServiceProxy:
    def __init__(
        self,
        route: Route,
        upstream: Callable[[], Upstream],
        mirrors: Mirrors,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        assert route.service is not None
        self._route = route
        self._service = route.service
        self._upstream = upstream
        self._mirrors = mirrors
        self._timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await send({"type": "websocket.close", "code": 1003})
            return
        route, method = self._route, scope["method"]
        target = self._target(scope)
        try:
            body = await RequestBody.read(scope, receive, route.max_body)
            exclude = [] if route.versions is None else await self._exclude(scope)
            if route.policy is None:
                answer = await self._bounded(scope, method, target, body, exclude)
            else:
                answer = await route.policy.execute(
                    self._attempt, scope, method, target, body, exclude
                )
        except BodyTooLarge as exc:
            await send_error(send, 413, "PayloadTooLarge", str(exc))
            return
        except ClientGone:
            return
        except UpstreamStatus as exc:
            await _send_whole(send, exc.status, exc.headers, exc.body)
            return
        except CallError as exc:
            status, type_name = error_status(exc)
            await send_error(send, status, type_name, str(exc))
            return
        if route.mirror is not None and body.whole is not None:
            self._mirrors.copy(route.mirror, scope, method, target, body)
        try:
            if route.project is not None and answer.status < 300 and method != "HEAD":
                await self._send_projected(send, answer)
            else:
                await _relay(send, method, answer)
        finally:
            answer.close()

    async def _bounded(
        self, scope: Scope, method: str, target: str, body: RequestBody, exclude: list[str]
    ) -> Answer:
        """One attempt within the gateway's timeout (a route without a policy)."""
        try:
            async with timeout_after(self._timeout):
                return await self._upstream().send(
                    self._service, scope, method, target, body, exclude
                )
        except TimeoutError:
            raise DeadlineExceeded(
                f"{self._service} did not answer within {self._timeout} s"
            ) from None

    async def _attempt(
        self, scope: Scope, method: str, target: str, body: RequestBody, exclude: list[str]
    ) -> Answer:
        answer = await self._upstream().send(self._service, scope, method, target, body, exclude)
        if answer.status < 500:
            return answer
        unsafe = not (method in _SAFE and body.replayable)
        try:
            data = await answer.read(_ERROR_BODY_LIMIT)
        except CallError as exc:
            exc.non_retryable = unsafe
            raise
        finally:
            answer.close()
        error = UpstreamStatus(answer.status, answer.headers, data)
        error.non_retryable = unsafe
        raise error

    def _target(self, scope: Scope) -> str:
        upstream = self._route.upstream
        if upstream is None:
            path = scope.get("raw_path") or scope["path"].encode()
            path_text = path.decode("latin-1")
        else:
            path_text = upstream.fill(scope[RAW_PARAMS])
        query = scope.get("query_string", b"")
        return f"{path_text}?{query.decode('latin-1')}" if query else path_text

    async def _exclude(self, scope: Scope) -> list[str]:
        versions = self._route.versions
        if versions is None:
            return []
        wanted = versions.requested(scope)
        strict = wanted is not None
        if wanted is None:
            wanted = versions.next_weighted()
            if wanted is None:
                return []
        instances = await self._upstream().instances(self._service)
        exclude = [i.id for i in instances if i.version != wanted]
        if len(exclude) == len(instances):
            if strict:
                raise _no_version(self._service, wanted)
            return []
        return exclude

    async def _send_projected(self, send: Send, answer: Answer) -> None:
        try:
            data = msgspec.json.decode(await answer.read(MAX_PROJECTED))
        except (CallError, msgspec.DecodeError) as exc:
            await send_error(send, 502, "BadGateway", f"cannot project the answer: {exc}")
            return
        await send_json(send, answer.status, project(data, self._route.project or {}))


_SAFE = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})


def _no_version(service: str, version: str) -> CallError:
    from interlink._errors import ServiceUnavailable

    return ServiceUnavailable(f"no healthy instance of {service!r} has version {version!r}")


async def _relay(send: Send, method: str, answer: Answer) -> None:
    headers = response_headers(answer.headers)
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    if method == "HEAD":
        await send({"type": "http.response.body", "body": b""})
        return
    connection = answer.connection
    while (chunk := await connection.chunk()) is not None:
        last = connection.drained
        await send({"type": "http.response.body", "body": chunk, "more_body": not last})
        if last:
            return
    await send({"type": "http.response.body", "body": b""})


async def _send_whole(
    send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes
) -> None:
    kept = [(k, v) for k, v in response_headers(headers) if k != b"content-length"]
    kept.append((b"content-length", b"%d" % len(body)))
    await send({"type": "http.response.start", "status": status, "headers": kept})
    await send({"type": "http.response.body", "body": body})
