"""Writes of connections: create, edit, credentials, status, key rotation."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import ProtectedError
from django.utils import timezone

from connectors.models import Connection
from connectors.vendors import adapters
from connectors.vendors.base import NormaliseError
from connectors.vendors.common import config_url_problem
from core.crypto import token_rotate
from core.http import netsafety
from core.http.client import ConnectorError
from tenants.audit import audit_diff, audit_record_in_tenant, audit_secret_changes
from tenants.due import tenant_due_bump
from tenants.models import User

SOURCE_VENDORS = {
    Connection.Vendor.SHOPIFY,
    Connection.Vendor.WOOCOMMERCE,
    Connection.Vendor.SQUARE,
    Connection.Vendor.STRIPE,
    Connection.Vendor.CSV,
    Connection.Vendor.SHIPSTATION,
}
AUDIT_CHANGED = "changed"  # what the audit log says of a secret, never its value
MIN_INTERVAL_MINUTES = 1
# Apps above connectors that depend on a connection refuse its deletion through a guard they
# register at start-up (posting.erp: the ERP target): `guard(connection)` → the reason, or "".
_DELETE_GUARDS: list[Callable[[Connection], str]] = []


def connection_delete_guard_register(guard: Callable[[Connection], str]) -> None:
    if guard not in _DELETE_GUARDS:
        _DELETE_GUARDS.append(guard)


MAX_INTERVAL_MINUTES = 24 * 60


def config_host_parts_errors(config: dict) -> dict[str, list[str]]:
    """Config values that become part of a URL the portal calls, checked whatever the vendor:
    a base URL a person typed (an ERP server) is https and public, a NetSuite account id is a bare
    host label. Vendor-specific ones (a Shopify shop domain) are checked by the vendor's adapter."""
    errors: dict[str, list[str]] = {}
    problem = config_url_problem(str(config["base_url"]), base=True) if config.get("base_url") else None
    if problem:
        errors["base_url"] = [problem]
    if "account_id" in config:
        try:
            netsafety.netsuite_account_id_check(config["account_id"])
        except netsafety.UnsafeUrl as error:
            errors["account_id"] = [error.message]
    return errors


def _validate(*, vendor: str, direction: str, name: str, config: dict, sync_interval_minutes: int) -> None:
    errors: dict[str, list[str]] = {}
    if vendor not in Connection.Vendor.values:
        errors["vendor"] = [f"{vendor!r} is not a supported vendor."]
    if direction not in Connection.Direction.values:
        errors["direction"] = [f"{direction!r} is not source or erp."]
    elif vendor in SOURCE_VENDORS and direction != Connection.Direction.SOURCE:
        errors["direction"] = [f"{vendor} connections are sources of sales."]
    elif vendor in Connection.Vendor.values and vendor not in SOURCE_VENDORS and direction != Connection.Direction.ERP:
        errors["direction"] = [f"{vendor} connections are ERP targets."]
    if not (name or "").strip():
        errors["name"] = ["A connection needs a name."]
    if not isinstance(config, dict):
        errors["config"] = ["Config must be an object."]
    if not MIN_INTERVAL_MINUTES <= sync_interval_minutes <= MAX_INTERVAL_MINUTES:
        errors["sync_interval_minutes"] = [f"Between {MIN_INTERVAL_MINUTES} and {MAX_INTERVAL_MINUTES} minutes."]
    if isinstance(config, dict):
        errors.update(config_host_parts_errors(config))
    if errors:
        raise ValidationError(errors)
    if vendor in SOURCE_VENDORS:
        adapter = adapters().get(vendor)
        if adapter is not None:
            adapter.config_validate(config)


def _connection_state(connection: Connection) -> dict:
    return {
        "name": connection.name,
        "config": dict(connection.config),
        "sync_interval_minutes": connection.sync_interval_minutes,
    }


