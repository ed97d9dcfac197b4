"""What a plain HTTP client sees: status codes, stable error bodies, REST, health, OpenAPI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from pydantic import BaseModel, Field

import interlink as il


class Item(BaseModel):
    sku: str = Field(min_length=1)
    qty: int = Field(gt=0)


class Stock(BaseModel):
    sku: str
    available: int
    warehouse: str | None = None


class Echoed(BaseModel):
    correlation_id: str
    subject: str | None


JSON = {"content-type": "application/json"}

shop = il.Service("shop", version="3.0.0")
_stock = {"apple": 5}


@shop.rpc
async def add(req: Item) -> Stock:
    _stock[req.sku] = _stock.get(req.sku, 0) + req.qty
    return Stock(sku=req.sku, available=_stock[req.sku])


@shop.rpc
async def broken(req: Item) -> Stock:
    raise KeyError("postgresql://orders:s3cret@db/orders")


@shop.rpc
async def whoami(req: dict[str, Any], ctx: il.Context) -> Echoed:
    return Echoed(correlation_id=ctx.correlation_id, subject=ctx.headers.get("subject"))


@shop.route("GET", "/stock/{sku}")
async def get_stock(sku: str, warehouse: str | None = None, min_qty: int = 0) -> Stock:
    """Stock for one sku."""
    if sku not in _stock:
        raise il.ApplicationError(f"no sku {sku!r}", status=404, type="UnknownSku")
    return Stock(sku=sku, available=max(_stock[sku], min_qty), warehouse=warehouse)


@shop.route("PUT", "/stock/{sku}", status=201)
async def put_stock(sku: str, item: Item) -> Stock:
    _stock[sku] = item.qty
    return Stock(sku=sku, available=item.qty)


@shop.route("DELETE", "/stock/{sku}")
async def delete_stock(sku: str) -> None:
    _stock.pop(sku, None)


@shop.route("GET", "/tags")
async def tags(tag: list[str]) -> list[str]:
    return sorted(tag)


class Client:
    def __init__(self, base: str, session: aiohttp.ClientSession) -> None:
        self.base = base
        self.session = session

    async def request(self, method: str, path: str, **kw: Any) -> tuple[int, Any]:
        async with self.session.request(method, self.base + path, **kw) as resp:
            text = await resp.text()
            return resp.status, (await resp.json() if text else None)


@pytest.fixture
async def http() -> AsyncIterator[Client]:
    async with il.App([shop], port=0, max_body_size=1024) as app, aiohttp.ClientSession() as s:
        yield Client(app.url, s)


async def test_rpc_success(http: Client) -> None:
    status, body = await http.request("POST", "/rpc/shop/add", json={"sku": "kiwi", "qty": 2})
    assert (status, body) == (200, {"sku": "kiwi", "available": 2, "warehouse": None})


async def test_invalid_body_is_422_with_every_field_error(http: Client) -> None:
    status, body = await http.request("POST", "/rpc/shop/add", json={"sku": "", "qty": -1})
    assert status == 422
    error = body["error"]
    assert error["type"] == "ValidationError"
    assert {tuple(e["loc"]) for e in error["errors"]} == {("sku",), ("qty",)}
    assert (error["service"], error["method"]) == ("shop", "add")


async def test_malformed_json_is_422(http: Client) -> None:
    status, body = await http.request("POST", "/rpc/shop/add", data=b"{not json", headers=JSON)
    assert status == 422
    assert body["error"]["errors"][0]["type"] == "json_invalid"


async def test_unknown_method_and_service_are_404(http: Client) -> None:
    status, body = await http.request("POST", "/rpc/shop/nope", json={})
    assert (status, body["error"]["type"]) == (404, "MethodNotFound")
    status, body = await http.request("POST", "/rpc/ghost/nope", json={})
    assert status == 404
    assert "no service 'ghost'" in body["error"]["message"]
    status, body = await http.request("GET", "/nowhere")
    assert (status, body["error"]["type"]) == (404, "NotFound")


async def test_handler_failure_is_a_stable_500_body(http: Client) -> None:
    status, body = await http.request(
        "POST",
        "/rpc/shop/broken",
        json={"sku": "a", "qty": 1},
        headers={"ce-correlationid": "corr-1"},
    )
    assert status == 500
    assert body == {
        "error": {
            "type": "KeyError",
            "message": "shop.broken failed; its log has the details under correlation id corr-1",
            "service": "shop",
            "method": "broken",
            "correlation_id": "corr-1",
        }
    }


async def test_an_unexpected_exception_is_logged_not_sent(
    http: Client, caplog: pytest.LogCaptureFixture
) -> None:
    status, body = await http.request(
        "POST", "/rpc/shop/broken", json={"sku": "a", "qty": 1}, headers={"ce-correlationid": "c-9"}
    )
    assert status == 500
    assert "s3cret" not in str(body)
    (record,) = [r for r in caplog.records if r.name == "interlink" and r.levelname == "ERROR"]
    assert "c-9" in record.getMessage()
    assert record.exc_info is not None
    assert "s3cret" in str(record.exc_info[1])


async def test_body_over_the_limit_is_413(http: Client) -> None:
    status, body = await http.request("POST", "/rpc/shop/add", data=b"x" * 2048, headers=JSON)
    assert (status, body["error"]["type"]) == (413, "PayloadTooLarge")


async def test_cloudevents_headers_reach_the_handler(http: Client) -> None:
    headers = {"ce-correlationid": "c-42", "ce-subject": "order-7", "ce-id": "m1"}
    status, body = await http.request("POST", "/rpc/shop/whoami", json={}, headers=headers)
    assert (status, body) == (200, {"correlation_id": "c-42", "subject": "order-7"})


async def test_malformed_deadline_header_is_400(http: Client) -> None:
    status, body = await http.request(
        "POST", "/rpc/shop/whoami", json={}, headers={"ce-deadline": "soon"}
    )
    assert (status, body["error"]["type"]) == (400, "BadRequest")


async def test_rest_route_with_typed_path_and_query(http: Client) -> None:
    status, body = await http.request("GET", "/stock/apple?warehouse=north&min_qty=9")
    assert (status, body) == (200, {"sku": "apple", "available": 9, "warehouse": "north"})
    status, body = await http.request("GET", "/stock/apple?min_qty=lots")
    assert status == 422
    assert body["error"]["errors"][0]["loc"] == ["query", "min_qty"]
    status, body = await http.request("GET", "/stock/durian")
    assert (status, body["error"]["type"]) == (404, "UnknownSku")


async def test_rest_body_status_and_no_content(http: Client) -> None:
    status, body = await http.request("PUT", "/stock/fig", json={"sku": "fig", "qty": 3})
    assert (status, body["available"]) == (201, 3)
    status, body = await http.request("PUT", "/stock/fig", json={"sku": "fig"})
    assert status == 422
    assert body["error"]["errors"][0]["loc"] == ["body", "qty"]
    status, body = await http.request("DELETE", "/stock/fig")
    assert (status, body) == (204, None)


async def test_rest_list_query_parameters(http: Client) -> None:
    status, body = await http.request("GET", "/tags?tag=b&tag=a")
    assert (status, body) == (200, ["a", "b"])
    status, body = await http.request("GET", "/tags")
    assert status == 422


async def test_health_endpoints(http: Client) -> None:
    assert await http.request("GET", "/health/live") == (200, {"status": "live"})
    assert await http.request("GET", "/health/ready") == (
        200,
        {"status": "ready", "services": ["shop"]},
    )


async def test_openapi_describes_rpcs_and_routes(http: Client) -> None:
    status, doc = await http.request("GET", "/openapi.json")
    assert status == 200
    assert doc["openapi"].startswith("3.1")
    add_op = doc["paths"]["/rpc/shop/add"]["post"]
    assert add_op["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Item"
    }
    assert set(add_op["responses"]) >= {"200", "422", "500", "504"}
    get_op = doc["paths"]["/stock/{sku}"]["get"]
    assert [(p["name"], p["in"], p["required"]) for p in get_op["parameters"]] == [
        ("sku", "path", True),
        ("warehouse", "query", False),
        ("min_qty", "query", False),
    ]
    assert get_op["summary"] == "Stock for one sku."
    assert {"Item", "Stock", "Error"} <= set(doc["components"]["schemas"])


async def test_admin_api_lists_services_and_publishes(http: Client) -> None:
    status, body = await http.request("GET", "/_interlink/services")
    assert status == 200
    assert body["services"][0]["name"] == "shop"
    assert body["registered"]["shop"][0]["url"] == http.base
    status, _ = await http.request("POST", "/_interlink/publish/shop.audit", json={"a": 1})
    assert status == 202
    status, body = await http.request("POST", "/_interlink/publish/shop.audit", data=b"{bad")
    assert status == 422


async def test_admin_api_is_off_on_public_interfaces_unless_asked() -> None:
    assert il.App([shop], host="0.0.0.0").admin_enabled is False
    assert il.App([shop], host="0.0.0.0", admin=True).admin_enabled is True
    assert il.App([shop], host="127.0.0.1").admin_enabled is True
    async with (
        il.App([shop], port=0, admin=False) as app,
        aiohttp.ClientSession() as s,
        s.get(app.url + "/_interlink/services") as resp,
    ):
        assert resp.status == 404


async def test_draining_server_refuses_new_rpcs_with_503() -> None:
    app = il.App([shop], port=0)
    async with app:
        server = app.runtime.server
        assert server is not None
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"{}", "more_body": False}

        async def send(message: Any) -> None:
            sent.append(message)

        app.runtime.inbound.draining = True
        scope = {"type": "http", "method": "POST", "path": "/rpc/shop/add", "headers": []}
        await server(scope, receive, send)
        app.runtime.inbound.draining = False
    assert sent[0]["status"] == 503
    assert b"ServiceUnavailable" in sent[1]["body"]
