"""Square's source adapter: the one object the inbox and the sync know, made of this package's
client, webhooks, polling and (pure) normalise."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from commerce.models import Order, Payment
from commerce.skus import channel_skus, channel_skus_store
from connectors.models import Connection
from connectors.vendors import adapter_register
from connectors.vendors.base import DependencyMissing, PackageAdapter
from connectors.vendors.common import require
from connectors.vendors.skus import sku_unmapped_raise
from connectors.vendors.square import client, normalise
from connectors.vendors.square.normalise import (
    INVENTORY_POLL_TOPIC,
    INVENTORY_TOPIC,
    ORDER_TOPICS,
    PAYMENT_TOPICS,
    PAYOUT_TOPICS,
    REFUND_TOPICS,
)


class SquareAdapter(PackageAdapter):
    vendor = Connection.Vendor.SQUARE
    topics = (
        *ORDER_TOPICS,
        *REFUND_TOPICS,
        *PAYOUT_TOPICS,
        *PAYMENT_TOPICS,
        "orders",
        "payouts",
        INVENTORY_TOPIC,
        INVENTORY_POLL_TOPIC,
    )
    poll_topics = ("orders", "payouts")
    inventory_topics = (INVENTORY_TOPIC, INVENTORY_POLL_TOPIC)
    credential_fields = ("access_token",)
    config_fields = ("location_ids", "environment", "notification_url")

    def prefetch(self, *, topic: str, payload: Any, connection: Connection) -> dict[str, Any]:
        """Order events carry only the order's id; a refund needs its itemised return order; a
        payout its entries and the stored orders its payments belong to."""
        if not isinstance(payload, dict):
            return {}
        event = normalise.is_event(payload)
        if topic in (INVENTORY_TOPIC, INVENTORY_POLL_TOPIC):
            return {"skus": self._skus(connection, normalise.catalog_ids(topic, payload), raise_unmapped=False)}
        if topic in ORDER_TOPICS and event:
            order = client.order_get(connection, str(require(payload, "data", "id")))
            return {"order": order, "skus": self._skus(connection, normalise.catalog_ids(topic, payload, order))}
        if topic == "orders" or topic in ORDER_TOPICS:
            saved = normalise.saved_object(payload, topic)
            return {"skus": self._skus(connection, normalise.catalog_ids(topic, payload, saved))}
        if topic in REFUND_TOPICS:
            refund = normalise.refund_of(topic, payload)
            if refund.get("status") != "COMPLETED":
                return {}
            return {"return_order": self._return_order(connection, refund, payload, event=event)}
        if topic in (*PAYOUT_TOPICS, "payouts"):
            payout, entries = normalise.payout_of(topic, payload)
            if entries is None:
                entries = client.payout_entries_get(connection, str(require(payout, "id")))
            references = self._references(connection, entries) if isinstance(entries, list) else {}
            return {"entries": entries, "references": references}
        return {}

    def catalog_skus(self, connection: Connection) -> dict[str, tuple[str, str]]:
        """The SKU map's source: every item variation in the connection's catalog."""
        return client.catalog_variations_all(connection)

    def _skus(self, connection: Connection, item_ids: list[str], *, raise_unmapped: bool = True) -> dict[str, str]:
        """{variation id: SKU} from the SKU map; ids it does not know yet are read from Square's
        catalog (`batch-retrieve`) and kept. Order lines whose variation has no SKU raise an
        `unmapped_sku` exception for the connection (the order still posts under the catalog id);
        stock counts fail their event instead (normalise raises `UnmappedSku`)."""
        known = channel_skus(source_connection_id=connection.pk, item_ids=item_ids)
        missing = [item_id for item_id in item_ids if not known.get(item_id)]  # a blank SKU may be set by now
        if missing:
            fetched = client.catalog_variations(connection, missing)
            fetched.update({item_id: ("", "") for item_id in missing if item_id not in fetched})  # not in the catalog
            channel_skus_store(source=self.vendor, source_connection_id=connection.pk, items=fetched)
            known.update({item_id: sku for item_id, (sku, _name) in fetched.items()})
        unmapped = sorted(item_id for item_id in item_ids if not known.get(item_id))
        if unmapped and raise_unmapped:
            sku_unmapped_raise(connection=connection, item_ids=unmapped)
        return {item_id: sku for item_id, sku in known.items() if sku}

    def _return_order(
        self, connection: Connection, refund: Mapping[str, Any], payload: Mapping[str, Any], *, event: bool
    ) -> Mapping[str, Any] | None:
        """The itemised return behind a refund. A refund whose `order_id` is a stored order is an
        amount-only refund of that order (no return); a saved file may carry its `return_order`;
        only a webhook event reads the return order from Square's API."""
        order_id = refund.get("order_id")
        if not order_id:
            return None
        stored = Order.objects.filter(
            source=self.vendor, source_connection_id=connection.pk, external_id=str(order_id)
        ).exists()
        if stored:
            return None
        if not event:
            if isinstance(payload.get("return_order"), dict):
                return payload["return_order"]
            raise DependencyMissing(
                f"Refund {refund.get('id')} is for order {order_id}, not stored yet; ingest the order first "
                "or save the refund with its return_order."
            )
        return client.order_get(connection, str(order_id))

    def _references(self, connection: Connection, entries: list[Mapping[str, Any]]) -> dict[str, str]:
        """Payout entries name payments; reconciliation matches orders: map through stored tenders."""
        payment_ids = [
            str((entry.get("type_charge_details") or {}).get("payment_id"))
            for entry in entries
            if isinstance(entry, dict) and entry.get("type") == "CHARGE"
        ]
        rows = Payment.objects.filter(
            external_id__in=payment_ids, order__source=self.vendor, order__source_connection_id=connection.pk
        ).values_list("external_id", "order__external_id")
        return dict(rows)

    def poll_topics_for(self, connection: Connection) -> tuple[str, ...]:
        if connection.config.get("sync_inventory"):
            return (*self.poll_topics, INVENTORY_POLL_TOPIC)
        return self.poll_topics


adapter_register(SquareAdapter())
