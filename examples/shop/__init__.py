"""The reference shop: gateway-less core of an e-commerce system.

``orders.place`` runs the checkout saga (``inventory.reserve`` → ``payment.charge``, the pivot →
``shipping.create_shipment``; a declined payment releases the stock), then publishes
``orders.placed``; ``notification`` and ``analytics`` consume it.

    interlink run examples.shop:app
    interlink call orders.place '{"customer": "ada", "sku": "apple", "qty": 2}'
    interlink call analytics.stats '{}'

Demo fault switches (for the dashboard, docs/dashboard.md): ``payment.set_failing`` makes every
charge fail with 503, ``notification.set_failing`` makes its ``orders.placed`` handler fail.
"""

import interlink as il
from examples.shop.analytics import analytics
from examples.shop.auth import auth
from examples.shop.checkout import checkout
from examples.shop.gateway import gateway
from examples.shop.inventory import inventory
from examples.shop.notification import notification
from examples.shop.orders import orders
from examples.shop.payment import payment
from examples.shop.shipping import shipping

app = il.App(
    [orders, inventory, payment, shipping, notification, analytics, auth],
    name="shop",
    version="1.0.0",
    sagas=[checkout],
)

__all__ = ["app", "gateway"]
