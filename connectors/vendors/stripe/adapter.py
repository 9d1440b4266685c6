"""Stripe's source adapter: the one object the inbox and the sync know, made of this package's
client, webhooks, polling and (pure) normalise."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from connectors.http import VendorClient
from connectors.models import Connection
from connectors.selectors import STRIPE_ROLE_PROCESSOR, stripe_role
from connectors.vendors import adapter_register
from connectors.vendors.base import Adapter, Document, Page, WebhookIdentity
from connectors.vendors.stripe import client, normalise, polling, webhooks
from connectors.vendors.stripe.normalise import CHARGE_TOPICS, COVERED_TOPICS, PAYOUT_TOPICS, REFUND_TOPICS
from connectors.vendors.stripe.polling import POLL_TOPICS


class StripeAdapter(Adapter):
    vendor = Connection.Vendor.STRIPE
    topics = (*CHARGE_TOPICS, *REFUND_TOPICS, *PAYOUT_TOPICS, *COVERED_TOPICS, *POLL_TOPICS)
    poll_topics = POLL_TOPICS
    credential_fields = ("secret_key",)
    config_fields = ("api_version", "stripe_account", "role")

    def config_validate(self, config: Mapping[str, Any]) -> None:
        client.config_validate(config)

    def client(self, connection: Connection) -> VendorClient:
        return client.client(connection)

    def connection_test(self, *, connection: Connection) -> str:
        return client.connection_test(connection=connection)

    def webhook_verify(self, *, connection: Connection, body: bytes, headers: Mapping[str, str], url: str) -> None:
        webhooks.webhook_verify(connection=connection, body=body, headers=headers, url=url)

    def webhook_identify(self, *, body: bytes, payload: Any, headers: Mapping[str, str]) -> WebhookIdentity:
        return webhooks.webhook_identify(body=body, payload=payload, headers=headers)

    def file_identify(self, *, topic: str, payload: Any) -> WebhookIdentity:
        return webhooks.file_identify(topic=topic, payload=payload)

    def prefetch(self, *, topic: str, payload: Any, connection: Connection) -> dict[str, Any]:
        """The connection's role (a processor books charges as settlements), a processor charge's
        balance transaction when the event names only its id, a payout's balance transactions."""
        if topic in COVERED_TOPICS or not isinstance(payload, dict):
            return {}
        obj, _ = normalise.event_object(topic, payload)
        if topic in (*CHARGE_TOPICS, "charges", *REFUND_TOPICS, "refunds"):
            fetched: dict[str, Any] = {"role": stripe_role(connection=connection)}
            charge = topic in (*CHARGE_TOPICS, "charges")
            if charge and fetched["role"] == STRIPE_ROLE_PROCESSOR and normalise.needs_balance_transaction(obj):
                fetched["balance_transaction"] = client.balance_transaction_get(connection, obj["balance_transaction"])
            return fetched
        payout = topic in (*PAYOUT_TOPICS, "payouts") and obj.get("status") == "paid"
        if payout and normalise.payout_transactions(payload) is None:
            return {"transactions": client.payout_transactions_get(connection, str(obj["id"]))}
        return {}

    def normalise(
        self, *, topic: str, payload: Any, connection: Connection, fetched: Mapping[str, Any]
    ) -> list[Document]:
        return normalise.normalise(topic=topic, payload=payload, fetched=fetched)

    def fetch_page(
        self, *, connection: Connection, client: VendorClient, topic: str, cursor: dict, since: dt.datetime | None
    ) -> Page:
        return polling.fetch_page(connection=connection, client=client, topic=topic, cursor=cursor, since=since)


adapter_register(StripeAdapter())
