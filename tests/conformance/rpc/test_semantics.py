"""RPC semantics, proven in-process and over every transport (real sockets), with the same
asserts."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

import interlink as il
from interlink.testing import TestApp
from tests.conformance.rpc._services import (
    Nap,
    Reserve,
    Reserved,
    backend,
    calls,
    conflict,
    explode,
    relay,
    relay_conflict,
    relay_explode,
    reserve,
    slow,
)
from tests.conformance.rpc.conftest import System


async def test_typed_call_returns_the_model(system: System) -> None:
    result = await system.app.call(reserve, Reserve(sku="apple", qty=2))
    assert result == Reserved(reservation_id="apple-2")


async def test_call_by_name_with_and_without_returns(system: System) -> None:
    typed = await system.app.call("backend.reserve", {"sku": "pear", "qty": 1}, returns=Reserved)
    assert typed == Reserved(reservation_id="pear-1")
    raw = await system.app.call("backend.reserve", Reserve(sku="pear", qty=3))
    assert raw == {"reservation_id": "pear-3"}
    assert await system.app.call("backend.nothing", {"sku": "x", "qty": 1}) is None


async def test_invalid_request_is_rejected_with_field_errors(system: System) -> None:
    with pytest.raises(il.InvalidRequest) as info:
        await system.app.call("backend.reserve", {"sku": "apple", "qty": "many"})
    assert info.value.errors[0]["loc"] == ["qty"]
    assert info.value.not_processed is True


async def test_unknown_method_is_method_not_found(system: System) -> None:
    with pytest.raises(il.MethodNotFound):
        await system.app.call("backend.nope", {})


async def test_handler_exception_becomes_remote_error_without_traceback(system: System) -> None:
    with pytest.raises(il.RemoteError) as info:
        await system.app.call(explode, Reserve(sku="a", qty=1))
    error = info.value
    assert (error.remote_type, error.status, error.service, error.method) == (
        "ZeroDivisionError",
        500,
        "backend",
        "explode",
    )
    # The exception's text stays in the callee's log: it may hold a password or a query.
    assert "1/0" not in str(error)
    assert error.args[0] == (
        f"backend.explode failed; its log has the details under correlation id "
        f"{error.correlation_id}"
    )
    assert "Traceback" not in str(error)
    assert len(error.correlation_id) == 32
    assert error.not_processed is False


async def test_application_error_keeps_status_and_type(system: System) -> None:
    with pytest.raises(il.RemoteError) as info:
        await system.app.call(conflict, Reserve(sku="a", qty=1))
    assert (info.value.status, info.value.remote_type) == (409, "OutOfStock")


async def test_downstream_client_error_passes_through_a_relay(system: System) -> None:
    with pytest.raises(il.RemoteError) as info:
        await system.app.call(relay_conflict, Reserve(sku="a", qty=1))
    assert (info.value.status, info.value.remote_type, info.value.method) == (
        409,
        "OutOfStock",
        "relay_conflict",
    )
    with pytest.raises(il.RemoteError) as server_side:
        await system.app.call(relay_explode, Reserve(sku="a", qty=1))
    assert (server_side.value.status, server_side.value.remote_type) == (500, "RemoteError")


async def test_correlation_trace_and_deadline_propagate_to_nested_calls(system: System) -> None:
    ctx = system.app.context("tester")
    before = time.time()
    result = await ctx.call(relay, Reserve(sku="a", qty=1), timeout=5.0)
    assert result.correlation_id == ctx.correlation_id
    assert result.service == "backend"
    assert result.trace_id is not None
    assert len(result.trace_id) == 32
    assert result.deadline is not None
    assert before + 4.9 <= result.deadline <= time.time() + 5.0 + 0.01
    assert result.causation_id is not None  # the relay's incoming message id


async def test_timeout_raises_deadline_exceeded(system: System) -> None:
    started = time.monotonic()
    with pytest.raises(il.DeadlineExceeded):
        await system.app.call(slow, Nap(seconds=5), timeout=0.1)
    assert time.monotonic() - started < 2


async def test_handler_timeout_is_enforced_by_the_callee(system: System) -> None:
    with pytest.raises(il.DeadlineExceeded):
        await system.app.call("backend.hurried", {"seconds": 5})


async def test_request_past_its_deadline_is_not_run(system: System) -> None:
    before = calls.get("slow", 0)
    ctx = system.app.context()
    ctx.deadline = time.time() - 1
    with pytest.raises(il.DeadlineExceeded):
        await ctx.call(slow, Nap(seconds=0))
    assert calls.get("slow", 0) == before


async def test_unreachable_service_is_unavailable_and_safe_to_retry(system: System) -> None:
    with pytest.raises(il.ServiceUnavailable) as info:
        await system.app.call("nowhere.method", {})
    assert info.value.not_processed is True


async def test_concurrent_calls_run_concurrently(system: System) -> None:
    started = time.monotonic()
    results: list[Any] = await asyncio.gather(
        *(system.app.call(slow, Nap(seconds=0.2)) for _ in range(20))
    )
    assert len(results) == 20
    assert time.monotonic() - started < 1.5  # serial would be 4 s


def test_target_must_be_service_dot_method() -> None:
    async def go() -> None:
        async with TestApp(il.App([backend])) as t:
            with pytest.raises(il.CallError, match=r"service\.method"):
                await t.call("no-dot", {})

    asyncio.run(go())
