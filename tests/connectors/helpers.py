"""Fixture loading and vendor signing helpers shared by the connectors tests."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def fixture_bytes(vendor: str, name: str) -> bytes:
    return (FIXTURES / vendor / name).read_bytes()


def fixture(vendor: str, name: str):
    return json.loads(fixture_bytes(vendor, name))


def shopify_headers(body: bytes, secret: str, topic: str) -> dict[str, str]:
    digest = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    return {
        "HTTP_X_SHOPIFY_HMAC_SHA256": digest,
        "HTTP_X_SHOPIFY_TOPIC": topic,
        "HTTP_X_SHOPIFY_SHOP_DOMAIN": "acme-outfitters.myshopify.com",
        "HTTP_X_SHOPIFY_WEBHOOK_ID": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
        "HTTP_X_SHOPIFY_API_VERSION": "2025-07",
    }


def stripe_headers(body: bytes, secret: str, timestamp: int | None = None) -> dict[str, str]:
    import time

    from connectors.vendors.stripe.webhooks import signature_header

    return {
        "HTTP_STRIPE_SIGNATURE": signature_header(secret=secret, body=body, timestamp=timestamp or int(time.time()))
    }


def square_headers(body: bytes, secret: str, url: str) -> dict[str, str]:
    digest = base64.b64encode(hmac.new(secret.encode(), url.encode() + body, hashlib.sha256).digest()).decode()
    return {"HTTP_X_SQUARE_HMACSHA256_SIGNATURE": digest}


def woocommerce_headers(body: bytes, secret: str, topic: str) -> dict[str, str]:
    digest = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    resource, _, event = topic.partition(".")
    return {
        "HTTP_X_WC_WEBHOOK_SIGNATURE": digest,
        "HTTP_X_WC_WEBHOOK_TOPIC": topic,
        "HTTP_X_WC_WEBHOOK_RESOURCE": resource,
        "HTTP_X_WC_WEBHOOK_EVENT": event,
        "HTTP_X_WC_WEBHOOK_ID": "14",
        "HTTP_X_WC_WEBHOOK_DELIVERY_ID": "f1b2c3d4e5",
    }


def journal_lines(entry) -> list[tuple[str, str, str, str]]:
    """(role, account code, debit, credit) of a posted entry, in posting order; amounts as strings
    normalised to two decimals (the column stores four)."""
    return [
        (line.role, line.account.code, f"{line.debit:.2f}", f"{line.credit:.2f}")
        for line in entry.lines.select_related("account").order_by("position")
    ]
