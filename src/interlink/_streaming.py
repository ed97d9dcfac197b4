"""Streaming RPCs, the parts every layer shares: what a streaming handler returns, and the
failure a served stream ends with."""

from __future__ import annotations

import collections.abc
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, get_args, get_origin

from interlink._errors import DefinitionError

if TYPE_CHECKING:
    from interlink._wire import Outcome

__all__ = ["ItemStream", "StreamFailed", "stream_item_type"]

T_co = TypeVar("T_co", covariant=True)

_STREAM_ORIGINS = (
    collections.abc.AsyncIterator,
    collections.abc.AsyncGenerator,
    collections.abc.AsyncIterable,
)


class ItemStream(Protocol[T_co]):
    """What ``ctx.stream`` returns: an async iterator of typed items and an async context
    manager that closes it (closing stops the handler)."""

    def __aiter__(self) -> ItemStream[T_co]: ...

    async def __anext__(self) -> T_co: ...

    async def aclose(self) -> None: ...

    async def __aenter__(self) -> ItemStream[T_co]: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class StreamFailed(Exception):
    """A served stream ended with an error: ``outcome`` is its status and error body, the same
    as a unary call's failure would carry."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.status)
        self.outcome = outcome


def stream_item_type(returns: Any, what: str) -> Any:
    """``AsyncIterator[Item]`` (or ``AsyncGenerator[Item, None]``, ``AsyncIterable[Item]``)
    -> ``Item``; anything else is a definition error."""
    if get_origin(returns) in _STREAM_ORIGINS:
        args = get_args(returns)
        if args:
            return args[0]
    raise DefinitionError(
        f"{what}: a streaming handler (an `async def` that yields) is annotated "
        f"`-> AsyncIterator[Item]`, not {returns!r}"
    )