@transaction.atomic
def connection_create(
    *,
    vendor: str,
    direction: str = Connection.Direction.SOURCE,
    name: str,
    config: dict | None = None,
    credentials: dict | None = None,
    webhook_secret: str | None = None,
    sync_interval_minutes: int = 15,
    token_expires_at: dt.datetime | None = None,
    actor: User | None = None,
    actor_label: str | None = None,
) -> Connection:
    config = dict(config or {})
    _validate(vendor=vendor, direction=direction, name=name, config=config, sync_interval_minutes=sync_interval_minutes)
    connection = Connection(
        vendor=vendor,
        direction=direction,
        name=name.strip(),
        config=config,
        sync_interval_minutes=sync_interval_minutes,
        token_expires_at=token_expires_at,
        next_sync_at=timezone.now(),
    )
    connection.credentials = {key: value for key, value in (credentials or {}).items() if value not in (None, "")}
    # Vendors that sign with a secret we choose (WooCommerce) get a generated one unless given.
    connection.webhook_secret = webhook_secret if webhook_secret is not None else secrets.token_urlsafe(32)
    connection.save()
    tenant_due_bump()  # its syncs, token refreshes and meter follow the connection
    changes = audit_diff({}, {"vendor": vendor, "direction": direction, **_connection_state(connection)})
    stored = connection.credentials
    if stored:
        changes["credentials"] = audit_secret_changes({}, stored)
    audit_record_in_tenant(
        actor=actor, actor_label=actor_label, action="connection.create", target=connection, changes=changes
    )
    return connection


@transaction.atomic
def connection_update(
    *,
    connection: Connection,
    name: str | None = None,
    config: dict | None = None,
    sync_interval_minutes: int | None = None,
    actor: User | None = None,
    actor_label: str | None = None,
    audit: bool = True,
) -> Connection:
    before = _connection_state(connection)
    name = connection.name if name is None else name
    config = connection.config if config is None else dict(config)
    interval = connection.sync_interval_minutes if sync_interval_minutes is None else sync_interval_minutes
    _validate(
        vendor=connection.vendor,
        direction=connection.direction,
        name=name,
        config=config,
        sync_interval_minutes=interval,
    )
    connection.name = name.strip()
    connection.config = config
    connection.sync_interval_minutes = interval
    connection.save(update_fields=["name", "config", "sync_interval_minutes", "updated_at"])
    tenant_due_bump()  # its syncs, token refreshes and meter follow the connection
    changes = audit_diff(before, _connection_state(connection))
    if audit and changes:
        audit_record_in_tenant(
            actor=actor, actor_label=actor_label, action="connection.update", target=connection, changes=changes
        )
    return connection


@transaction.atomic
def connection_credentials_set(
    *,
    connection: Connection,
    credentials: dict | None = None,
    webhook_secret: str | None = None,
    token_expires_at: dt.datetime | None = None,
    refresh_token_expires_at: dt.datetime | None = None,
    merge: bool = True,
    actor: User | None = None,
    actor_label: str | None = None,
    audit: bool = True,
) -> Connection:
    """Replace (or merge into) the stored credentials; None leaves a field as it is. Empty values in
    a merge are ignored, so a form left blank never wipes a stored secret. The audit record names
    the fields that changed, never their values; automatic token refreshes pass `audit=False`."""
    fields = ["updated_at"]
    changes: dict = {}
    if credentials is not None:
        if not isinstance(credentials, dict) or not all(isinstance(k, str) for k in credentials):
            raise ValidationError({"credentials": ["Credentials must be an object of named values."]})
        before = connection.credentials
        current = dict(before) if merge else {}
        current.update({key: value for key, value in credentials.items() if value not in (None, "") or not merge})
        connection.credentials = current
        fields.append("credentials_encrypted")
        if current != before:
            changes["credentials"] = audit_secret_changes(before, current)
    if webhook_secret is not None and webhook_secret != "":
        if webhook_secret != connection.webhook_secret:
            changes["webhook_secret"] = AUDIT_CHANGED
        connection.webhook_secret = webhook_secret
        fields.append("webhook_secret_encrypted")
    if token_expires_at is not None:
        connection.token_expires_at = token_expires_at
        fields.append("token_expires_at")
    if refresh_token_expires_at is not None:
        connection.refresh_token_expires_at = refresh_token_expires_at
        fields.append("refresh_token_expires_at")
    connection.save(update_fields=fields)
    tenant_due_bump()  # its syncs, token refreshes and meter follow the connection
    if audit and changes:
        audit_record_in_tenant(
            actor=actor,
            actor_label=actor_label,
            action="connection.credentials_change",
            target=connection,
            changes=changes,
        )
    return connection


