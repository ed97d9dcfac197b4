"""The shape every policy shares: one link in a chain, usable alone or inside a Policy.

A link is ``link(next, fn, args, kwargs, deadline)``: it does its part and awaits
``next(fn, args, kwargs, deadline)``. ``deadline`` is an absolute reading of the policy clock's
``monotonic()`` (or None) that inner links must not outlive. The innermost ``next`` calls
``fn``. Passing ``fn``/``args`` down instead of building a closure per layer keeps the success
path free of allocations.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, ParamSpec, TypeAlias, TypeVar

from interlink.resilience._events import Emitter

__all__ = ["Next", "PolicyBase", "call_fn", "call_fn_with_deadline"]

P = ParamSpec("P")
T = TypeVar("T")

Next: TypeAlias = Callable[
    [Callable[..., Awaitable[Any]], tuple[Any, ...], dict[str, Any], float | None],
    Awaitable[Any],
]


def call_fn(
    fn: Callable[..., Awaitable[Any]],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    deadline: float | None,
) -> Awaitable[Any]:
    """The innermost link: start the user's call (returned, not awaited, to save a frame)."""
    return fn(*args, **kwargs)


def call_fn_with_deadline(
    fn: Callable[..., Awaitable[Any]],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    deadline: float | None,
) -> Awaitable[Any]:
    """The innermost link for attempts that want to know their deadline."""
    return fn(deadline, *args, **kwargs)


class PolicyBase(Emitter):
    """A policy: ``await policy.call(fn, *args)``, or ``@policy`` on an async function."""

    __slots__ = ()

    async def _link(
        self,
        nxt: Next,
        fn: Callable[..., Awaitable[Any]],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        deadline: float | None,
    ) -> Any:
        raise NotImplementedError

    async def call(self, fn: Callable[P, Awaitable[T]], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``await fn(*args, **kwargs)`` under this policy."""
        result: T = await self._link(call_fn, fn, args, kwargs, None)
        return result

    def __call__(self, fn: Callable[P, Awaitable[T]]) -> Callable[P, Coroutine[Any, Any, T]]:
        """Decorate an async callable so every call runs under this policy."""

        @functools.wraps(fn)
        async def guarded(*args: P.args, **kwargs: P.kwargs) -> T:
            return await self.call(fn, *args, **kwargs)

        return guarded
