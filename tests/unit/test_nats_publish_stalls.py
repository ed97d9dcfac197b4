"""Publish stalls on a NATS cluster: one outage is counted once, however many publishes it held."""

from __future__ import annotations

from interlink.broker import PublishStalls


def test_publishes_held_by_one_outage_count_as_one_stall() -> None:
    stalls = PublishStalls()
    stalls.recovered(first=10.0, now=16.0)  # the first publish stored after the outage
    stalls.recovered(first=11.0, now=16.2)  # sent during the same outage
    assert (stalls.stalls, stalls.resent, stalls.longest, stalls.last) == (1, 2, 6.0, 6.0)
    stalls.recovered(first=20.0, now=21.5)  # first sent after that outage ended: a new one
    assert (stalls.stalls, stalls.resent, stalls.longest, stalls.last) == (2, 3, 6.0, 1.5)
