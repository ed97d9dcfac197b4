"""What the dashboard reads and does beside the instances: dead letters through the App's
broker (listed, and replayed with :func:`interlink.messaging.replay_dead_letters`) and sagas
from the App's saga stores."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from interlink.broker import Broker, broker_from_url
from interlink.messaging import list_dead_letters, replay_dead_letters
from interlink.messaging.inbox import Database
from interlink.saga._state import decode_state
from interlink.saga._store import SagaRow, SagaStore, store_for

__all__ = ["Operations", "SagaSource"]

MAX_TOPICS = 50
LETTERS_PER_TOPIC = 20


@dataclass(frozen=True, slots=True)
class SagaSource:
    """A saga store to show: the database URL and the saga table in it."""

    url: str
    table: str = "interlink_sagas"


class Operations:
    """Owns the broker connection and saga databases the dashboard opened (either optional)."""

    def __init__(self, broker: str | None = None, sagas: tuple[SagaSource, ...] = ()) -> None:
        self.broker_url = broker
        self.saga_sources = tuple(dict.fromkeys(sagas))
        self.broker: Broker | None = None
        self._stores: list[SagaStore] = []
        self._stack = contextlib.AsyncExitStack()

    async def __aenter__(self) -> Operations:
        async with contextlib.AsyncExitStack() as stack:
            if self.broker_url is not None:
                broker = broker_from_url(self.broker_url)
                await broker.connect()
                stack.push_async_callback(broker.close)
                self.broker = broker
            for source in self.saga_sources:
                db = await stack.enter_async_context(Database(source.url))
                self._stores.append(store_for(db, table=source.table))
            self._stack = stack.pop_all()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._stack.aclose()

    async def dead_letters(self, topics: list[str]) -> list[dict[str, Any]]:
        """Up to ``LETTERS_PER_TOPIC`` dead letters of each topic, oldest first."""
        if self.broker is None:
            return []
        letters: list[dict[str, Any]] = []
        for topic in sorted(set(topics))[:MAX_TOPICS]:
            try:
                found = await list_dead_letters(self.broker, topic, limit=LETTERS_PER_TOPIC)
            except Exception:  # a topic whose dead-letter store does not exist yet
                continue
            letters.extend(
                {
                    "topic": letter.original_topic,
                    "envelope_id": letter.envelope_id,
                    "group": letter.group,
                    "error_type": letter.error_type,
                    "error_message": letter.error_message,
                    "attempts": letter.attempts,
                    "deliveries": letter.deliveries,
                    "last_failure": letter.last_failure,
                }
                for letter in found
            )
        return letters

    async def replay(self, topic: str, envelope_id: str | None) -> int:
        if self.broker is None:
            raise LookupError("the dashboard was started without a broker")
        return await replay_dead_letters(self.broker, topic, envelope_id=envelope_id)

    async def sagas(self, limit: int = 50) -> list[dict[str, Any]]:
        rows: list[SagaRow] = []
        for store in self._stores:
            rows.extend(await store.list(limit=limit))
        rows.sort(key=lambda r: r.updated_at, reverse=True)
        return [_saga_row(r) for r in rows[:limit]]

    async def saga(self, saga_id: str) -> dict[str, Any] | None:
        for store in self._stores:
            row = await store.get(saga_id)
            if row is not None:
                return _saga_detail(row)
        return None


def _saga_row(row: SagaRow) -> dict[str, Any]:
    state = decode_state(row.state, saga=row.name)
    return {
        "id": row.id,
        "name": row.name,
        "key": row.key,
        "status": row.status,
        "step": state.cursor,
        "error": state.error,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


def _saga_detail(row: SagaRow) -> dict[str, Any]:
    state = decode_state(row.state, saga=row.name)
    steps = [
        {
            "name": step.name,
            "status": str(step.status),
            "compensation": str(step.compensation),
            "error": step.error,
            "attempts": [
                {
                    "kind": a.kind,
                    "number": a.number,
                    "started_at": a.started_at,
                    "ended_at": a.ended_at,
                    "error": a.error,
                }
                for a in step.history
            ],
        }
        for step in state.steps
    ]
    return {**_saga_row(row), "data": bytes(state.data).decode(), "steps": steps}
