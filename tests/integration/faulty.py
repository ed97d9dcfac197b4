"""A broker wrapper that injects faults at the seam: failing acks, terms, publishes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from interlink._errors import PublishError
from interlink.broker import Delivery, MemoryBroker, Subscription


class FaultyDelivery:
    def __init__(self, inner: Delivery, broker: FaultyBroker) -> None:
        self._inner = inner
        self._broker = broker
        self.topic, self.body, self.headers = inner.topic, inner.body, inner.headers
        self.key, self.attempt = inner.key, inner.attempt

    async def ack(self) -> None:
        if self._broker.fail_acks > 0:
            self._broker.fail_acks -= 1
            await self._inner.nack()  # the broker never heard the ack: it redelivers
            raise ConnectionError("ack lost")
        await self._inner.ack()

    async def term(self) -> None:
        if self._broker.fail_terms > 0:
            self._broker.fail_terms -= 1
            await self._inner.nack()  # as if the consumer died before the term arrived
            raise ConnectionError("term lost")
        await self._inner.term()

    async def nack(self, delay: float = 0.0) -> None:
        await self._inner.nack(delay)

    async def in_progress(self) -> None:
        self._broker.progress += 1
        await self._inner.in_progress()


class FaultySubscription:
    def __init__(self, inner: Subscription, broker: FaultyBroker) -> None:
        self._inner = inner
        self._broker = broker
        self.heartbeat = broker.heartbeat

    def __aiter__(self) -> FaultySubscription:
        return self

    async def __anext__(self) -> FaultyDelivery:
        return FaultyDelivery(await anext(self._inner), self._broker)

    async def close(self) -> None:
        await self._inner.close()


class FaultyBroker(MemoryBroker):
    """A memory broker whose next ``fail_acks`` acks and ``fail_terms`` terms are lost (the
    message comes back), and whose publishes can be made to fail by ``publish_fault``."""

    def __init__(self, **settings: Any) -> None:
        super().__init__(**settings)
        self.fail_acks = 0
        self.fail_terms = 0
        self.progress = 0
        self.heartbeat: float | None = None
        self.publish_fault: Callable[[str, str | None], Exception | None] | None = None
        self.publish_calls = 0

    async def subscribe(self, topic: str, *, group: str | None, max_in_flight: int) -> Any:
        inner = await super().subscribe(topic, group=group, max_in_flight=max_in_flight)
        return FaultySubscription(inner, self)

    async def publish(
        self,
        topic: str,
        body: bytes,
        *,
        key: str | None = None,
        headers: Mapping[str, str] | None = None,
        message_id: str | None = None,
    ) -> None:
        self.publish_calls += 1
        fault = None if self.publish_fault is None else self.publish_fault(topic, message_id)
        if isinstance(fault, PublishError) and fault.maybe_stored:
            # Stored, but the acknowledgement is lost on the way back.
            await super().publish(topic, body, key=key, headers=headers, message_id=message_id)
        if fault is not None:
            raise fault
        await super().publish(topic, body, key=key, headers=headers, message_id=message_id)
