"""The HTTP contract a plain client can rely on: every error is the JSON error body with a
correlation id (also in ``x-correlation-id``), 405 with ``Allow``, 415 for a body that is not
JSON, and a bad request is never marked retryable."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from pydantic import BaseModel

import interlink as il


class Item(BaseModel):
    sku: str
    qty: int


class Sold(il.ApplicationError):
    """Sold out."""

    status = 409


class Flaky(il.ApplicationError):
    status = 400
    retryable = True  # a bad request stays a bad request, whatever the error says


svc = il.Service("contract")


@svc.rpc(idempotent=True, errors=[Flaky])
async def look(req: Item) -> Item:
    if req.sku == "boom":
        raise RuntimeError("db password=hunter2")
    if req.sku == "flaky":
        raise Flaky()
    return req


@svc.rpc(errors=[Sold])
async def buy(req: Item) -> Item:
    raise Sold()


@svc.route("GET", "/items/{sku}")
async def get_item(sku: str) -> Item:
    return Item(sku=sku, qty=1)


@svc.route("PUT", "/items/{sku}")
async def put_item(sku: str, item: Item) -> Item:
    return item


@svc.route("DELETE", "/items/{sku}")
async def delete_item(sku: str) -> None:
    return None


JSON = {"content-type": "application/json"}


class Answer:
    def __init__(self, status: int, headers: Any, body: Any) -> None:
        self.status, self.headers, self.body = status, headers, body

    @property
    def error(self) -> dict[str, Any]:
        return dict(self.body["error"])


@pytest.fixture
async def app() -> AsyncIterator[il.App]:
    async with il.App([svc], port=0, max_body_size=1024) as running:
        yield running


async def ask(app: il.App, method: str, path: str, **kw: Any) -> Answer:
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, app.url + path, **kw) as resp,
    ):
        assert resp.content_type in ("application/json", "application/octet-stream")
        text = await resp.text()
        body = await resp.json(content_type=None) if text else None
        return Answer(resp.status, resp.headers, body)


def assert_error_contract(answer: Answer, status: int, type_name: str) -> None:
    """The JSON error body, its correlation id non-empty and equal to the header's."""
    assert answer.status == status, answer.body
    assert answer.headers["content-type"] == "application/json"
    assert answer.error["type"] == type_name
    assert answer.error["correlation_id"]
    assert answer.error["correlation_id"] == answer.headers["x-correlation-id"]


async def test_a_wrong_method_on_an_rpc_is_405_with_allow(app: il.App) -> None:
    for method in ("GET", "PUT", "DELETE"):
        answer = await ask(app, method, "/rpc/contract/look")
        assert_error_contract(answer, 405, "MethodNotAllowed")
        assert answer.headers["allow"] == "POST"
    # An RPC that does not exist stays 404, whatever the method.
    assert_error_contract(await ask(app, "GET", "/rpc/contract/nope"), 404, "MethodNotFound")


async def test_a_wrong_method_on_a_route_is_a_json_405_listing_every_method_of_the_path(
    app: il.App,
) -> None:
    answer = await ask(app, "POST", "/items/apple", json={"sku": "a", "qty": 1})
    assert_error_contract(answer, 405, "MethodNotAllowed")
    assert answer.headers["allow"] == "DELETE, GET, HEAD, PUT"
    answer = await ask(app, "PATCH", "/health/live")
    assert_error_contract(answer, 405, "MethodNotAllowed")
    assert answer.headers["allow"] == "GET, HEAD"


async def test_an_unknown_path_is_a_json_404_and_no_trailing_slash_redirect(app: il.App) -> None:
    assert_error_contract(await ask(app, "GET", "/nowhere"), 404, "NotFound")
    answer = await ask(app, "GET", "/items/apple/", allow_redirects=False)
    assert_error_contract(answer, 404, "NotFound")


async def test_a_body_that_is_not_json_is_415(app: il.App) -> None:
    for headers in ({"content-type": "text/plain"}, {"content-type": "application/xml"}, {}):
        answer = await ask(app, "POST", "/rpc/contract/look", data=b"{}", headers=headers)
        assert_error_contract(answer, 415, "UnsupportedMediaType")
        answer = await ask(app, "PUT", "/items/a", data=b"{}", headers=headers)
        assert_error_contract(answer, 415, "UnsupportedMediaType")
    structured = b'{"specversion": "1.0", "id": "e1", "source": "/t", "type": "t", "data": '
    for content_type, body in (
        ("application/json; charset=utf-8", b'{"sku": "a", "qty": 1}'),
        ("application/cloudevents+json", structured + b'{"sku": "a", "qty": 1}}'),
    ):
        answer = await ask(
            app, "POST", "/rpc/contract/look", data=body, headers={"content-type": content_type}
        )
        assert answer.status == 200, content_type
    # A route that takes no body does not care what comes with the request.
    answer = await ask(app, "GET", "/items/a", headers={"content-type": "text/plain"})
    assert answer.status == 200


