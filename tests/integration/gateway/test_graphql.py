"""graphql_app through real sockets: services served over HTTP by one App, reached through
discovery by another App (the gateway's) whose policies apply to each field's call."""

from __future__ import annotations

import contextlib
import dataclasses
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import msgspec
import pytest
from pydantic import BaseModel, Field

import interlink as il
from interlink.discovery import MemoryRegistry
from interlink.gateway import graphql_app, graphql_schema
from interlink.resilience import CircuitBreaker, CountWindow, Policy
from tests.integration.gateway._serve import serving

hits: Counter[str] = Counter()
catalog = il.Service("catalog")
flaky = il.Service("flaky")


@dataclasses.dataclass
class Price:
    amount_cents: int
    currency: str = "EUR"


@dataclasses.dataclass
class Product:
    sku: str
    name: str
    price: Price
    tags: list[str]
    attributes: dict[str, str]
    discontinued: bool | None = None


class ProductQuery(BaseModel):
    sku: str


class Restock(BaseModel):
    sku: str
    qty: int = Field(gt=0)
    note: str | None = None


class Restocked(msgspec.Struct):
    sku: str
    stock: int
    note: str | None


class UnknownSku(il.ApplicationError):
    """No product has this SKU."""

    status = 404


STOCK = {"pear": 3}


@catalog.rpc(idempotent=True, errors=[UnknownSku])
async def product(req: ProductQuery) -> Product:
    hits["product"] += 1
    if req.sku not in STOCK:
        raise UnknownSku(f"no product {req.sku!r}")
    return Product(req.sku, "Pear", Price(95), ["fruit"], {"origin": "NL"})


@catalog.rpc
async def restock(req: Restock) -> Restocked:
    STOCK[req.sku] = STOCK.get(req.sku, 0) + req.qty
    return Restocked(req.sku, STOCK[req.sku], req.note)


@flaky.rpc(idempotent=True)
async def boom(req: ProductQuery) -> Product:
    hits["boom"] += 1
    raise RuntimeError("broken")


@contextlib.asynccontextmanager
async def gateway(**options: Any) -> AsyncIterator[tuple[aiohttp.ClientSession, str]]:
    registry = MemoryRegistry()
    breaker = CircuitBreaker(window=CountWindow(2), minimum_calls=2, wait_in_open=60.0)
    policies = {"flaky": Policy(breaker=breaker)}
    async with (
        il.App([catalog, flaky], registry=registry, port=0),
        il.App([], registry=registry, serve_http=False, policies=policies) as edge,
        serving(graphql_app(edge, [catalog, flaky], **options)) as port,
        aiohttp.ClientSession() as session,
    ):
        yield session, f"http://127.0.0.1:{port}/graphql"


async def run(
    session: aiohttp.ClientSession, url: str, query: str, **variables: Any
) -> dict[str, Any]:
    async with session.post(url, json={"query": query, "variables": variables}) as resp:
        body: dict[str, Any] = await resp.json()
        return body


async def test_a_client_picks_the_fields_of_an_rpc_result() -> None:
    async with gateway() as (session, url):
        query = "query($sku: String!) { catalog_product(sku: $sku) { name price { amount_cents } tags } }"
        body = await run(session, url, query, sku="pear")
        assert body == {
            "data": {
                "catalog_product": {
                    "name": "Pear",
                    "price": {"amount_cents": 95},
                    "tags": ["fruit"],
                }
            }
        }
        body = await run(
            session, url, '{ catalog_product(sku: "pear") { attributes discontinued } }'
        )
        assert body["data"]["catalog_product"] == {
            "attributes": {"origin": "NL"},
            "discontinued": None,
        }


async def test_a_non_idempotent_rpc_is_a_mutation_and_optional_fields_may_be_left_out() -> None:
    async with gateway() as (session, url):
        body = await run(
            session, url, 'mutation { catalog_restock(sku: "kiwi", qty: 2) { sku stock note } }'
        )
        assert body == {"data": {"catalog_restock": {"sku": "kiwi", "stock": 2, "note": None}}}
        body = await run(session, url, '{ catalog_restock(sku: "kiwi", qty: 2) { stock } }')
        assert "catalog_restock" in body["errors"][0]["message"]  # not a query field
        assert STOCK["kiwi"] == 2


async def test_an_application_error_becomes_a_graphql_error_with_its_type() -> None:
    async with gateway() as (session, url):
        body = await run(session, url, '{ catalog_product(sku: "plum") { name } }')
        assert body["data"] == {"catalog_product": None}
        (error,) = body["errors"]
        assert error["message"] == "no product 'plum'"
        assert error["path"] == ["catalog_product"]
        assert error["extensions"]["type"] == "UnknownSku"
        assert error["extensions"]["exception"] == "RemoteError"
        assert error["extensions"]["status"] == 404


async def test_arguments_the_request_model_rejects_are_a_validation_error_before_any_call() -> None:
    async with gateway() as (session, url):
        body = await run(session, url, 'mutation { catalog_restock(sku: "fig", qty: 0) { stock } }')
        (error,) = body["errors"]
        assert error["extensions"]["type"] == "ValidationFailed"
        assert error["extensions"]["errors"][0]["loc"] == ["qty"]
        assert "fig" not in STOCK


async def test_an_open_breaker_shows_as_an_error_without_calling_the_service() -> None:
    async with gateway() as (session, url):
        query = '{ flaky_boom(sku: "pear") { name } }'
        for _ in range(2):
            (error,) = (await run(session, url, query))["errors"]
            assert error["extensions"]["exception"] == "RemoteError"
        assert hits["boom"] == 2
        (error,) = (await run(session, url, query))["errors"]
        assert error["extensions"]["type"] == "CallNotPermitted"
        assert error["extensions"]["not_processed"] is True
        assert error["extensions"]["retry_after"] > 0
        assert hits["boom"] == 2  # refused by the breaker, never sent
        # the other service's fields are unaffected, even in the same request
        body = await run(session, url, '{ catalog_product(sku: "pear") { name } services }')
        assert body["data"] == {
            "catalog_product": {"name": "Pear"},
            "services": ["catalog", "flaky"],
        }


async def test_queries_too_deep_are_refused_before_any_call() -> None:
    before = hits["product"]
    async with gateway(max_depth=1) as (session, url):
        body = await run(
            session, url, '{ catalog_product(sku: "pear") { price { amount_cents } } }'
        )
        assert "exceeds maximum operation depth" in body["errors"][0]["message"]
    assert hits["product"] == before


def test_the_schema_follows_the_models() -> None:
    sdl = str(graphql_schema(il.App([]), [catalog], queries=["catalog.restock"]))
    assert "catalog_product(sku: String!): Product\n" in sdl
    assert "catalog_restock(sku: String!, qty: Int!, note: String): Restocked\n" in sdl
    assert "type Mutation" not in sdl  # restock was named a query
    assert "amount_cents: Int!" in sdl
    assert "discontinued: Boolean" in sdl
    assert "attributes: JSON!" in sdl
    with pytest.raises(il.DefinitionError, match=r"catalog\.nope"):
        graphql_schema(il.App([]), [catalog], queries=["catalog.nope"])
