"""The messages the shop's services exchange."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

Sku = Annotated[str, Field(examples=["apple", "plum"])]
"""A sku as a path parameter; the examples let a contract test reach stock that exists."""
OrderId = Annotated[str, Field(examples=["ord-1"])]


class PlaceOrder(BaseModel):
    customer: str = Field(min_length=1, examples=["ada"])
    sku: str = Field(min_length=1, examples=["apple"])
    qty: int = Field(gt=0, le=1000, examples=[2])


class OrderAccepted(BaseModel):
    order_id: str
    reservation_id: str
    payment_id: str
    total_cents: int


class Reserve(BaseModel):
    order_id: str = Field(examples=["ord-1"])
    sku: str = Field(examples=["pear"])
    qty: int = Field(gt=0, examples=[1])


class Reserved(BaseModel):
    reservation_id: str
    unit_price_cents: int


class Charge(BaseModel):
    order_id: str = Field(examples=["ord-1"])
    customer: str = Field(examples=["ada"])
    amount_cents: int = Field(gt=0, examples=[240])


class Charged(BaseModel):
    payment_id: str


class OrderPlaced(BaseModel):
    order_id: str
    customer: str
    sku: str
    qty: int
    total_cents: int


class StockLevel(BaseModel):
    sku: str
    available: int


class Notification(BaseModel):
    customer: str
    text: str


class Failing(BaseModel):
    """A demo fault switch's position (``payment.set_failing``, ``notification.set_failing``)."""

    failing: bool = Field(strict=True)


class Recent(BaseModel):
    limit: int = Field(default=10, gt=0, le=100)


class Stats(BaseModel):
    orders: int
    revenue_cents: int
    units_by_sku: dict[str, int]


class Release(BaseModel):
    order_id: str


class Ship(BaseModel):
    order_id: str = Field(examples=["ord-1"])
    customer: str = Field(min_length=1, examples=["ada"])
    sku: str = Field(min_length=1, examples=["pear"])
    qty: int = Field(gt=0, examples=[1])


class Shipment(BaseModel):
    shipment_id: str


class Checkout(BaseModel):
    """The checkout saga's data: what the order asks for, and what each step got back."""

    order_id: str
    customer: str
    sku: str
    qty: int
    reservation_id: str | None = None
    unit_price_cents: int = 0
    payment_id: str | None = None
    shipment_id: str | None = None
    failure: str | None = None
    """The declared error type of the step that failed (``OutOfStock``, ``PaymentDeclined``…)."""
    message: str | None = None
