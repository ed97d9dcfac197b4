"""The shop's order flow, choreographed: no orchestrator, each service reacts to the last event.

    orders.place ─▶ orders.placed ─▶ inventory ─▶ stock.reserved ─▶ payment ─▶ payment.charged
                                          │                            │            │
                                          ▼                            ▼            ▼
                                    stock.rejected             payment.declined  shipping
                                                                                    │
                                                                                    ▼
                                                                           shipment.created

A ``Choreography`` tracker (``flow.py``) follows each order by its correlation id: the three
expected events complete it; ``stock.rejected`` or ``payment.declined`` (or 30 s without the
next event) ends it COMPENSATED and sends ``stock.release`` for stock that was reserved, which
inventory handles. Compare with ``examples.shop``, where the checkout is an orchestrated saga.

    interlink up examples.shop_events:app
    interlink call orders.place '{"customer": "ada", "sku": "apple", "qty": 2}'
    interlink call orders.status '{"order_id": "ord-…"}'
"""

import interlink as il
from examples.shop_events.flow import order_flow
from examples.shop_events.inventory import inventory
from examples.shop_events.orders import orders
from examples.shop_events.payment import payment
from examples.shop_events.shipping import shipping

app = il.App(
    [orders, inventory, payment, shipping],
    name="shop-events",
    version="1.0.0",
    choreographies=[order_flow],
)

__all__ = ["app"]
