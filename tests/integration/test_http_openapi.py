"""The OpenAPI document tells the truth: every status an RPC or a route can answer is listed
with the JSON error schema, declared errors included, and answers match what it says."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import jsonschema
import pytest
from openapi_spec_validator import validate
from pydantic import BaseModel

import interlink as il


class Item(BaseModel):
    sku: str
    qty: int


class OutOfStock(il.ApplicationError):
    """Not enough stock."""

    status = 409


class Declined(il.ApplicationError):
    """The card was declined."""

    status = 402


class Invalid(il.ApplicationError):
    """A coupon that does not exist."""

    status = 422
    type = "UnknownCoupon"


svc = il.Service("doc")


@svc.rpc(errors=[OutOfStock, Declined, Invalid])
async def order(req: Item) -> Item:
    """Order an item."""
    if req.sku == "none":
        raise OutOfStock()
    return req


@svc.route("GET", "/items/{sku}", errors=[OutOfStock])
async def get_item(sku: str) -> Item:
    raise OutOfStock()


@svc.route("GET", "/items")
async def list_items() -> list[Item]:
    return []


@svc.route("PUT", "/items/{sku:str}")
async def put_item(sku: str, item: Item) -> None:
    return None


@pytest.fixture
async def served() -> AsyncIterator[tuple[il.App, dict[str, Any]]]:
    async with (
        il.App([svc], port=0, name="doc", version="2.0.0") as app,
        aiohttp.ClientSession() as session,
        session.get(app.url + "/openapi.json") as resp,
    ):
        yield app, await resp.json()


def statuses(op: dict[str, Any]) -> set[str]:
    return set(op["responses"])


async def test_the_document_is_valid_openapi_3_1(served: tuple[il.App, dict[str, Any]]) -> None:
    _, doc = served
    validate(doc)
    assert (doc["openapi"], doc["info"]["title"], doc["info"]["version"]) == (
        "3.1.0",
        "doc",
        "2.0.0",
    )


async def test_an_rpc_lists_its_result_its_declared_errors_and_the_frameworks(
    served: tuple[il.App, dict[str, Any]],
) -> None:
    _, doc = served
    op = doc["paths"]["/rpc/doc/order"]["post"]
    assert statuses(op) == {
        "200",
        "400",
        "402",
        "408",
        "409",
        "413",
        "415",
        "422",
        "431",
        "500",
        "503",
        "504",
    }
    assert "Not enough stock." in op["responses"]["409"]["description"]
    # A declared status the framework also answers names both.
    described = op["responses"]["422"]["description"]
    assert "`UnknownCoupon`: A coupon that does not exist." in described
    assert "`ValidationError`" in described
    assert op["responses"]["409"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }
    assert op["responses"]["413"] == {"$ref": "#/components/responses/413"}


async def test_a_route_lists_what_its_parameters_and_body_make_possible(
    served: tuple[il.App, dict[str, Any]],
) -> None:
    _, doc = served
    get_op = doc["paths"]["/items/{sku}"]["get"]
    assert statuses(get_op) == {
        "200",
        "400",
        "404",
        "408",
        "409",
        "422",
        "431",
        "500",
        "503",
        "504",
    }
    listing = doc["paths"]["/items"]["get"]
    assert statuses(listing) == {"200", "400", "408", "431", "500", "503", "504"}
    put_op = doc["paths"]["/items/{sku}"]["put"]  # the :str convertor is not in the path
    assert statuses(put_op) == {
        "204",
        "400",
        "404",
        "408",
        "413",
        "415",
        "422",
        "431",
        "500",
        "503",
        "504",
    }
    assert put_op["responses"]["204"]["headers"]["x-correlation-id"]["required"] is True


async def test_the_framework_errors_and_405_are_components_with_causes(
    served: tuple[il.App, dict[str, Any]],
) -> None:
    _, doc = served
    responses = doc["components"]["responses"]
    assert set(responses) == {
        "400",
        "404",
        "405",
        "408",
        "413",
        "415",
        "422",
        "431",
        "500",
        "503",
        "504",
    }
    assert "Allow" in responses["405"]["headers"]
    assert "/health/ready" in doc["paths"]


async def test_every_error_answer_fits_the_documented_error_schema(
    served: tuple[il.App, dict[str, Any]],
) -> None:
    app, doc = served
    schema = _resolve(doc, doc["components"]["schemas"]["Error"])
    requests = [
        ("POST", "/rpc/doc/order", {"json": {"sku": "none", "qty": 1}}, 409),
        ("POST", "/rpc/doc/order", {"json": {"sku": 1}}, 422),
        ("POST", "/rpc/doc/order", {"data": b"{}"}, 415),
        ("GET", "/rpc/doc/order", {}, 405),
        ("POST", "/rpc/doc/nope", {"json": {}}, 404),
        ("GET", "/items/apple", {}, 409),
        ("PUT", "/items/apple", {"json": {"sku": "a"}}, 422),
        ("GET", "/items", {"headers": {"ce-deadline": "soon"}}, 400),
        ("DELETE", "/items", {}, 405),
    ]
    async with aiohttp.ClientSession() as session:
        for method, path, kw, status in requests:
            async with session.request(method, app.url + path, **kw) as resp:
                body = await resp.json()
                assert resp.status == status, (path, body)
                jsonschema.validate(body, schema)
                op = doc["paths"].get(path.replace("apple", "{sku}"), {}).get(method.lower())
                if op is not None:
                    assert str(status) in op["responses"], (method, path, status)


def _resolve(doc: dict[str, Any], node: Any) -> Any:
    """The schema with its local references inlined (jsonschema gets no document to resolve)."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/"):
            target: Any = doc
            for part in ref[2:].split("/"):
                target = target[part]
            return _resolve(doc, target)
        return {k: _resolve(doc, v) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve(doc, v) for v in node]
    return node
