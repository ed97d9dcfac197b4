"""How a NATS member spends its ``max_in_flight`` over its pull consumers (no server needed)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from interlink.broker._nats_credit import LONG_POLL, PARTITION_POLL, QUIET, Credit, Lane

PARTITIONS = 8


def member_lanes() -> list[Lane]:
    return [Lane("u", partition=False), *(Lane(f"p{n}", partition=True) for n in range(PARTITIONS))]


def test_with_credit_for_every_lane_each_waits_on_the_server() -> None:
    credit = Credit(member_lanes(), 16)
    pulls = {pull.lane.consumer: (pull.batch, pull.expires) for pull in credit.plan(0.0, 0)}
    assert pulls == {
        "u": (16 - PARTITIONS, LONG_POLL),
        **{f"p{n}": (1, PARTITION_POLL) for n in range(PARTITIONS)},
    }
    assert credit.held == 16


def test_with_one_credit_every_lane_gets_its_turn() -> None:
    credit = Credit(member_lanes(), 1)
    turns = []
    for _ in range(PARTITIONS + 1):
        (pull,) = credit.plan(0.0, 0)
        assert (pull.batch, pull.expires) == (1, None)  # a probe: answered at once
        turns.append(pull.lane.consumer)
        credit.ended(pull.lane.request, "404", 0.0)  # nothing there: that lane rests
    assert sorted(turns) == sorted(lane.consumer for lane in member_lanes())
    (idle,) = credit.plan(0.0, 0)  # all rest: the spare credit waits on unkeyed work
    assert (idle.lane.consumer, idle.expires) == ("u", QUIET)


def test_a_partition_asks_again_only_once_its_message_is_settled() -> None:
    lanes = member_lanes()
    credit = Credit(lanes, 16)
    credit.plan(0.0, 0)
    p3 = lanes[4]
    credit.delivered(p3)
    assert not [pull for pull in credit.plan(0.0, 0) if pull.lane is p3]
    credit.settled(p3)
    assert [pull.batch for pull in credit.plan(0.0, 0) if pull.lane is p3] == [1]


def test_requests_from_before_a_reconnect_are_forgotten() -> None:
    credit = Credit(member_lanes(), 16)
    credit.plan(0.0, 0)
    credit.forget_lost(0.1, 1)
    assert credit.held == 0
    assert len(credit.plan(0.1, 1)) == PARTITIONS + 1


_events = st.tuples(st.sampled_from(["deliver", "end", "settle", "tick"]), st.integers(0, 99))


@given(limit=st.integers(1, 20), events=st.lists(_events, max_size=200))
def test_a_member_never_holds_more_than_its_limit(
    limit: int, events: list[tuple[str, int]]
) -> None:
    lanes = member_lanes()
    credit = Credit(lanes, limit)
    now = 0.0
    for event, pick in events:
        credit.plan(now, 0)
        assert credit.held <= limit
        asking = [lane for lane in lanes if lane.request]
        taken = [lane for lane in lanes if lane.taken]
        if event == "deliver" and asking:
            credit.delivered(asking[pick % len(asking)])
        elif event == "end" and asking:
            lane = asking[pick % len(asking)]
            credit.ended(lane.request, ("404", "408", "409")[pick % 3], now)
        elif event == "settle" and taken:
            credit.settled(taken[pick % len(taken)])
        else:
            now += QUIET / 2
        assert credit.held <= limit
        assert all(lane.taken <= 1 for lane in lanes if lane.partition)
