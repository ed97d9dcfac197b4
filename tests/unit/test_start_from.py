"""``start_from`` values: checked where a subscription is declared, read the same everywhere."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

import interlink as il
from interlink.broker._start import start_point


def test_words_pass_through_and_times_become_epoch_seconds() -> None:
    assert start_point("new") == "new"
    assert start_point("earliest") == "earliest"
    when = datetime(2026, 12, 1, 21, 0, tzinfo=UTC)
    assert start_point(when) == when.timestamp()
    assert start_point(when.astimezone(timezone(timedelta(hours=2)))) == when.timestamp()
    assert start_point("2026-12-01T23:00:00+02:00") == when.timestamp()


@pytest.mark.parametrize("bad", [datetime(2026, 12, 1), "latest", "2026-12-01T21:00:00"])
def test_a_subscription_with_a_start_that_names_no_instant_is_refused(bad: object) -> None:
    svc = il.Service("s")
    with pytest.raises(il.DefinitionError, match="start_from"):

        @svc.subscribe("t.x", start_from=bad)  # type: ignore[arg-type]
        async def handle(evt: dict[str, str]) -> None: ...


def test_the_declared_start_is_kept_on_the_subscriber() -> None:
    svc = il.Service("s")
    when = datetime(2026, 12, 1, tzinfo=UTC)

    @svc.subscribe("t.x", start_from=when)
    async def handle(evt: dict[str, str]) -> None: ...

    assert svc.subscribers[0].start_from == when

    @svc.subscribe("t.y", start_from="2026-12-01T00:00:00Z")  # type: ignore[arg-type]
    async def handle_text(evt: dict[str, str]) -> None: ...

    assert svc.subscribers[1].start_from == "2026-12-01T00:00:00Z"