async def test_errors_before_any_handler_carry_a_generated_correlation_id(app: il.App) -> None:
    cases = [
        (await ask(app, "POST", "/rpc/contract/nope", json={}), 404),
        (await ask(app, "POST", "/rpc/contract/look", data=b"x" * 2048, headers=JSON), 413),
        (await ask(app, "POST", "/rpc/contract/look", data=b"{}", headers={}), 415),
        (await ask(app, "POST", "/rpc/contract/look", json={"sku": 1}), 422),
        (
            await ask(app, "POST", "/rpc/contract/look", json={}, headers={"ce-deadline": "soon"}),
            400,
        ),
        (await ask(app, "GET", "/items/a", headers={"ce-deadline": "soon"}), 400),
        (await ask(app, "GET", "/nowhere"), 404),
    ]
    ids = set()
    for answer, status in cases:
        assert answer.status == status, answer.body
        assert len(answer.error["correlation_id"]) == 32
        assert answer.error["correlation_id"] == answer.headers["x-correlation-id"]
        ids.add(answer.error["correlation_id"])
    assert len(ids) == len(cases)


async def test_the_callers_correlation_id_is_kept_and_returned(app: il.App) -> None:
    answer = await ask(
        app, "POST", "/rpc/contract/nope", json={}, headers={"x-correlation-id": "req-7"}
    )
    assert (answer.error["correlation_id"], answer.headers["x-correlation-id"]) == (
        "req-7",
        "req-7",
    )
    answer = await ask(
        app,
        "POST",
        "/rpc/contract/look",
        json={"sku": "a", "qty": 1},
        headers={"ce-correlationid": "c-1"},
    )
    assert (answer.status, answer.headers["x-correlation-id"]) == (200, "c-1")
    answer = await ask(app, "GET", "/items/a", headers={"x-correlation-id": "r-2"})
    assert (answer.status, answer.headers["x-correlation-id"]) == (200, "r-2")
    answer = await ask(app, "DELETE", "/items/a", headers={"x-correlation-id": "r-3"})
    assert (answer.status, answer.headers["x-correlation-id"]) == (204, "r-3")


async def test_an_unusable_correlation_id_is_replaced_not_echoed(app: il.App) -> None:
    for bad in ("x" * 200, " padded ", "caf\u00e9"):
        answer = await ask(
            app, "POST", "/rpc/contract/nope", json={}, headers={"x-correlation-id": bad}
        )
        assert answer.headers["x-correlation-id"] != bad
        assert len(answer.headers["x-correlation-id"]) == 32


async def test_a_bad_request_to_an_idempotent_rpc_is_never_retryable(app: il.App) -> None:
    bad = [
        await ask(app, "POST", "/rpc/contract/look", json={"sku": 1}),
        await ask(app, "POST", "/rpc/contract/look", json={}, headers={"ce-deadline": "soon"}),
        await ask(app, "POST", "/rpc/contract/look", json={"sku": "flaky", "qty": 1}),
    ]
    assert [a.status for a in bad] == [422, 400, 400]
    assert all("retryable" not in a.error for a in bad)
    failed = await ask(app, "POST", "/rpc/contract/look", json={"sku": "boom", "qty": 1})
    assert failed.status == 500
    assert failed.error["retryable"] is True  # idempotent: a server failure may pass
    assert "hunter2" not in failed.error["message"]


async def test_declared_errors_are_answered_with_their_status(app: il.App) -> None:
    answer = await ask(app, "POST", "/rpc/contract/buy", json={"sku": "a", "qty": 1})
    assert_error_contract(answer, 409, "Sold")
    assert answer.error["message"] == "Sold out."


async def test_a_draining_app_refuses_routes_with_503_too(app: il.App) -> None:
    app.runtime.inbound.draining = True
    try:
        answer = await ask(app, "GET", "/items/a")
        assert_error_contract(answer, 503, "ServiceUnavailable")
        answer = await ask(app, "POST", "/rpc/contract/look", json={"sku": "a", "qty": 1})
        assert_error_contract(answer, 503, "ServiceUnavailable")
    finally:
        app.runtime.inbound.draining = False
