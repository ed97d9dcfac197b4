"""``kafka://`` URLs: the backend, its settings, and the error naming the extra."""

from __future__ import annotations

import sys

import pytest

import interlink as il
from interlink.broker import KafkaBroker, broker_from_url


def test_a_kafka_url_makes_a_kafka_broker_with_its_settings() -> None:
    broker = broker_from_url("kafka://127.0.0.1:9092?partitions=3&session_timeout=4")
    assert isinstance(broker, KafkaBroker)
    assert broker.url == "kafka://127.0.0.1:9092"
    assert (broker.settings.partitions, broker.settings.session_timeout) == (3, 4.0)


@pytest.mark.parametrize("query", ["partitions=0", "session_timeout=0.1", "acks=1"])
def test_bad_kafka_settings_are_refused(query: str) -> None:
    with pytest.raises(il.ConfigurationError):
        broker_from_url(f"kafka://127.0.0.1:9092?{query}")


async def test_without_aiokafka_connect_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "aiokafka", None)
    broker = broker_from_url("kafka://127.0.0.1:9092")
    with pytest.raises(il.ConfigurationError, match=r'pip install "interlink\[kafka\]"'):
        await broker.connect()
