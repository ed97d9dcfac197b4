"""Fallback: answer anyway when the call fails, from a value, a function, a cache or another
service."""

from __future__ import annotations

import inspect
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeAlias

from interlink._clock import Clock
from interlink._errors import ConfigurationError
from interlink.resilience._config import ErrorSpec, Seconds, matcher, seconds
from interlink.resilience._events import EventKind
from interlink.resilience._link import Next, PolicyBase

__all__ = ["Fallback", "Invoker"]

Invoker: TypeAlias = Callable[..., Awaitable[Any]]
"""``await invoker(target, *args, **kwargs)`` calls the service method named ``target``."""


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


_UNSET: Any = _Unset()


class Fallback(PolicyBase):
    """When the call raises an error matching ``on``, answer with, in this order:

    1. ``cached=ttl``: the last good result for the same request key, if younger than ``ttl``;
    2. exactly one of ``value=`` (returned as is), ``func=`` (``func(exc, *args, **kwargs)``, sync
       or async: a degraded answer computed from the error) or ``to="service.method"`` (the same
       arguments sent to another service through the ``invoker``).

    With ``cached`` alone, a miss re-raises the error. Request keys come from
    ``key(*args, **kwargs)``; by default the arguments themselves, which must then be hashable.
    """

    __slots__ = (
        "_cache",
        "_func",
        "_key",
        "_on",
        "cached",
        "invoker",
        "max_entries",
        "to",
        "value",
    )
    source = "fallback"

    def __init__(
        self,
        *,
        value: Any = _UNSET,
        func: Callable[..., Any] | None = None,
        cached: Seconds | None = None,
        to: str | None = None,
        invoker: Invoker | None = None,
        key: Callable[..., Hashable] | None = None,
        max_entries: int = 1024,
        on: ErrorSpec = Exception,
        clock: Clock | None = None,
        name: str = "",
    ) -> None:
        super().__init__(name=name, clock=clock)
        chosen = (value is not _UNSET) + (func is not None) + (to is not None)
        if chosen > 1:
            raise ValueError("give at most one of value=, func= and to=")
        if chosen == 0 and cached is None:
            raise ValueError("Fallback needs value=, func=, cached= or to=")
        if to is not None and (not isinstance(to, str) or "." not in to):
            raise ValueError(f'to must name a method as "service.method", not {to!r}')
        if isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries < 1:
            raise ValueError(f"max_entries must be a whole number >= 1, not {max_entries!r}")
        self.value = value
        self._func = func
        self.to = to
        self.invoker = invoker
        self.cached = None if cached is None else seconds(cached, "cached", positive=True)
        self.max_entries = max_entries
        self._key = _default_key if key is None else key
        self._on = matcher(on, "on")
        self._cache: OrderedDict[Hashable, tuple[float, Any]] | None = (
            None if cached is None else OrderedDict()
        )

    def __repr__(self) -> str:
        return f"Fallback(name={self.name!r})"

    def set_invoker(self, invoker: Invoker) -> None:
        """Say how ``to=`` reaches another service (the App does this when it owns the policy)."""
        self.invoker = invoker

    async def _link(
        self,
        nxt: Next,
        fn: Callable[..., Awaitable[Any]],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        deadline: float | None,
    ) -> Any:
        try:
            result = await nxt(fn, args, kwargs, deadline)
        except Exception as exc:
            if not self._on(exc):
                raise
            error = exc
        else:
            if self._cache is not None:
                self._remember(self._request_key(args, kwargs), result)
            return result
        return await self._recover(error, args, kwargs)

    async def _recover(
        self, error: Exception, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        self._emit(EventKind.FALLBACK, error=error)
        if self._cache is not None:
            hit = self._recall(self._request_key(args, kwargs))
            if hit is not _UNSET:
                return hit
        if self.value is not _UNSET:
            return self.value
        if self._func is not None:
            answer = self._func(error, *args, **kwargs)
            return await answer if inspect.isawaitable(answer) else answer
        if self.to is not None:
            return await self._divert(self.to, args, kwargs)
        raise error

    async def _divert(self, to: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if self.invoker is None:
            raise ConfigurationError(
                f"Fallback(to={to!r}) has no invoker: pass invoker= or call set_invoker(), "
                "or use the policy through an App, which sets it"
            )
        return await self.invoker(to, *args, **kwargs)

    def _request_key(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Hashable:
        request = self._key(*args, **kwargs)
        try:
            hash(request)
        except TypeError as exc:
            raise TypeError(
                "Fallback(cached=...) keys requests by their arguments, which are not hashable "
                "here; pass key=lambda *args, **kwargs: ... to build a key"
            ) from exc
        return request

    def _remember(self, request: Hashable, result: Any) -> None:
        cache = self._cache
        assert cache is not None
        assert self.cached is not None
        cache[request] = (self.clock.monotonic() + self.cached, result)
        cache.move_to_end(request)
        if len(cache) > self.max_entries:
            cache.popitem(last=False)

    def _recall(self, request: Hashable) -> Any:
        assert self._cache is not None
        entry = self._cache.get(request)
        if entry is None:
            return _UNSET
        expires, result = entry
        if self.clock.monotonic() >= expires:
            del self._cache[request]
            return _UNSET
        return result


def _default_key(*args: Any, **kwargs: Any) -> Hashable:
    return (args, tuple(sorted(kwargs.items()))) if kwargs else args
