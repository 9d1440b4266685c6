"""Square's source adapter: the one object the inbox and the sync know, made of this package's
client, webhooks, polling and (pure) normalise."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from commerce.models import Order, Payment
from connectors.models import Connection
from connectors.vendors import adapter_register
from connectors.vendors.base import DependencyMissing, PackageAdapter
from connectors.vendors.common import require
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
        if topic in ORDER_TOPICS and event:
            return {"order": client.order_get(connection, str(require(payload, "data", "id")))}
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
