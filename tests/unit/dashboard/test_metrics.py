"""Breaker states, their timeline and the broker panel, from recorded ``/metrics`` text."""

from __future__ import annotations

from interlink.dashboard._metrics import (
    BreakerHistory,
    breaker_states,
    broker_rows,
    parse_metrics,
    worst,
)


def breaker_text(payment: str, inventory: str = "closed") -> str:
    lines = [
        "# HELP interlink_breaker_state Circuit breaker state (1 for the current one).",
        "# TYPE interlink_breaker_state gauge",
    ]
    for target, current in (("payment.charge", payment), ("inventory.reserve", inventory)):
        for state in ("closed", "open", "half_open"):
            value = "1.0" if state == current else "0.0"
            lines.append(
                f'interlink_breaker_state{{interlink_target="{target}",state="{state}"}} {value}'
            )
    return "\n".join(lines) + "\n"


BROKER = """\
# TYPE interlink_subscription_pending_messages gauge
interlink_subscription_pending_messages{messaging_destination_name="orders.placed",messaging_consumer_group_name="analytics"} 7.0
# TYPE interlink_subscription_unacknowledged_messages gauge
interlink_subscription_unacknowledged_messages{messaging_destination_name="orders.placed",messaging_consumer_group_name="analytics"} 2.0
# TYPE interlink_subscription_redelivered_messages counter
interlink_subscription_redelivered_messages_total{messaging_destination_name="orders.placed",messaging_consumer_group_name="analytics"} 3.0
# TYPE interlink_dead_letters gauge
interlink_dead_letters{messaging_destination_name="orders.placed",messaging_consumer_group_name="analytics"} 1.0
"""


def test_the_current_breaker_state_is_the_label_whose_sample_is_one() -> None:
    assert breaker_states(parse_metrics(breaker_text("open"))) == {
        "payment.charge": "open",
        "inventory.reserve": "closed",
    }
    assert breaker_states(parse_metrics(breaker_text("half_open")))["payment.charge"] == "half_open"


def test_the_worst_state_across_instances_is_shown() -> None:
    assert worst(["closed", "open", "half_open"]) == "open"
    assert worst(["closed", "half_open"]) == "half_open"
    assert worst(["closed"]) == "closed"


def test_states_set_by_hand_rank_by_what_they_let_through() -> None:
    assert worst(["closed", "forced_open"]) == "forced_open"
    assert worst(["open", "forced_open", "half_open"]) == "forced_open"
    assert worst(["disabled", "half_open"]) == "half_open"
    assert worst(["metrics_only", "open"]) == "open"
    assert worst(["disabled"]) == "disabled"


def test_the_timeline_records_each_change_once() -> None:
    history = BreakerHistory(capacity=10)
    for at, state in enumerate(["closed", "closed", "open", "open", "half_open", "closed"]):
        history.observe("orders-1", "orders", {"payment.charge": state}, float(at))
    assert [(c["time"], c["state"]) for c in history.changes] == [
        (0.0, "closed"),
        (2.0, "open"),
        (4.0, "half_open"),
        (5.0, "closed"),
    ]
    assert history.changes[0]["target"] == "payment.charge"


def test_the_timeline_is_bounded_and_forgets_a_vanished_instance() -> None:
    history = BreakerHistory(capacity=3)
    for at in range(10):
        history.observe("i", "orders", {"t": "open" if at % 2 else "closed"}, float(at))
    assert len(history.changes) == 3
    history.forget("i")
    history.observe("i", "orders", {"t": "open"}, 99.0)  # seen anew: recorded again
    assert history.changes[-1]["time"] == 99.0


def test_broker_rows_take_the_brokers_counts_once_and_add_each_instances_own() -> None:
    rows = broker_rows([parse_metrics(BROKER), parse_metrics(BROKER)])
    assert rows == [
        {
            "destination": "orders.placed",
            "group": "analytics",
            "pending": 7.0,
            "unacknowledged": 2.0,  # group-wide, as the broker counts it: not per member
            "redelivered": 6.0,
            "dead_letters": 1.0,
        }
    ]


def test_metrics_without_state_gauges_give_no_rows() -> None:
    text = "# TYPE http_server_request_duration_seconds histogram\n"
    assert broker_rows([parse_metrics(text)]) == []
    assert breaker_states(parse_metrics(text)) == {}
