"""``StepContext``: what a step (or its compensation) knows about the attempt it runs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from interlink._context import Context

__all__ = ["StepContext"]


@dataclass(frozen=True, kw_only=True, slots=True)
class StepContext:
    saga_id: str
    saga: str
    step: str
    kind: str
    """``action`` or ``compensate``."""
    attempt: int
    """1 for the first attempt; every retry and every re-send after a resume counts."""
    context: Context | None = None
    """The App's context (``call``, ``request``, ``publish``) when the saga runs in an App."""
    sender: Callable[[str, Any, Any], Awaitable[Any]] | None = None

    @property
    def idempotency_key(self) -> str:
        """``saga_id:step:kind``: the same on every attempt and every re-send after a crash.

        Hand it to the participant (in the message, or as the id its inbox claims) so that it
        applies the effect once however often the step is sent."""
        return f"{self.saga_id}:{self.step}:{self.kind}"

    def app(self) -> Context:
        if self.context is None:
            raise RuntimeError("this saga runs outside an App: ctx.app() has no context")
        return self.context

    async def call(self, target: Any, message: Any, **options: Any) -> Any:
        """``ctx.call`` of the App's context (see :meth:`interlink.Context.call`)."""
        return await self.app().call(target, message, **options)

    async def send(self, topic: str, message: Any, *, returns: Any = None) -> Any:
        """Send a command through the saga's outbox and wait for its durable reply: the
        participant's return value (decoded as ``returns``), or its error raised here.

        The command is written to the outbox in the same transaction that records it in the
        saga's state; its id is ``saga_id:step:kind:n``; the participant subscribed to
        ``topic`` answers on ``sagas.{saga}.replies`` (see docs/sagas.md, command steps)."""
        if self.sender is None:
            raise RuntimeError("ctx.send needs a saga run by an engine")
        return await self.sender(topic, message, returns)

    async def request(self, topic: str, message: Any, **options: Any) -> Any:
        """``ctx.request`` of the App's context: a command over the broker, and its reply."""
        return await self.app().request(topic, message, **options)
