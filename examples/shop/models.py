"""The messages the shop's services exchange."""

from __future__ import annotations

from pydantic import BaseModel, Field


class PlaceOrder(BaseModel):
    customer: str = Field(min_length=1)
    sku: str = Field(min_length=1)
    qty: int = Field(gt=0, le=1000)


class OrderAccepted(BaseModel):
    order_id: str
    reservation_id: str
    payment_id: str
    total_cents: int


class Reserve(BaseModel):
    order_id: str
    sku: str
    qty: int = Field(gt=0)


class Reserved(BaseModel):
    reservation_id: str
    unit_price_cents: int


class Charge(BaseModel):
    order_id: str
    customer: str
    amount_cents: int = Field(gt=0)


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


class Recent(BaseModel):
    limit: int = Field(default=10, gt=0, le=100)


class Stats(BaseModel):
    orders: int
    revenue_cents: int
    units_by_sku: dict[str, int]
