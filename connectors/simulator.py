"""A local vendor simulator for the demo: realistic Shopify order webhooks and Stripe charge events
(shaped like tests/fixtures, with consistent totals), signed with the connection's own secret
and sent through exactly the webhook path — in process for `seed_demo`, over HTTP to a running
portal for `manage.py simulate_traffic`."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import random
import time
from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction

from connectors.inbox import event_process, event_store
from connectors.models import Connection
from connectors.services import connection_create
from connectors.vendors.stripe.webhooks import signature_header

CATALOG = [
    ("SOCK-MER-M", "Merino Crew Sock", "Socks", Decimal("18.00")),
    ("SHOE-TR-42", "Trail Runner Shoe", "Footwear", Decimal("129.00")),
    ("TEE-ORG-L", "Organic Tee", "Apparel", Decimal("32.00")),
    ("CAP-WOOL", "Wool Cap", "Accessories", Decimal("24.50")),
    ("BAG-CANV", "Canvas Tote", "Accessories", Decimal("45.00")),
]
TAXES = (("NY State Tax", Decimal("0.04")), ("New York City Tax", Decimal("0.045")))
SHOP_DOMAIN = "acme-outfitters.myshopify.com"
DEMO_SHOPIFY = "Web shop (simulated Shopify)"
DEMO_STRIPE = "Payments (simulated Stripe)"


def _cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _money_set(amount: Decimal) -> dict:
    text = f"{amount:.2f}"
    return {
        "shop_money": {"amount": text, "currency_code": "USD"},
        "presentment_money": {"amount": text, "currency_code": "USD"},
    }


def _taxes(base: Decimal) -> list[dict]:
    return [
        {
            "title": title,
            "rate": float(rate),
            "price": f"{_cents(base * rate):.2f}",
            "price_set": _money_set(_cents(base * rate)),
            "channel_liable": False,
        }
        for title, rate in TAXES
    ]


def shopify_order(number: int, *, rng: random.Random, at: dt.datetime) -> dict:
    """A paid USD Shopify order (REST 2025-07 shape) whose totals add up exactly."""
    order_id = 7_100_000_000_000 + number
    items, total, tax_total = [], Decimal(0), Decimal(0)
    for index, (sku, title, category, price) in enumerate(rng.sample(CATALOG, rng.randint(1, 3))):
        quantity = rng.randint(1, 3)
        base = price * quantity
        taxes = _taxes(base)
        tax = sum((Decimal(t["price"]) for t in taxes), Decimal(0))
        total += base + tax
        tax_total += tax
        items.append(
            {
                "id": order_id * 10 + index,
                "sku": sku,
                "title": title,
                "name": title,
                "product_type": category,
                "quantity": quantity,
                "price": f"{price:.2f}",
                "price_set": _money_set(price),
                "tax_lines": taxes,
                "discount_allocations": [],
            }
        )
    shipping = Decimal("8.00")
    shipping_taxes = _taxes(shipping)
    shipping_tax = sum((Decimal(t["price"]) for t in shipping_taxes), Decimal(0))
    total += shipping + shipping_tax
    stamp = at.isoformat()
    return {
        "id": order_id,
        "name": f"#{9000 + number}",
        "created_at": stamp,
        "updated_at": stamp,
        "processed_at": stamp,
        "currency": "USD",
        "presentment_currency": "USD",
        "financial_status": "paid",
        "fulfillment_status": None,
        "source_name": "web",
        "taxes_included": False,
        "payment_gateway_names": ["shopify_payments"],
        "customer": {"id": 7_300_000_000 + rng.randint(1, 400)},
        "total_price": f"{total:.2f}",
        "total_price_set": _money_set(total),
        "total_tax": f"{tax_total + shipping_tax:.2f}",
        "discount_applications": [],
        "fulfillments": [],
        "refunds": [],
        "line_items": items,
        "shipping_lines": [
            {
                "id": order_id * 10 + 9,
                "code": "Standard",
                "title": "Standard",
                "price": f"{shipping:.2f}",
                "price_set": _money_set(shipping),
                "discount_allocations": [],
                "tax_lines": shipping_taxes,
            }
        ],
    }


def stripe_charge_event(number: int, *, rng: random.Random, at: dt.datetime) -> dict:
    amount = rng.choice([1999, 2500, 4999, 7250, 12900])
    created = int(at.timestamp())
    charge_id = f"ch_sim{number:08d}"
    return {
        "id": f"evt_sim{number:08d}",
        "object": "event",
        "api_version": "2024-06-20",
        "created": created,
        "type": "charge.succeeded",
        "data": {
            "object": {
                "id": charge_id,
                "object": "charge",
                "amount": amount,
                "amount_captured": amount,
                "captured": True,
                "status": "succeeded",
                "paid": True,
                "currency": "usd",
                "created": created,
                "description": f"Invoice INV-{5000 + number}",
                "customer": f"cus_sim{rng.randint(1, 300):05d}",
                "payment_method_details": {"type": "card"},
                "balance_transaction": {
                    "id": f"txn_sim{number:08d}",
                    "fee": int(amount * 29 / 1000) + 30,
                    "amount": amount,
                    "currency": "usd",
                },
            }
        },
    }


def shopify_signature(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def demo_connections_ensure() -> tuple[Connection, Connection]:
    """The demo tenant's simulated Shopify and Stripe connections (idempotent)."""
    shop = Connection.objects.filter(name=DEMO_SHOPIFY).first() or connection_create(
        vendor=Connection.Vendor.SHOPIFY,
        name=DEMO_SHOPIFY,
        config={"shop_domain": SHOP_DOMAIN, "api_version": "2025-07", "simulated": True},
        credentials={"access_token": "shpat_simulated_demo_token"},
    )
    stripe = Connection.objects.filter(name=DEMO_STRIPE).first() or connection_create(
        vendor=Connection.Vendor.STRIPE,
        name=DEMO_STRIPE,
        # The demo's Stripe sells invoices of its own, next to the Shopify shop: a sales channel
        # (a tenant with a storefront would otherwise derive the processor role).
        config={"api_version": "2024-06-20", "simulated": True, "role": "sales_channel"},
        credentials={"secret_key": "sk_test_simulated_demo"},
    )
    return shop, stripe


