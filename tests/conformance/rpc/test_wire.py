"""What only a real transport can get wrong: large and oversized payloads, the handler
cancelled when its caller gives up, retries only when safe, and bad input that is answered
without harming the server."""

from __future__ import annotations

import asyncio

import pytest

import interlink as il
from tests.conformance.rpc import _raw
from tests.conformance.rpc._services import (
    Blob,
    Nap,
    Reserve,
    Reserved,
    calls,
    cancelled,
    echo,
    slow,
)
from tests.conformance.rpc.conftest import LARGE_BODY, System
from tests.conftest import eventually


async def test_an_8_mib_payload_goes_both_ways(remote: System) -> None:
    data = "x" * (8 << 20)
    result = await remote.app.call(echo, Blob(data=data), timeout=30)
    assert result.data == data


async def test_an_oversized_payload_is_refused_and_the_server_goes_on(remote: System) -> None:
    with pytest.raises(il.RemoteError) as info:
        await remote.app.call(echo, Blob(data="x" * (LARGE_BODY + 1)), timeout=30)
    assert (info.value.status, info.value.remote_type) == (413, "PayloadTooLarge")
    assert await remote.app.call(echo, Blob(data="small")) == Blob(data="small")


async def test_a_handler_stops_when_its_callers_deadline_passes(remote: System) -> None:
    with pytest.raises(il.DeadlineExceeded):
        await remote.app.call(slow, Nap(seconds=30), timeout=0.3)
    await eventually(lambda: cancelled == ["slow"])


async def test_a_cancelled_caller_cancels_the_handler(remote: System) -> None:
    task = asyncio.create_task(remote.app.call(slow, Nap(seconds=30)))
    await eventually(lambda: calls.get("slow") == 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await eventually(lambda: cancelled == ["slow"])


async def test_only_a_handler_declared_idempotent_is_retried(remote: System) -> None:
    # Called by name: the caller learns idempotency from the callee's registration.
    with pytest.raises(il.RemoteError):
        await remote.app.call("backend.unsafe_boom", {"sku": "a", "qty": 1})
    with pytest.raises(il.RemoteError):
        await remote.app.call("backend.safe_boom", {"sku": "a", "qty": 1})
    assert calls == {"unsafe_boom": 1, "safe_boom": 3}  # the default policy: 3 attempts


async def test_malformed_requests_are_answered_on_their_own(remote: System) -> None:
    assert remote.server is not None
    bodies = [b"{not json", b'{"sku": "a", "qty": "many"}']
    if remote.transport == "http":
        answers = await _raw.http_bodies(remote.server.url, bodies)
    elif remote.transport == "grpc":
        answers = await _raw.grpc_bodies(remote.server.grpc_url, bodies)
        assert answers.pop() == (422, "ValidationError")  # bytes that are no protobuf message
    else:
        answers = await _raw.socket_bodies(remote.server.socket_url, bodies)
        assert answers.pop() == (400, "BadRequest")  # the malformed header
    assert answers == [(422, "ValidationError"), (422, "ValidationError")]
    assert await remote.app.call("backend.reserve", Reserve(sku="a", qty=1)) == {
        "reservation_id": "a-1"
    }


async def test_broken_framing_closes_that_connection_never_the_server(remote: System) -> None:
    assert remote.server is not None
    if remote.transport == "http":
        assert await _raw.http_broken(remote.server.url)
    elif remote.transport == "grpc":
        assert await _raw.grpc_broken(remote.server.grpc_url)
    else:
        assert await _raw.socket_broken(remote.server.socket_url)
    assert await remote.app.call(slow, Nap(seconds=0)) == Reserved(reservation_id="late")
