"""Publishes made while others are on their way share one round trip (a pipeline).

Each caller still gets its own outcome: the pipeline runs every script on its own (no
transaction), and a script's error goes to its caller only. A lost connection fails the whole
batch (each caller gets it, and cannot know whether its entry was added).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.commands.core import AsyncScript

__all__ = ["Batcher"]

_BATCH = 256
"""Most scripts in one pipeline; the rest go in the next."""


class Batcher:
    """Runs one script for many callers, a pipeline per round trip."""

    def __init__(self, client: Redis, script: AsyncScript) -> None:
        self._client, self._script = client, script
        self._queue: list[tuple[list[Any], list[Any], asyncio.Future[Any]]] = []
        self._sending: asyncio.Task[None] | None = None

    async def call(self, keys: list[Any], args: list[Any]) -> Any:
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.append((keys, args, done))
        if self._sending is None or self._sending.done():
            self._sending = asyncio.create_task(self._send(), name="redis batch")
        # A cancelled caller leaves the batch alone; its entry may still be added.
        return await asyncio.shield(done)

    async def close(self) -> None:
        if self._sending is not None:
            await asyncio.wait({self._sending})

    async def _send(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[:_BATCH], self._queue[_BATCH:]
            try:
                results = await self._run(batch)
                for (*_, done), result in zip(batch, results, strict=True):
                    _settle(done, result)
            except Exception as exc:
                for *_, done in batch:
                    _settle(done, exc)
            finally:  # whatever happened (even a cancellation), no caller waits forever
                for *_, done in batch:
                    _settle(done, RuntimeError("the Redis batch stopped before sending it"))

    async def _run(self, batch: list[tuple[list[Any], list[Any], asyncio.Future[Any]]]) -> Any:
        if len(batch) == 1:  # nothing to share: skip the pipeline's own costs
            keys, args, _ = batch[0]
            return [await self._script(keys=keys, args=args)]
        async with self._client.pipeline(transaction=False) as pipe:
            for keys, args, _ in batch:
                await self._script(keys=keys, args=args, client=pipe)
            return await pipe.execute(raise_on_error=False)


def _settle(done: asyncio.Future[Any], outcome: Any) -> None:
    if done.done():
        return
    if isinstance(outcome, BaseException):
        done.set_exception(outcome)
        done.exception()  # its caller may have been cancelled: never "never retrieved"
    else:
        done.set_result(outcome)
