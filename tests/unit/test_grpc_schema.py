"""The .proto generated from models: type mapping, numbering, wrappers, and clear refusals."""

from __future__ import annotations

import dataclasses
import datetime
import enum
from typing import Any

import msgspec
import pytest
from pydantic import BaseModel

import interlink as il
from interlink.transport.grpc import package_name, schema_of
from interlink.transport.grpc._messages import compile_schema


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Size(enum.IntEnum):
    S = 1
    L = 3


@dataclasses.dataclass
class Line:
    sku: str
    qty: int


class Point(msgspec.Struct):
    x: int
    label: str = ""


@dataclasses.dataclass
class Note:
    text: str
    pinned: bool = False


class Order(BaseModel):
    id: str
    total: float
    paid: bool
    raw: bytes
    at: datetime.datetime
    colour: Colour
    size: Size
    coupon: str | None = None
    lines: list[Line]
    notes: dict[str, Note]
    first: Line | None = None
    tags: list[str] = []


def service_of(request: Any, response: Any, name: str = "shop") -> il.Service:
    svc = il.Service(name)

    async def handle(req: Any) -> Any:
        return req

    handle.__annotations__ = {"req": request, "return": response}
    svc.rpc(name="handle")(handle)
    return svc


def test_every_mappable_type_becomes_its_proto_field() -> None:
    proto = schema_of("t", [service_of(Order, Order)]).proto()
    for line in [
        "string id = 1;",
        "double total = 2;",
        "bool paid = 3;",
        "bytes raw = 4;",
        "string at = 5;",
        "string colour = 6;",
        "int64 size = 7;",
        "optional string coupon = 8;",
        "repeated Line lines = 9;",
        "map<string, Note> notes = 10;",
        "Line first = 11;",
        "repeated string tags = 12;",
        "message Line {\n  string sku = 1;\n  int64 qty = 2;\n}",
        "message Note {\n  string text = 1;\n  optional bool pinned = 2;\n}",
        "service shop {\n  rpc handle (Order) returns (Order);\n}",
    ]:
        assert line in proto, line


def test_a_msgspec_struct_maps_like_a_model() -> None:
    proto = schema_of("t", [service_of(Point, Point)]).proto()
    assert "message Point {\n  int64 x = 1;\n  optional string label = 2;\n}" in proto


def test_types_that_are_not_models_are_wrapped_in_a_value_field() -> None:
    proto = schema_of("t", [service_of(dict[str, int], list[Line])]).proto()
    assert "message ShopHandleRequest {\n  map<string, int64> value = 1;\n}" in proto
    assert "message ShopHandleResponse {\n  repeated Line value = 1;\n}" in proto
    proto = schema_of("t", [service_of(int, None)]).proto()
    assert "message ShopHandleResponse {\n}" in proto


@pytest.mark.parametrize(
    ("annotation", "complaint"),
    [
        (list[list[int]], "cannot be mapped"),
        (dict[int, str], r"only dict\[str, V\]"),
        (int | str, "cannot be mapped"),
        (Any, "cannot be mapped"),
        (list[int] | None, "cannot be None"),
    ],
)
def test_what_proto3_cannot_hold_is_refused_naming_the_field(
    annotation: Any, complaint: str
) -> None:
    model = type("Bad", (BaseModel,), {"__annotations__": {"field": annotation}})
    with pytest.raises(il.DefinitionError, match=complaint) as info:
        schema_of("t", [service_of(model, None)])
    assert "Bad.field" in str(info.value)


def test_two_types_of_one_name_are_refused() -> None:
    other = type("Line", (BaseModel,), {"__annotations__": {"x": int}})
    with pytest.raises(il.DefinitionError, match="two different types are named Line"):
        schema_of("t", [service_of(Line, other)])


def test_names_that_are_no_proto_identifier_are_refused() -> None:
    svc = il.Service("shop")

    @svc.rpc(name="get-one")
    async def get(req: Line) -> Line:
        return req

    with pytest.raises(il.DefinitionError, match="not a proto identifier"):
        schema_of("t", [svc])


def test_the_package_is_the_apps_name_made_an_identifier() -> None:
    assert package_name("Shop-API v2") == "shop_api_v2"
    assert package_name("9lives") == "_9lives"


def test_a_message_and_back_keeps_every_value() -> None:
    schema = schema_of("t", [service_of(Order, Order)])
    messages = compile_schema(schema)
    data = {
        "id": "o-1",
        "total": 2.5,
        "paid": True,
        "raw": "AAE=",
        "at": "2026-12-02T01:00:00Z",
        "colour": "red",
        "size": 3,
        "lines": [{"sku": "a", "qty": 2**40}],
        "notes": {"n": {"text": "hi", "pinned": True}},
        "first": {"sku": "b", "qty": 0},
        "tags": ["x"],
    }
    message = messages.fill(messages.classes["Order"](), "Order", data)
    wire = message.SerializeToString()
    back = messages.to_dict(messages.classes["Order"].FromString(wire), "Order")
    assert back == data  # coupon unset stays absent; int64 stays an int
    assert Order.model_validate_json(msgspec.json.encode(back)).lines[0].qty == 2**40
