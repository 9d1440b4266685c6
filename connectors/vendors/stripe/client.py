"""Stripe's API client (version 2024-06-20): the secret key (or a Connect account), and the reads
an event needs before it is normalised (a charge's balance transaction, a payout's transactions)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError

from connectors.models import Connection
from connectors.vendors.base import NormaliseError
from connectors.vendors.stripe.roles import STRIPE_ROLES
from core.http.client import VendorClient
from core.money import from_minor

API_BASE = "https://api.stripe.com/v1"
API_VERSION = "2024-06-20"
PAGE_SIZE = 100


def config_validate(config: Mapping[str, Any]) -> None:
    role = config.get("role")
    if role not in (None, "", *STRIPE_ROLES):
        raise ValidationError({"config": [f"role: {role!r} is not one of {', '.join(STRIPE_ROLES)} (or empty)."]})


def client(connection: Connection) -> VendorClient:
    key = connection.credentials.get("secret_key") or connection.credentials.get("access_token", "")
    headers = {
        "Authorization": f"Bearer {key}",
        "Stripe-Version": connection.config.get("api_version") or API_VERSION,
    }
    account = connection.config.get("stripe_account")
    if account:
        headers["Stripe-Account"] = account  # Stripe Connect: act on the connected account
    return VendorClient(
        base_url=API_BASE,
        connection_id=connection.pk,
        headers=headers,
        secrets=[key, connection.webhook_secret],
        rate_per_second=25,
    )


def connection_test(*, connection: Connection) -> str:
    with client(connection) as api:
        balance = api.get("balance")
    available = ", ".join(
        f"{from_minor(item['amount'], item['currency'].upper())} {item['currency'].upper()}"
        for item in (balance or {}).get("available") or []
    )
    return f"Connected to Stripe; available balance {available or 'none'}."


def balance_transaction_get(connection: Connection, transaction_id: str) -> Any:
    with client(connection) as api:
        return api.get(f"balance_transactions/{transaction_id}")


def payout_transactions_get(connection: Connection, payout_id: str) -> list[dict]:
    with client(connection) as api:
        return balance_transactions(api, payout_id)


def balance_transactions(client: VendorClient, payout_id: str) -> list[dict]:
    rows: list[dict] = []
    params: dict[str, Any] = {"payout": payout_id, "limit": PAGE_SIZE}
    while True:
        data = client.get("balance_transactions", params=params)
        page = data.get("data") if isinstance(data, dict) else None
        if not isinstance(page, list):
            raise NormaliseError(f"Payout {payout_id}: /v1/balance_transactions did not return a list.")
        rows.extend(page)
        if not data.get("has_more") or not page:
            return rows
        last = page[-1].get("id") if isinstance(page[-1], dict) else None
        if not last or last == params.get("starting_after"):  # a page that does not move on
            raise NormaliseError(f"Payout {payout_id}: Stripe returned the same balance transactions page again.")
        params["starting_after"] = last
