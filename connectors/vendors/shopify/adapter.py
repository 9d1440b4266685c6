"""Shopify's source adapter: the one object the inbox and the sync know, made of this package's
client, webhooks, polling and (pure) normalise."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from commerce.models import InventoryLevel, Order
from connectors.http import VendorClient
from connectors.models import Connection
from connectors.vendors import adapter_register
from connectors.vendors.base import Adapter, DependencyMissing, Document, Page, WebhookIdentity
from connectors.vendors.shopify import client, normalise, polling, webhooks
from connectors.vendors.shopify.normalise import INVENTORY_TOPIC, ORDER_TOPICS


class ShopifyAdapter(Adapter):
    vendor = Connection.Vendor.SHOPIFY
    topics = (*ORDER_TOPICS, "refunds/create", "payouts", INVENTORY_TOPIC)
    poll_topics = ("orders", "payouts")
    inventory_topics = (INVENTORY_TOPIC,)
    topic_header = "X-Shopify-Topic"
    credential_fields = ("access_token",)
    config_fields = ("shop_domain", "api_version")

    def config_validate(self, config: Mapping[str, Any]) -> None:
        client.config_validate(config)

    def base_url(self, connection: Connection) -> str:
        return client.base_url(connection)

    def client(self, connection: Connection) -> VendorClient:
        return client.client(connection)

    def connection_test(self, *, connection: Connection) -> str:
        return client.connection_test(connection=connection)

    def webhook_verify(self, *, connection: Connection, body: bytes, headers: Mapping[str, str], url: str) -> None:
        webhooks.webhook_verify(connection=connection, body=body, headers=headers, url=url)

    def webhook_identify(self, *, body: bytes, payload: Any, headers: Mapping[str, str]) -> WebhookIdentity:
        return webhooks.webhook_identify(body=body, payload=payload, headers=headers)

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

    def normalise(
        self, *, topic: str, payload: Any, connection: Connection, fetched: Mapping[str, Any]
    ) -> list[Document]:
        return normalise.normalise(topic=topic, payload=payload, fetched=fetched)

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

    def fetch_page(
        self, *, connection: Connection, client: VendorClient, topic: str, cursor: dict, since: dt.datetime | None
    ) -> Page:
        return polling.fetch_page(connection=connection, client=client, topic=topic, cursor=cursor, since=since)


adapter_register(ShopifyAdapter())
