"""WooCommerce's source adapter: the one object the inbox and the sync know, made of this
package's client, webhooks, polling and (pure) normalise."""

from __future__ import annotations

from typing import Any

from connectors.models import Connection
from connectors.vendors import adapter_register
from connectors.vendors.base import PackageAdapter
from connectors.vendors.common import require
from connectors.vendors.woocommerce import client, normalise
from connectors.vendors.woocommerce.normalise import TOPICS


class WooCommerceAdapter(PackageAdapter):
    vendor = Connection.Vendor.WOOCOMMERCE
    topics = TOPICS
    poll_topics = ("orders",)
    topic_header = "X-WC-Webhook-Topic"
    credential_fields = ("consumer_key", "consumer_secret")
    config_fields = ("store_url",)

    def prefetch(self, *, topic: str, payload: Any, connection: Connection) -> dict[str, Any]:
        if topic in TOPICS and normalise.needs_refunds(payload):
            return {"refunds": client.order_refunds(connection, str(require(payload, "id")))}
        return {}


adapter_register(WooCommerceAdapter())