@transaction.atomic
def connection_delete(*, connection: Connection, actor: User | None = None, actor_label: str | None = None) -> None:
    """Delete a connection with its sync runs and stored events. Orders it brought in stay (they
    keep its id). Refused while the connection is the ERP target or something posted or deployed
    through it must stay traceable: pause it instead."""

    for guard in _DELETE_GUARDS:
        refusal = guard(connection)
        if refusal:
            raise ValidationError({"connection": [refusal]}, code="connection_in_use")
    audit_record_in_tenant(
        actor=actor,
        actor_label=actor_label,
        action="connection.delete",
        target=connection,
        changes={
            "vendor": connection.vendor,
            "direction": connection.direction,
            "name": connection.name,
        },
    )
    try:
        with transaction.atomic():
            Connection.objects.filter(pk=connection.pk).delete()
            tenant_due_bump()  # the meter counts one fewer
    except ProtectedError as error:
        raise ValidationError(
            {"connection": ["Journals or promotions were sent through this connection: pause it instead."]},
            code="connection_in_use",
        ) from error


@transaction.atomic
def connection_status_set(
    *,
    connection: Connection,
    status: str,
    message: str = "",
    actor: User | None = None,
    actor_label: str | None = None,
) -> Connection:
    """Set the status. A person's or a key's change (an actor is given) is audited; the status the
    system sets after a failure is not (the failure is an exception in the inbox)."""
    if status not in Connection.Status.values:
        raise ValidationError({"status": [f"{status!r} is not active, paused or error."]})
    if (actor is not None or actor_label) and connection.status != status:
        audit_record_in_tenant(
            actor=actor,
            actor_label=actor_label,
            action="connection.status_change",
            target=connection,
            changes={"status": [connection.status, status]},
        )
    connection.status = status
    fields = ["status", "updated_at"]
    if status == Connection.Status.ERROR:
        connection.last_failure_at = timezone.now()
        connection.last_message = message[:500]
        fields += ["last_failure_at", "last_message"]
    elif status == Connection.Status.ACTIVE:
        connection.next_sync_at = timezone.now()
        fields.append("next_sync_at")
        if message:
            connection.last_message = message[:500]
            fields.append("last_message")
    connection.save(update_fields=fields)
    tenant_due_bump()  # its syncs, token refreshes and meter follow the connection
    return connection


def connection_success_record(*, connection: Connection, message: str = "") -> None:
    now = timezone.now()
    Connection.objects.filter(pk=connection.pk).update(last_success_at=now, last_message=message[:500], updated_at=now)


def connection_failure_record(*, connection: Connection, message: str) -> None:
    now = timezone.now()
    Connection.objects.filter(pk=connection.pk).update(last_failure_at=now, last_message=message[:500], updated_at=now)


def connection_test(*, connection: Connection) -> tuple[bool, str]:
    """Call the vendor with the stored credentials: (worked, what it said). Never raises for a
    vendor failure; the message is already redacted by the HTTP client."""

    adapter = adapters().get(connection.vendor)
    if adapter is None:
        return False, f"{connection.get_vendor_display()} connections are tested by the ERP integration."
    try:
        message = adapter.connection_test(connection=connection)
    except ConnectorError as error:
        connection_failure_record(connection=connection, message=error.message)
        return False, error.message
    except (NormaliseError, KeyError, AttributeError, TypeError) as error:
        message = f"{connection.get_vendor_display()} answered something unexpected: {type(error).__name__}."
        connection_failure_record(connection=connection, message=message)
        return False, message
    connection_success_record(connection=connection, message=message)
    return True, message


def credentials_rotate_all() -> int:
    """Re-encrypt every connection's secrets with the newest key (run in each tenant schema)."""
    count = 0
    for connection in Connection.objects.select_for_update().only(
        "pk", "credentials_encrypted", "webhook_secret_encrypted"
    ):
        Connection.objects.filter(pk=connection.pk).update(
            credentials_encrypted=token_rotate(connection.credentials_encrypted),
            webhook_secret_encrypted=token_rotate(connection.webhook_secret_encrypted),
        )
        count += 1
    return count
