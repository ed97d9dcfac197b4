"""Declaring the errors a handler answers with: typed ApplicationError subclasses and
``errors=[...]`` on ``rpc`` and ``route``."""

from __future__ import annotations

import logging

import pytest
from pydantic import BaseModel

import interlink as il
from interlink.testing import TestApp


class Item(BaseModel):
    sku: str


class OutOfStock(il.ApplicationError):
    """Not enough stock for the reservation."""

    status = 409


class Busy(il.ApplicationError):
    status = 503
    type = "TryLater"
    retryable = True


def test_a_subclass_carries_its_status_type_and_default_message() -> None:
    error = OutOfStock()
    assert (error.status, error.type, str(error), error.retryable) == (
        409,
        "OutOfStock",
        "Not enough stock for the reservation.",
        False,
    )
    assert str(OutOfStock("only 2 left")) == "only 2 left"
    busy = Busy()
    assert (busy.status, busy.type, busy.retryable, str(busy)) == (
        503,
        "TryLater",
        True,
        "TryLater",
    )


def test_an_instance_can_override_what_its_class_declares() -> None:
    error = OutOfStock("gone", status=410, retryable=True)
    assert (error.status, error.type, error.retryable) == (410, "OutOfStock", True)
    assert OutOfStock.status == 409


def test_the_ad_hoc_form_still_works() -> None:
    error = il.ApplicationError("no order", status=404, type="OrderNotFound")
    assert (error.status, error.type, str(error)) == (404, "OrderNotFound", "no order")
    assert il.ApplicationError("bad").status == 400
    with pytest.raises(ValueError, match="400-599"):
        il.ApplicationError("fine", status=200)


def test_a_subclass_with_a_status_that_is_not_an_error_fails_at_definition() -> None:
    with pytest.raises(il.DefinitionError, match=r"Created.status must be an HTTP error"):

        class Created(il.ApplicationError):
            status = 201


def test_rpc_and_route_record_their_declared_errors() -> None:
    svc = il.Service("inventory")

    @svc.rpc(errors=[OutOfStock, Busy])
    async def reserve(req: Item) -> Item:
        return req

    @svc.route("GET", "/stock/{sku}", errors=[OutOfStock])
    async def stock(sku: str) -> Item:
        return Item(sku=sku)

    assert reserve.errors == (OutOfStock, Busy)
    assert stock.errors == (OutOfStock,)


def test_errors_must_be_application_error_subclasses() -> None:
    svc = il.Service("inventory")
    with pytest.raises(il.DefinitionError, match="errors= takes ApplicationError subclasses"):

        @svc.rpc(errors=[KeyError])  # type: ignore[list-item]
        async def reserve(req: Item) -> Item:
            return req

    with pytest.raises(il.DefinitionError, match="errors= takes ApplicationError subclasses"):

        @svc.route("GET", "/x", errors=[OutOfStock()])  # type: ignore[list-item]
        async def x() -> None:
            return None


declared = il.Service("declared")


@declared.rpc(errors=[OutOfStock])
async def take(req: Item) -> Item:
    if req.sku == "declared":
        raise OutOfStock("none left")
    raise il.ApplicationError("ad hoc", status=402, type="PaymentDeclined")


async def test_an_undeclared_answer_is_sent_and_warned_about_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="interlink")
    async with TestApp(il.App([declared])) as t:
        for _ in range(3):
            with pytest.raises(il.RemoteError) as info:
                await t.call(take, Item(sku="ad hoc"))
            assert (info.value.status, info.value.remote_type) == (402, "PaymentDeclined")
        with pytest.raises(il.RemoteError) as info:
            await t.call(take, Item(sku="declared"))
        assert (info.value.status, info.value.remote_type) == (409, "OutOfStock")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "declared.take answered 402 PaymentDeclined, which it does not declare" in warnings[0]
