"""AnyOf: several ways to authenticate on one route (a bearer token or an API key)."""

from __future__ import annotations

import contextlib
from typing import Protocol

from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["AnyOf", "Authenticator"]


class Authenticator(Protocol):
    """An auth middleware that can tell whether a request carries its kind of credentials."""

    forwarded: frozenset[bytes]
    """Request headers it sets upstream (every client copy is removed first)."""

    def presents(self, scope: Scope) -> bool: ...

    def wrap(self, app: ASGIApp) -> ASGIApp: ...


class AnyOf:
    """Authenticate with the first of ``methods`` whose credentials the request carries.

    ``AnyOf(ApiKeys(...), JwtAuth(...))``: a request with an API key is checked by
    ``ApiKeys`` only, one with a bearer token by ``JwtAuth`` only; a request with neither is
    refused by the first method. Whatever decides, the headers any of them forwards are
    removed from the client's request, so no method's headers can be spoofed through another.
    """

    def __init__(self, *methods: Authenticator) -> None:
        if not methods:
            raise ValueError("AnyOf needs at least one authentication method")
        self.methods = methods
        self._strip = frozenset[bytes]().union(*(method.forwarded for method in methods))
        self._stack: contextlib.AsyncExitStack | None = None

    async def __aenter__(self) -> AnyOf:
        async with contextlib.AsyncExitStack() as stack:
            for method in self.methods:
                if isinstance(method, contextlib.AbstractAsyncContextManager):
                    await stack.enter_async_context(method)
            self._stack = stack.pop_all()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._stack is not None:
            stack, self._stack = self._stack, None
            await stack.aclose()

    def wrap(self, app: ASGIApp) -> ASGIApp:
        # Each choice removes the other methods' headers; the chosen one removes its own
        # (after reading its credentials from them).
        choices = [
            (method, method.wrap(app), self._strip - method.forwarded) for method in self.methods
        ]
        fallback = choices[0]

        async def any_of(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] not in ("http", "websocket"):
                await app(scope, receive, send)
                return
            _, chosen, strip = next((c for c in choices if c[0].presents(scope)), fallback)
            scope["headers"] = [(n, v) for n, v in scope["headers"] if n not in strip]
            await chosen(scope, receive, send)

        return any_of
