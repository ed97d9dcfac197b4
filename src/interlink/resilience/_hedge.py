"""Hedge: when an idempotent call is slow, send another and take the first good answer."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from interlink._clock import Clock
from interlink.resilience._config import Seconds, seconds
from interlink.resilience._events import EventKind
from interlink.resilience._link import Next, PolicyBase

__all__ = ["Hedge"]

_Attempts = set["asyncio.Future[Any]"]


class Hedge(PolicyBase):
    """Start the call; every ``delay`` seconds without a good result, start one more, up to
    ``max_hedges`` extra. The first good result wins and the others are cancelled. An attempt
    that fails starts the next one at once (as gRPC hedging does); when every attempt has failed
    the last error is raised. Only for idempotent calls: several may reach the callee.
    """

    __slots__ = ("delay", "max_hedges")
    source = "hedge"

    def __init__(
        self,
        *,
        max_hedges: int = 1,
        delay: Seconds,
        clock: Clock | None = None,
        name: str = "",
    ) -> None:
        super().__init__(name=name, clock=clock)
        if isinstance(max_hedges, bool) or not isinstance(max_hedges, int) or max_hedges < 1:
            raise ValueError(f"max_hedges must be a whole number >= 1, not {max_hedges!r}")
        self.max_hedges = max_hedges
        self.delay = seconds(delay, "delay")

    def __repr__(self) -> str:
        return f"Hedge(max_hedges={self.max_hedges}, delay={self.delay!r})"

    async def _link(
        self,
        nxt: Next,
        fn: Callable[..., Awaitable[Any]],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        deadline: float | None,
    ) -> Any:
        attempts: _Attempts = set()
        try:
            return await self._race(attempts, lambda: nxt(fn, args, kwargs, deadline))
        finally:
            for attempt in attempts:
                attempt.cancel()
            if attempts:
                await asyncio.wait(attempts)

    async def _race(self, attempts: _Attempts, start: Callable[[], Awaitable[Any]]) -> Any:
        attempts.add(asyncio.ensure_future(start()))
        launched = 1
        error: BaseException | None = None
        while attempts:
            done, timer_fired = await self._next_event(attempts, launched)
            for attempt in done:
                attempts.discard(attempt)
                error = asyncio.CancelledError() if attempt.cancelled() else attempt.exception()
                if error is None:
                    return attempt.result()
            if (timer_fired or error is not None) and launched <= self.max_hedges:
                launched += 1
                self._emit(EventKind.HEDGE, attempt=launched, error=error)
                attempts.add(asyncio.ensure_future(start()))
        assert error is not None
        raise error

    async def _next_event(self, attempts: _Attempts, launched: int) -> tuple[_Attempts, bool]:
        """Wait for an attempt to finish or, while hedges remain, for the hedge delay."""
        if launched > self.max_hedges:
            done, _ = await asyncio.wait(attempts, return_when=asyncio.FIRST_COMPLETED)
            return done, False
        timer = asyncio.ensure_future(self.clock.sleep(self.delay))
        try:
            done, _ = await asyncio.wait({*attempts, timer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            timer.cancel()
        fired = timer in done
        done.discard(timer)
        return done, fired
