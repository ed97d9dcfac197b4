"""GraphQL arguments from request models: nested input objects and lists, a request that is
not a model (one `input` argument), and an RPC that takes nothing."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from pydantic import BaseModel

import interlink as il
from interlink.gateway import graphql_app, graphql_schema
from tests.integration.gateway._serve import serving

carts = il.Service("carts")


class Line(BaseModel):
    sku: str
    qty: int = 1


class Cart(BaseModel):
    owner: str
    lines: list[Line]
    coupon: str | None = None


class Total(BaseModel):
    items: int
    skus: list[str]
    coupon: str | None


@carts.rpc
async def price(req: Cart) -> Total:
    return Total(
        items=sum(line.qty for line in req.lines),
        skus=[x.sku for x in req.lines],
        coupon=req.coupon,
    )


@carts.rpc(idempotent=True)
async def echo_words(req: list[str]) -> list[str]:
    return [word.upper() for word in req]


@carts.rpc(idempotent=True)
async def count(req: None) -> int:
    return 7


@contextlib.asynccontextmanager
async def endpoint() -> AsyncIterator[tuple[aiohttp.ClientSession, str]]:
    async with (
        il.App([carts], serve_http=False) as app,
        serving(graphql_app(app, [carts])) as port,
        aiohttp.ClientSession() as session,
    ):
        yield session, f"http://127.0.0.1:{port}/"


async def run(session: aiohttp.ClientSession, url: str, query: str, **variables: Any) -> Any:
    async with session.post(url, json={"query": query, "variables": variables}) as resp:
        return await resp.json()


async def test_nested_input_objects_lists_and_defaults_reach_the_rpc() -> None:
    async with endpoint() as (session, url):
        query = 'mutation { carts_price(owner: "ada", lines: [{sku: "a", qty: 2}, {sku: "b"}]) { items skus coupon } }'
        body = await run(session, url, query)
        assert body == {"data": {"carts_price": {"items": 3, "skus": ["a", "b"], "coupon": None}}}
        with_vars = 'mutation($lines: [LineInput!]!) { carts_price(owner: "ada", lines: $lines, coupon: "X") { items coupon } }'
        body = await run(session, url, with_vars, lines=[{"sku": "c", "qty": 5}])
        assert body == {"data": {"carts_price": {"items": 5, "coupon": "X"}}}


async def test_a_request_that_is_not_a_model_is_one_input_argument_and_none_is_no_argument() -> (
    None
):
    async with endpoint() as (session, url):
        body = await run(session, url, '{ carts_echo_words(input: ["a", "b"]) carts_count }')
        assert body == {"data": {"carts_echo_words": ["A", "B"], "carts_count": 7}}


def test_the_argument_types() -> None:
    sdl = str(graphql_schema(il.App([]), [carts]))
    assert "carts_price(owner: String!, lines: [LineInput!]!, coupon: String): Total" in sdl
    assert "input LineInput {\n  sku: String!\n  qty: Int\n}" in sdl
    assert "carts_echo_words(input: [String!]!): [String!]" in sdl
    assert "carts_count: Int\n" in sdl
