"""ERP connections, through the connectors app's model and services: which connections are ERP
targets, building an adapter for one (with the shared HTTP client and credential persistence),
and the OAuth completion. The only module of posting/erp that knows about connectors."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from connectors import services as connector_services
from connectors.models import Connection
from posting.erp.base import ErpAdapter, ErpError, ErrorKind
from posting.erp.http import ErpHttp, client_factory
from posting.erp.ledger import BuiltinLedgerAdapter
from posting.erp.oauth import OAuth2Adapter
from posting.erp.registry import FIELDS, adapter_class
from tenants import audit as tenant_audit
from tenants.models import User
from triage.services import exception_resolve_for_object

# Requests per second per connection, under each vendor's published limits (Xero: 60 a minute;
# QuickBooks: 500 a minute per company; NetSuite: by account concurrency).
RATES = {"xero": 1, "quickbooks": 8, "netsuite": 5, "odoo": 10, "erpnext": 10}
REQUIRED: dict[str, tuple[str, ...]] = {
    "odoo": ("base_url", "database", "username", "api_key"),
    "erpnext": ("base_url", "company", "api_key", "api_secret"),
    "quickbooks": ("realm_id", "client_id", "access_token"),
    "xero": ("tenant_id", "client_id", "access_token"),
    "netsuite": ("account_id", "subsidiary_id", "consumer_key", "consumer_secret", "token_id", "token_secret"),
}


def erp_connections_list() -> list[Connection]:
    return list(
        Connection.objects.filter(direction=Connection.Direction.ERP)
        .exclude(vendor=Connection.Vendor.BUILTIN_LEDGER)
        .order_by("name", "pk")
    )


def erp_connection_get(*, pk: int | None) -> Connection | None:
    if pk is None:
        return None
    return (
        Connection.objects.filter(direction=Connection.Direction.ERP, pk=pk)
        .exclude(vendor=Connection.Vendor.BUILTIN_LEDGER)
        .first()
    )


def erp_connection_missing(connection: Connection) -> list[str]:
    values = {**connection.config, **connection.credentials}
    return [name for name in REQUIRED.get(connection.vendor, ()) if not values.get(name)]


def erp_connection_ready(connection: Connection) -> bool:
    return connection.status == Connection.Status.ACTIVE and not erp_connection_missing(connection)


def erp_connection_check(connection: Connection) -> None:
    if connection.direction != Connection.Direction.ERP or connection.vendor not in FIELDS:
        raise ValidationError(f"{connection} is not an ERP connection.")
    missing = erp_connection_missing(connection)
    if missing:
        raise ValidationError(f"{connection} is not connected yet (missing: {', '.join(missing)}).")
    if connection.status != Connection.Status.ACTIVE:
        raise ValidationError(f"{connection} is {connection.get_status_display().lower()}: {connection.last_message}")


def erp_connection_create(
    *,
    vendor: str,
    name: str,
    config: dict[str, Any],
    credentials: dict[str, Any],
    actor: User | None = None,
    actor_label: str | None = None,
) -> Connection:
    if vendor not in FIELDS:
        raise ValidationError({"vendor": f"{vendor!r} is not an ERP."})
    if config.get("base_url"):
        config["base_url"] = str(config["base_url"]).strip().rstrip("/")
    # Host parts (base URL, NetSuite account id) are checked by connection_create.
    if vendor == "quickbooks":
        config.setdefault("environment", "production")
        if config["environment"] not in ("production", "sandbox"):
            raise ValidationError({"environment": "Use production or sandbox."})
    return connector_services.connection_create(
        vendor=vendor,
        direction=Connection.Direction.ERP,
        name=name,
        config=config,
        credentials=credentials,
        webhook_secret="",
        actor=actor,
        actor_label=actor_label,
    )


def _expiry(value: Any) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(value) if value else None
    except (TypeError, ValueError):
        return None


def credentials_save(connection: Connection, credentials: dict[str, Any]) -> None:
    """Store refreshed tokens at once, in their own transaction: a refresh token that rotated must
    never be lost because the push that triggered the refresh failed afterwards."""
    with transaction.atomic():
        fresh = Connection.objects.select_for_update().get(pk=connection.pk)
        connector_services.connection_credentials_set(
            connection=fresh,
            credentials=credentials,
            merge=False,
            token_expires_at=_expiry(credentials.get("expires_at")),
            refresh_token_expires_at=_expiry(credentials.get("refresh_expires_at")),
            audit=False,
        )
    connection.credentials_encrypted = fresh.credentials_encrypted
    connection.token_expires_at = fresh.token_expires_at
    connection.refresh_token_expires_at = fresh.refresh_token_expires_at


def adapter_for(connection: Connection | None) -> ErpAdapter:
    """The adapter of a connection (None: the built-in ledger)."""
    if connection is None:
        return BuiltinLedgerAdapter(config={}, credentials={}, http=None)
    credentials = connection.credentials
    http = ErpHttp(
        client_factory(
            connection_id=connection.pk,
            secrets=tuple(str(value) for value in credentials.values() if value),
            rate_per_second=RATES.get(connection.vendor),
        )
    )
    return adapter_class(connection.vendor)(
        config=connection.config,
        credentials=credentials,
        http=http,
        on_credentials=lambda new: credentials_save(connection, new),
    )


def erp_connection_needs_reconnect(connection: Connection, *, reason: str) -> None:
    connector_services.connection_status_set(
        connection=Connection.objects.get(pk=connection.pk), status=Connection.Status.ERROR, message=reason
    )
    connection.refresh_from_db(fields=["status", "last_message", "last_failure_at"])


def erp_oauth_complete(
    *,
    connection: Connection,
    code: str,
    redirect_uri: str,
    code_verifier: str = "",
    realm_id: str = "",
    actor: User | None = None,
    actor_label: str | None = None,
) -> Connection:
    """Exchange the authorisation code, store the tokens, and record which company/organisation
    the grant reaches (QuickBooks sends `realmId` with the code; Xero lists its connections)."""
    config = dict(connection.config)
    before = dict(connection.config)
    if connection.vendor == "quickbooks":
        if not realm_id:
            raise ErpError(ErrorKind.RECONNECT, "QuickBooks Online sent no company id (realmId): connect again.")
        config["realm_id"] = realm_id
    adapter = adapter_for(connection)
    if not isinstance(adapter, OAuth2Adapter):
        raise ErpError(ErrorKind.VALIDATION, f"{adapter.label} does not connect with OAuth.")
    adapter.config = config
    with adapter:
        adapter.authorization_complete(code=code, redirect_uri=redirect_uri, code_verifier=code_verifier)
        grants = adapter.connections() if connection.vendor == "xero" else []
    if connection.vendor == "xero":
        organisations = [row for row in grants if row.get("tenantType") == "ORGANISATION"]
        if not organisations:
            raise ErpError(ErrorKind.RECONNECT, "The Xero sign-in reached no organisation: connect again.")
        config["tenant_id"] = organisations[0]["tenantId"]
        config["organisation"] = organisations[0].get("tenantName", "")
    connector_services.connection_update(
        connection=connection, config=config, actor=actor, actor_label=actor_label, audit=False
    )
    connector_services.connection_status_set(
        connection=connection, status=Connection.Status.ACTIVE, message=f"Connected to {adapter.label}."
    )
    exception_resolve_for_object(obj=connection, reason=f"Connected to {adapter.label} again.")
    tenant_audit.audit_record_in_tenant(
        actor=actor,
        actor_label=actor_label,
        action="connection.oauth_connect",
        target=connection,
        changes={
            "credentials": "changed: access_token, refresh_token",
            "config": tenant_audit.audit_diff(before, config),
        },
    )
    return connection
