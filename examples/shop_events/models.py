"""The events of the choreographed order flow."""

from __future__ import annotations

from pydantic import BaseModel, Field


class PlaceOrder(BaseModel):
    customer: str = Field(min_length=1, examples=["ada"])
    sku: str = Field(min_length=1, examples=["apple"])
    qty: int = Field(gt=0, le=1000, examples=[2])


class OrderRef(BaseModel):
    order_id: str = Field(examples=["ord-1"])


class OrderStatus(BaseModel):
    order_id: str
    status: str
    """The tracked process: RUNNING, COMPLETED or COMPENSATED."""


class OrderPlaced(BaseModel):
    order_id: str
    customer: str
    sku: str
    qty: int


class StockReserved(BaseModel):
    order_id: str
    customer: str
    amount_cents: int


class StockRejected(BaseModel):
    order_id: str
    reason: str


class PaymentCharged(BaseModel):
    order_id: str
    payment_id: str


class PaymentDeclined(BaseModel):
    order_id: str
    reason: str


class ShipmentCreated(BaseModel):
    order_id: str
    shipment_id: str