def _event_store_new(*, connection: Connection, topic: str, external_id: str, payload: dict) -> int | None:
    """Store one simulated event without dispatching it; its id when it is new, else None."""
    event, created = event_store(
        connection=connection, topic=topic, external_id=external_id, body=json.dumps(payload).encode(), dispatch=False
    )
    return event.pk if created else None


def demo_traffic_ingest(*, orders: int = 12, charges: int = 6, seed: int = 2026) -> int:
    """Replay simulated webhooks in process (store → process), as seed_demo does. Returns how many
    events were new (a second run with the same seed is a no-op)."""
    shop, stripe = demo_connections_ensure()
    rng = random.Random(seed)  # noqa: S311 - reproducible demo data, not security
    start = dt.datetime(2026, 3, 2, 14, 0, tzinfo=dt.UTC)
    stored = []
    with transaction.atomic():
        for number in range(orders):
            payload = shopify_order(number, rng=rng, at=start + dt.timedelta(hours=3 * number))
            stored.append(
                _event_store_new(
                    connection=shop, topic="orders/create", external_id=str(payload["id"]), payload=payload
                )
            )
        for number in range(charges):
            payload = stripe_charge_event(number, rng=rng, at=start + dt.timedelta(hours=5 * number))
            external_id = payload["data"]["object"]["id"]
            stored.append(
                _event_store_new(connection=stripe, topic="charge.succeeded", external_id=external_id, payload=payload)
            )
    stored = [event_id for event_id in stored if event_id is not None]
    for event_id in stored:
        event_process(event_id=event_id)
    return len(stored)


def _post_json(client, url: str, body: bytes, headers: dict[str, str]) -> int:
    return client.post(url, content=body, headers={"Content-Type": "application/json", **headers}).status_code


def http_traffic_send(
    *, base_url: str, shop: Connection, stripe: Connection, orders: int, seed: int, client
) -> list[int]:
    """POST signed simulated webhooks to a running portal; returns the HTTP statuses."""
    rng = random.Random(seed)  # noqa: S311 - reproducible demo data, not security
    now = dt.datetime.now(dt.UTC)
    statuses = []
    for number in range(orders):
        body = json.dumps(shopify_order(10_000 + seed * 1000 + number, rng=rng, at=now)).encode()
        headers = {
            "X-Shopify-Topic": "orders/create",
            "X-Shopify-Hmac-Sha256": shopify_signature(body, shop.webhook_secret),
        }
        statuses.append(_post_json(client, f"{base_url}/hooks/shopify/{shop.pk}/", body, headers))
        if number % 3 == 0:
            body = json.dumps(stripe_charge_event(10_000 + seed * 1000 + number, rng=rng, at=now)).encode()
            header = signature_header(secret=stripe.webhook_secret, body=body, timestamp=int(time.time()))
            statuses.append(
                _post_json(client, f"{base_url}/hooks/stripe/{stripe.pk}/", body, {"Stripe-Signature": header})
            )
    return statuses
