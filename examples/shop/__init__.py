"""The reference shop: gateway-less core of an e-commerce system.

``orders.place`` calls ``inventory.reserve`` and ``payment.charge`` synchronously (the critical
path), then publishes ``orders.placed``; ``notification`` and ``analytics`` consume it.

    interlink run examples.shop:app
    interlink call orders.place '{"customer": "ada", "sku": "apple", "qty": 2}'
    interlink call analytics.stats '{}'
"""

import interlink as il
from examples.shop.analytics import analytics
from examples.shop.inventory import inventory
from examples.shop.notification import notification
from examples.shop.orders import orders
from examples.shop.payment import payment

app = il.App([orders, inventory, payment, notification, analytics], name="shop", version="1.0.0")

__all__ = ["app"]
