"""Declaring services: what works, and the clear errors for what cannot."""

from __future__ import annotations

import dataclasses
from typing import Any

import msgspec
import pytest
from pydantic import BaseModel

import interlink as il


class Item(BaseModel):
    sku: str


class Done(BaseModel):
    ok: bool


class Plain:
    """Not a model: no fields interlink could validate."""


def test_rpc_records_name_flags_and_codecs() -> None:
    svc = il.Service("inventory", version="2.1.0")

    @svc.rpc(name="hold", idempotent=True, timeout=1.5)
    async def reserve(req: Item, ctx: il.Context) -> Done:
        return Done(ok=True)

    assert reserve.target == "inventory.hold"
    assert reserve.idempotent is True
    assert reserve.timeout == 1.5
    assert reserve.context_param == "ctx"
    assert svc.rpcs == {"hold": reserve}


async def test_rpc_object_stays_callable_for_unit_tests() -> None:
    svc = il.Service("s")

    @svc.rpc
    async def echo(req: Item) -> Item:
        return req

    assert await echo(Item(sku="a")) == Item(sku="a")


@pytest.mark.parametrize(
    "model",
    [
        Item,
        msgspec.defstruct("S", [("sku", str)]),
        dataclasses.make_dataclass("D", [("sku", str)]),
        dict[str, Any],
        list[int],
        int,
    ],
)
def test_all_supported_model_kinds_are_accepted(model: Any) -> None:
    svc = il.Service("s")

    async def handler(req: Any) -> Any:
        return req

    handler.__annotations__ = {"req": model, "return": model}
    rpc = svc.rpc(handler)
    assert rpc.request.type == model


def test_duplicate_rpc_name_fails_at_definition() -> None:
    svc = il.Service("s")

    @svc.rpc
    async def a(req: Item) -> Done: ...

    with pytest.raises(il.DefinitionError, match="declared twice"):

        @svc.rpc(name="a")
        async def b(req: Item) -> Done: ...


def test_missing_annotations_fail_with_the_parameter_name() -> None:
    svc = il.Service("s")
    with pytest.raises(il.DefinitionError, match=r"parameter 'req'.*needs an annotation"):

        @svc.rpc
        async def a(req) -> Done: ...  # type: ignore[no-untyped-def]

    with pytest.raises(il.DefinitionError, match="return annotation"):

        @svc.rpc
        async def b(req: Item): ...  # type: ignore[no-untyped-def]


def test_unsupported_signatures_fail() -> None:
    svc = il.Service("s")
    with pytest.raises(il.DefinitionError, match="async def"):

        @svc.rpc
        def sync(req: Item) -> Done: ...  # type: ignore[arg-type]

    with pytest.raises(il.DefinitionError, match="exactly one message parameter"):

        @svc.rpc
        async def two(a: Item, b: Item) -> Done: ...  # type: ignore[arg-type]

    with pytest.raises(il.DefinitionError, match="exactly one message parameter"):

        @svc.rpc
        async def none(ctx: il.Context) -> Done: ...  # type: ignore[arg-type]

    with pytest.raises(il.DefinitionError, match=r"\*args"):

        @svc.rpc
        async def star(*items: Item) -> Done: ...  # type: ignore[arg-type]

    with pytest.raises(il.DefinitionError, match="not a type interlink can encode"):

        @svc.rpc
        async def odd(req: Plain) -> Done: ...


def test_bad_service_and_topic_names_fail() -> None:
    with pytest.raises(il.DefinitionError, match="no dots"):
        il.Service("orders.v2")
    svc = il.Service("s")
    with pytest.raises(il.DefinitionError, match="dot-separated"):
        svc.subscribe("orders placed")
    with pytest.raises(il.DefinitionError, match="at least 1"):
        svc.subscribe("t", max_in_flight=0)


def test_subscriber_defaults_group_to_service_and_dead_letter_topic() -> None:
    svc = il.Service("billing")

    @svc.subscribe("orders.placed")
    async def on_placed(evt: Item) -> None: ...

    assert on_placed.group == "billing"
    assert on_placed.dead_letter_topic == "orders.placed.dlq"
    assert on_placed.retry.attempts == 5
    assert on_placed.response is None

    @svc.subscribe("quotes")
    async def quote(evt: Item) -> Done: ...

    assert quote.response is not None  # it answers ctx.request

    with pytest.raises(il.DefinitionError, match="already subscribes"):

        @svc.subscribe("orders.placed")
        async def again(evt: Item) -> None: ...


def test_routes_split_path_query_and_body() -> None:
    svc = il.Service("s")

    @svc.route("POST", "/orders/{order_id}", status=201)
    async def update(order_id: int, item: Item, ctx: il.Context, dry_run: bool = False) -> Done: ...

    params = update.params
    assert params.path == ("order_id",)
    assert params.query == ("dry_run",)
    assert params.body == "item"
    assert params.context == "ctx"
    assert update.status == 201


def test_route_errors() -> None:
    svc = il.Service("s")
    with pytest.raises(il.DefinitionError, match="cannot take a body"):

        @svc.route("GET", "/x")
        async def get_with_body(item: Item) -> Done: ...

    with pytest.raises(il.DefinitionError, match="no matching argument"):

        @svc.route("GET", "/x/{missing}")
        async def no_arg() -> Done: ...

    with pytest.raises(il.DefinitionError, match="avoid /rpc"):
        svc.route("GET", "/rpc/x")
    with pytest.raises(il.DefinitionError, match="method must be"):
        svc.route("FETCH", "/x")


def test_app_rejects_duplicate_services_unknown_only_and_route_clashes() -> None:
    a, b = il.Service("a"), il.Service("a")
    with pytest.raises(il.DefinitionError, match="two services are named 'a'"):
        il.App([a, b])
    with pytest.raises(il.DefinitionError, match=r"unknown service\(s\) \['zzz'\]"):
        il.App([a], only=["zzz"])
    c = il.Service("c")

    @a.route("GET", "/same")
    async def one() -> Done: ...

    @c.route("GET", "/same")
    async def two() -> Done: ...

    with pytest.raises(il.DefinitionError, match="declared by both a and c"):
        il.App([a, c])
    assert il.App([a, c], only=["c"]).running_services == ["c"]


def test_app_replace_keeps_settings_and_changes_some() -> None:
    app = il.App([il.Service("a")], port=9001, name="shop")
    other = app.replace(port=0)
    assert (other.port, other.name, app.port) == (0, "shop", 9001)
