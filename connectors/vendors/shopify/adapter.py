"""Shopify's source adapter (client, webhooks, polling and normalise come from this package): what
an event needs read before it is normalised, and which topics the connection polls."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from commerce.models import InventoryLevel, Order
from connectors.models import Connection
from connectors.vendors import adapter_register
from connectors.vendors.base import DependencyMissing, PackageAdapter
from connectors.vendors.shopify import client, normalise
from connectors.vendors.shopify.normalise import INVENTORY_TOPIC, ORDER_TOPICS
from connectors.vendors.shopify.returns import RETURN_TOPICS


class ShopifyAdapter(PackageAdapter):
    vendor = Connection.Vendor.SHOPIFY
    topics = (*ORDER_TOPICS, "refunds/create", "payouts", INVENTORY_TOPIC, *RETURN_TOPICS)
    poll_topics = ("orders", "payouts")
    inventory_topics = (INVENTORY_TOPIC,)
    topic_header = "X-Shopify-Topic"
    credential_fields = ("access_token",)
    config_fields = ("shop_domain", "api_version")

    def prefetch(self, *, topic: str, payload: Any, connection: Connection) -> dict[str, Any]:
        payload = normalise.resource(topic, payload)
        if topic in ORDER_TOPICS and normalise.needs_transactions(payload):
            return {"transactions": client.order_transactions(connection, str(payload["id"]))}
        if topic == "refunds/create":
            order = (
                Order.objects.filter(
                    source=self.vendor, source_connection_id=connection.pk, external_id=str(payload.get("order_id"))
                )
                .values("currency", "taxes_included")
                .first()
            )
            if order is None:
                raise DependencyMissing(
                    f"Refund {payload.get('id')} is for order {payload.get('order_id')}, not stored yet."
                )
            return {"order": order}
        if topic == INVENTORY_TOPIC:
            return {"sku": self._sku(connection, payload)}
        return {}

    def poll_topics_for(self, connection: Connection) -> tuple[str, ...]:
        if connection.config.get("sync_inventory"):
            return (*self.poll_topics, "inventory_levels")
        return self.poll_topics

    def _sku(self, connection: Connection, level: Mapping[str, Any]) -> str:
        """The webhook names the inventory item, not the SKU: the poller embeds it, a stored level
        knows it, else the item is read (`GET inventory_items/{id}.json`)."""
        if level.get("sku"):
            return str(level["sku"])
        item_id = str(level.get("inventory_item_id") or "")
        known = (
            InventoryLevel.objects.filter(source=self.vendor, source_connection_id=connection.pk, external_id=item_id)
            .values_list("sku", flat=True)
            .first()
        )
        return known or client.inventory_item_sku(connection, item_id)


adapter_register(ShopifyAdapter())
