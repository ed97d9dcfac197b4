"""The errors the shop's services answer with: each a status and a stable type callers see."""

from __future__ import annotations

import interlink as il


class UnknownSku(il.ApplicationError):
    """No such sku in the catalogue."""

    status = 404


class OutOfStock(il.ApplicationError):
    """Not enough stock left for the order."""

    status = 409


class PaymentDeclined(il.ApplicationError):
    """The card was declined: the amount is over its limit."""

    status = 402


class OrderNotFound(il.ApplicationError):
    """No recent order with that id."""

    status = 404


class Unavailable(il.ApplicationError):
    """The service's demo fault switch is on (``set_failing``): it fails every request."""

    status = 503
