from __future__ import annotations

import dataclasses

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from interlink._codec import codec_for, encode_any
from interlink._errors import ValidationFailed


class Order(BaseModel):
    sku: str
    qty: int


class OrderStruct(msgspec.Struct):
    sku: str
    qty: int


@dataclasses.dataclass
class OrderData:
    sku: str
    qty: int


@pytest.mark.parametrize("tp", [Order, OrderStruct, OrderData])
def test_round_trip_for_every_model_kind(tp: type) -> None:
    codec = codec_for(tp)
    value = codec.decode(b'{"sku": "apple", "qty": 2}')
    assert isinstance(value, tp)
    assert codec.decode(codec.encode(value)) == value


@pytest.mark.parametrize("tp", [Order, OrderStruct, OrderData])
def test_field_errors_name_the_field(tp: type) -> None:
    codec = codec_for(tp)
    with pytest.raises(ValidationFailed) as info:
        codec.decode(b'{"sku": "apple", "qty": "lots"}')
    assert info.value.errors[0]["loc"] == ["qty"]
    assert "qty" in str(info.value)


def test_malformed_json_is_a_validation_failure_not_a_crash() -> None:
    with pytest.raises(ValidationFailed, match=r"(?i)invalid JSON"):
        codec_for(Order).decode(b"{nope")
    with pytest.raises(ValidationFailed, match="invalid JSON"):
        codec_for(OrderStruct).decode(b"{nope")


def test_none_codec_accepts_only_null() -> None:
    codec = codec_for(None)
    assert codec.encode(None) == b"null"
    assert codec.decode(b"null") is None
    with pytest.raises(ValidationFailed):
        codec.decode(b"{}")


def test_schemas_use_component_refs() -> None:
    ref = "#/components/schemas/{model}"
    root, defs = codec_for(Order).schema(ref)
    assert root == {"$ref": "#/components/schemas/Order"}
    assert defs["Order"]["required"] == ["sku", "qty"]
    root, defs = codec_for(OrderStruct).schema(ref)
    assert root == {"$ref": "#/components/schemas/OrderStruct"}
    assert "OrderStruct" in defs


def test_encode_any_handles_every_kind() -> None:
    assert encode_any(Order(sku="a", qty=1)) == b'{"sku":"a","qty":1}'
    assert encode_any(OrderStruct("a", 1)) == b'{"sku":"a","qty":1}'
    assert encode_any(OrderData("a", 1)) == b'{"sku":"a","qty":1}'
    assert encode_any({"nested": [Order(sku="a", qty=1)]}) == b'{"nested":[{"sku":"a","qty":1}]}'


@given(st.text(), st.integers(min_value=-(2**53), max_value=2**53))
def test_pydantic_round_trip_property(sku: str, qty: int) -> None:
    codec = codec_for(Order)
    assert codec.decode(codec.encode(Order(sku=sku, qty=qty))) == Order(sku=sku, qty=qty)
