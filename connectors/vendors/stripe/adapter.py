"""Stripe's source adapter: the one object the inbox and the sync know, made of this package's
client, webhooks, polling and (pure) normalise."""

from __future__ import annotations

from typing import Any

from connectors.models import Connection
from connectors.vendors import adapter_register
from connectors.vendors.base import PackageAdapter
from connectors.vendors.stripe import client, normalise
from connectors.vendors.stripe.normalise import CHARGE_TOPICS, COVERED_TOPICS, PAYOUT_TOPICS, REFUND_TOPICS
from connectors.vendors.stripe.polling import POLL_TOPICS
from connectors.vendors.stripe.roles import STRIPE_ROLE_PROCESSOR, stripe_role


class StripeAdapter(PackageAdapter):
    vendor = Connection.Vendor.STRIPE
    topics = (*CHARGE_TOPICS, *REFUND_TOPICS, *PAYOUT_TOPICS, *COVERED_TOPICS, *POLL_TOPICS)
    poll_topics = POLL_TOPICS
    credential_fields = ("secret_key",)
    config_fields = ("api_version", "stripe_account", "role")

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


adapter_register(StripeAdapter())
