"""The ShipStation adapter: a warehouse (3PL) system. It ships the orders Tillbridge routes to it
(connectors.fulfilment calls `request_send`) and tells us what shipped, by webhook (a hint with a
`resource_url`, fetched here with the tenant's credentials) or by polling shipments."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError

from commerce.documents import FulfilmentRequestDoc
from connectors.models import Connection
from connectors.vendors import adapter_register
from connectors.vendors.base import Adapter, Document, NormaliseError, Page, WebhookIdentity
from connectors.vendors.shipstation import webhooks
from connectors.vendors.shipstation.client import order_create, resource_get, shipstation_client, stores_list
from connectors.vendors.shipstation.normalise import (
    createorder_payload,
    shipment_normalise,
    warehouse_order_normalise,
)
from connectors.vendors.shipstation.polling import POLL_TOPIC, shipments_page
from core.http.client import VendorClient

ORDER_TOPICS = ("ORDER_NOTIFY", "ITEM_ORDER_NOTIFY")


class ShipStationAdapter(Adapter):
    vendor = Connection.Vendor.SHIPSTATION
    topics = (*webhooks.RESOURCE_TYPES, POLL_TOPIC, "orders")
    poll_topics = (POLL_TOPIC,)
    credential_fields = ("api_key", "api_secret")
    config_fields = ("store_id", "warehouse_id")

    def config_validate(self, config: Mapping[str, Any]) -> None:
        for name in self.config_fields:
            value = config.get(name)
            if value not in (None, "") and not str(value).isdigit():
                raise ValidationError({"config": [f"{name} must be a ShipStation numeric id."]})

    def client(self, connection: Connection) -> VendorClient:
        return shipstation_client(connection)

    def webhook_verify(self, *, connection: Connection, body: bytes, headers: Mapping[str, str], url: str) -> None:
        webhooks.hook_token_check(connection=connection, url=url)

    def webhook_identify(self, *, body: bytes, payload: Any, headers: Mapping[str, str]) -> WebhookIdentity:
        return webhooks.webhook_identify(payload=payload)

    def file_identify(self, *, topic: str, payload: Any) -> WebhookIdentity:
        if isinstance(payload, dict) and webhooks.is_hook(payload):
            return webhooks.webhook_identify(payload=payload)
        key = "shipmentId" if topic == POLL_TOPIC else "orderId"
        if not isinstance(payload, dict) or not payload.get(key):
            raise NormaliseError(f"The saved object has no {key}.")
        return WebhookIdentity(topic=topic, external_id=str(payload[key]))

    def prefetch(self, *, topic: str, payload: Any, connection: Connection) -> dict[str, Any]:
        """A webhook is only a hint: its `resource_url` is checked (ShipStation's API host, https, no
        port or credentials) before any request, then read with the tenant's credentials."""
        if topic in (POLL_TOPIC, "orders") or not isinstance(payload, dict) or not webhooks.is_hook(payload):
            return {}
        url = webhooks.resource_url_check(payload.get("resource_url"))  # before any request
        with self.client(connection) as client:
            return {"resource": resource_get(client, url) or {}}

    def normalise(
        self, *, topic: str, payload: Any, connection: Connection, fetched: Mapping[str, Any]
    ) -> list[Document]:
        if not isinstance(payload, dict):
            raise NormaliseError("The payload is not a JSON object.")
        if topic == POLL_TOPIC:
            return [shipment_normalise(payload)]
        if topic == "orders":
            return [warehouse_order_normalise(payload)]
        if not webhooks.is_hook(payload):
            raise NormaliseError(f"A {topic} event needs resource_url and resource_type.")
        resource = fetched.get("resource") or {}
        if topic in webhooks.SHIPMENT_TYPES:
            return [shipment_normalise(item) for item in resource.get("shipments") or []]
        return [warehouse_order_normalise(item) for item in resource.get("orders") or []]

    def fetch_page(
        self, *, connection: Connection, client: VendorClient, topic: str, cursor: dict, since: dt.datetime | None
    ) -> Page:
        if topic != POLL_TOPIC:
            raise NormaliseError(f"ShipStation cannot poll {topic!r}.")
        return shipments_page(client=client, cursor=cursor, since=since)

    def connection_test(self, *, connection: Connection) -> str:
        with self.client(connection) as client:
            stores = stores_list(client)
        names = ", ".join(
            f"{store.get('storeName')} ({store.get('storeId')})" for store in stores if isinstance(store, dict)
        )
        return f"Connected to ShipStation; stores: {names or 'none'}."

    def request_send(self, *, connection: Connection, request: FulfilmentRequestDoc) -> str:
        """Create (or update, same orderKey) the order in ShipStation; returns its orderId."""
        config = connection.config
        payload = createorder_payload(
            request,
            store_id=int(config["store_id"]) if config.get("store_id") else None,
            warehouse_id=int(config["warehouse_id"]) if config.get("warehouse_id") else None,
        )
        with self.client(connection) as client:
            created = order_create(client, payload)
        if not isinstance(created, dict) or not created.get("orderId"):
            raise NormaliseError("ShipStation answered createorder without an orderId.")
        return str(created["orderId"])


adapter_register(ShipStationAdapter())
