"""WooCommerce's source adapter: the one object the inbox and the sync know, made of this
package's client, webhooks, polling and (pure) normalise."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from connectors.http import VendorClient
from connectors.models import Connection
from connectors.vendors import adapter_register
from connectors.vendors.base import Adapter, Document, Page, WebhookIdentity
from connectors.vendors.common import require
from connectors.vendors.woocommerce import client, normalise, polling, webhooks
from connectors.vendors.woocommerce.normalise import TOPICS


class WooCommerceAdapter(Adapter):
    vendor = Connection.Vendor.WOOCOMMERCE
    topics = TOPICS
    poll_topics = ("orders",)
    topic_header = "X-WC-Webhook-Topic"
    credential_fields = ("consumer_key", "consumer_secret")
    config_fields = ("store_url",)

    def config_validate(self, config: Mapping[str, Any]) -> None:
        client.config_validate(config)

    def base_url(self, connection: Connection) -> str:
        return client.base_url(connection)

    def client(self, connection: Connection) -> VendorClient:
        return client.client(connection)

    def connection_test(self, *, connection: Connection) -> str:
        return client.connection_test(connection=connection)

    def webhook_ping(self, *, body: bytes, headers: Mapping[str, str]) -> bool:
        return webhooks.webhook_ping(body=body, headers=headers)

    def webhook_verify(self, *, connection: Connection, body: bytes, headers: Mapping[str, str], url: str) -> None:
        webhooks.webhook_verify(connection=connection, body=body, headers=headers, url=url)

    def webhook_identify(self, *, body: bytes, payload: Any, headers: Mapping[str, str]) -> WebhookIdentity:
        return webhooks.webhook_identify(body=body, payload=payload, headers=headers)

    def prefetch(self, *, topic: str, payload: Any, connection: Connection) -> dict[str, Any]:
        if topic in TOPICS and normalise.needs_refunds(payload):
            return {"refunds": client.order_refunds(connection, str(require(payload, "id")))}
        return {}

    def normalise(
        self, *, topic: str, payload: Any, connection: Connection, fetched: Mapping[str, Any]
    ) -> list[Document]:
        return normalise.normalise(topic=topic, payload=payload, fetched=fetched)

    def fetch_page(
        self, *, connection: Connection, client: VendorClient, topic: str, cursor: dict, since: dt.datetime | None
    ) -> Page:
        return polling.fetch_page(connection=connection, client=client, topic=topic, cursor=cursor, since=since)


adapter_register(WooCommerceAdapter())
