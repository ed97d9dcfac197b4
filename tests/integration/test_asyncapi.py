"""The AsyncAPI 3.0 document: served at /asyncapi.json and printed by ``interlink asyncapi``,
checked against the official AsyncAPI 3.0.0 JSON schema.

The schema is the file ``schemas/3.0.0-without-$id.json`` of the npm package
``@asyncapi/specs`` 6.11.1, kept in tests/data/asyncapi/ with its license (Apache-2.0).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import jsonschema
import pytest
from pydantic import BaseModel
from typer.testing import CliRunner

import interlink as il
from interlink._asyncapi import asyncapi_document
from interlink.cli._main import cli

SCHEMA = json.loads((Path(__file__).parents[1] / "data/asyncapi/3.0.0.json").read_text())
VALIDATOR = jsonschema.Draft7Validator(SCHEMA)


def errors(document: dict[str, Any]) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in VALIDATOR.iter_errors(document)]


class OrderPlaced(BaseModel):
    order_id: str
    total_cents: int


class Quote(BaseModel):
    sku: str


orders = il.Service("orders", version="2.0.0", publishes={"orders.placed": OrderPlaced})
billing = il.Service("billing")


@billing.subscribe("orders.placed", group="invoicing")
async def invoice(evt: OrderPlaced) -> None: ...


@billing.subscribe("prices.quote")
async def quote(req: Quote) -> int:
    return 42


app = il.App([orders, billing], name="shop", version="1.2.3")


async def test_the_served_document_is_valid_asyncapi_3() -> None:
    running = il.App([orders, billing], name="shop", version="1.2.3", port=0)
    async with running, aiohttp.ClientSession() as session:
        response = await session.get(f"{running.url}/asyncapi.json")
        assert response.status == 200
        assert response.content_type == "application/json"
        document = await response.json()
    assert errors(document) == []
    assert document["asyncapi"] == "3.0.0"
    assert document["info"] == {"title": "shop", "version": "1.2.3"}


def test_every_published_and_subscribed_topic_is_a_channel_with_its_operations() -> None:
    document = asyncapi_document("shop", "1.2.3", [orders, billing])
    assert errors(document) == []
    assert document["channels"]["orders.placed"]["address"] == "orders.placed"
    operations = document["operations"]
    send = operations["orders.publish.orders.placed"]
    receive = operations["billing.invoice.orders.placed"]
    assert (send["action"], receive["action"]) == ("send", "receive")
    assert send["channel"] == receive["channel"] == {"$ref": "#/channels/orders.placed"}
    assert send["messages"] == [{"$ref": "#/channels/orders.placed/messages/OrderPlaced"}]
    assert "invoicing" in receive["summary"]


def test_the_payload_is_the_cloudevent_with_the_model_as_data() -> None:
    document = asyncapi_document("shop", "1.2.3", [orders, billing])
    message = document["components"]["messages"]["OrderPlaced"]
    assert message["contentType"] == "application/cloudevents+json"
    envelope, data = message["payload"]["allOf"]
    assert envelope == {"$ref": "#/components/schemas/CloudEvent"}
    assert data["properties"]["data"] == {"$ref": "#/components/schemas/OrderPlaced"}
    schemas = document["components"]["schemas"]
    assert schemas["OrderPlaced"]["required"] == ["order_id", "total_cents"]
    attributes = schemas["CloudEvent"]["properties"]
    for name in ("specversion", "id", "source", "type", "traceparent", "tracestate"):
        assert name in attributes
    for name in ("correlationid", "causationid", "partitionkey", "deadline"):
        assert name in attributes
    assert message["correlationId"] == {"location": "$message.payload#/correlationid"}


def test_a_subscriber_that_replies_has_a_reply() -> None:
    document = asyncapi_document("shop", "1.2.3", [billing])
    reply = document["operations"]["billing.quote.prices.quote"]["reply"]
    assert reply["address"] == {"location": "$message.header#/x-interlink-reply-to"}
    [ref] = reply["messages"]
    channel_id, name = ref["$ref"].split("/")[2], ref["$ref"].split("/")[-1]
    assert document["channels"][channel_id]["address"] is None
    assert document["components"]["messages"][name]["payload"] == {"type": "integer"}


def test_the_shop_example_declares_what_it_publishes() -> None:
    from examples.shop import app as shop

    document = asyncapi_document(shop.name, shop.version, shop.services.values())
    assert errors(document) == []
    actions = {op_id: op["action"] for op_id, op in document["operations"].items()}
    assert actions["orders.publish.orders.placed"] == "send"
    receivers = [k for k, v in actions.items() if v == "receive"]
    assert {k.split(".")[0] for k in receivers} == {"notification", "analytics"}


@pytest.mark.parametrize(
    "breakage",
    [
        lambda d: d["operations"]["orders.publish.orders.placed"].update(action="publish"),
        lambda d: d["channels"]["orders.placed"].update(address=5),
        lambda d: d["components"]["schemas"]["OrderPlaced"].update(type=5),
        lambda d: d.update(asyncapi="2.6.0"),
    ],
)
def test_the_schema_check_catches_a_broken_document(breakage: Any) -> None:
    document = asyncapi_document("shop", "1.2.3", [orders, billing])
    breakage(document)
    assert errors(document) != []


def test_the_cli_prints_the_document() -> None:
    result = CliRunner().invoke(cli, ["asyncapi", "tests.integration.test_asyncapi:app"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document == asyncapi_document("shop", "1.2.3", [orders, billing])
    only = CliRunner().invoke(
        cli, ["asyncapi", "tests.integration.test_asyncapi:app", "--only", "orders"]
    )
    assert list(json.loads(only.stdout)["operations"]) == ["orders.publish.orders.placed"]


def test_the_cli_refuses_an_unknown_service() -> None:
    result = CliRunner().invoke(
        cli, ["asyncapi", "tests.integration.test_asyncapi:app", "--only", "nope"]
    )
    assert result.exit_code == 2
    assert "no service nope" in result.output


def test_a_bad_publishes_declaration_fails_at_definition() -> None:
    with pytest.raises(il.DefinitionError, match="dot-separated words"):
        il.Service("x", publishes={"bad topic": OrderPlaced})
    with pytest.raises(il.DefinitionError, match="not a type interlink can encode"):
        il.Service("x", publishes={"ok": object()})
