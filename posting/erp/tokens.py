"""Keep every ERP OAuth grant alive (QuickBooks Online, Xero).

Access tokens are refreshed before the call that needs them (posting/erp/oauth.py). Refresh tokens
lapse when unused — QuickBooks after 100 days, Xero after 60 — so an idle tenant would learn of it
from a failed push. The keepalive, a per-minute job per tenant, refreshes a grant whose refresh
token lapses within KEEPALIVE_MARGIN (or whose lapse date is not known yet), at most once an hour
per connection. When the ERP refuses the refresh (invalid_grant) the connection goes to error with
a reconnect exception; when the refresh cannot be done for another reason and the refresh token
lapses within LAST_CHANCE, or the renewed token still lapses within the margin, a reconnect
exception is raised while the grant still works."""

from __future__ import annotations

import datetime as dt

import structlog
from django.core.cache import cache
from django.db import connection as db
from django.db.models import QuerySet
from django.utils import timezone

from connectors.models import Connection
from core.periodic import earliest, periodic_job
from posting.erp import connections
from posting.erp.base import ErpError, ErrorKind
from posting.erp.oauth import OAuth2Adapter
from posting.erp.registry import ADAPTERS
from triage.services import exception_raise, exception_resolve_for_object

log = structlog.get_logger(__name__)

KEEPALIVE_MARGIN = dt.timedelta(days=14)
LAST_CHANCE = dt.timedelta(days=3)
ATTEMPT_EVERY_SECONDS = 3600


def oauth_vendors() -> list[str]:
    return [vendor for vendor, adapter in ADAPTERS.items() if issubclass(adapter, OAuth2Adapter)]


def _candidates() -> QuerySet[Connection]:
    return Connection.objects.filter(
        direction=Connection.Direction.ERP,
        vendor__in=oauth_vendors(),
        status__in=(Connection.Status.ACTIVE, Connection.Status.PAUSED),
    ).order_by("pk")


def _attempt_allowed(connection: Connection) -> bool:
    return cache.add(f"erp:token-keepalive:{db.schema_name}:{connection.pk}", 1, ATTEMPT_EVERY_SECONDS)


def _reconnect_raise(connection: Connection, *, title: str, detail: str) -> None:
    exception_raise(
        kind="erp_push",
        cause="reconnect_required",
        tags=("erp", "reconnect_required"),
        obj=connection,
        title=title,
        detail=detail,
        severity="high",
        context={
            "access_token_expires_at": connection.token_expires_at.isoformat() if connection.token_expires_at else None,
            "refresh_token_expires_at": (
                connection.refresh_token_expires_at.isoformat() if connection.refresh_token_expires_at else None
            ),
        },
    )


def erp_token_refresh(*, connection: Connection) -> Connection:
    """Refresh one grant now; the new tokens and their expiries are stored by the adapter."""
    with connections.adapter_for(connection) as adapter:
        if not isinstance(adapter, OAuth2Adapter):
            raise ErpError(ErrorKind.VALIDATION, f"{adapter.label} does not connect with OAuth.")
        adapter.refresh()
    connection.refresh_from_db()
    return connection


def erp_tokens_keepalive(*, now: dt.datetime | None = None) -> int:
    """Refresh the grants whose refresh token lapses soon (see module doc). Returns how many were
    refreshed."""
    now = now or timezone.now()
    horizon = now + KEEPALIVE_MARGIN
    refreshed = 0
    for connection in _candidates():
        lapses = connection.refresh_token_expires_at
        if lapses is not None and lapses > horizon:
            continue
        if not connection.credentials.get("refresh_token") or not _attempt_allowed(connection):
            continue
        try:
            connection = erp_token_refresh(connection=connection)
        except ErpError as error:
            log.warning("erp.token_keepalive.failed", connection=connection.pk, kind=error.kind.value)
            if error.kind == ErrorKind.RECONNECT:
                connections.erp_connection_needs_reconnect(connection, reason=error.message)
                _reconnect_raise(
                    connection,
                    title=f"{connection.name}: the ERP refused to renew its sign-in; connect again",
                    detail=error.message,
                )
            elif lapses is None or lapses <= now + LAST_CHANCE:
                _reconnect_raise(
                    connection,
                    title=f"{connection.name}: the sign-in could not be renewed and lapses soon; connect again",
                    detail=error.message,
                )
            continue
        refreshed += 1
        renewed = connection.refresh_token_expires_at
        if renewed is not None and renewed <= horizon:
            _reconnect_raise(
                connection,
                title=f"{connection.name}: the sign-in lapses on {renewed:%Y-%m-%d} and cannot be renewed; reconnect",
                detail=f"The ERP renewed the access but the refresh token still lapses at {renewed.isoformat()}.",
            )
        else:
            exception_resolve_for_object(obj=connection, reason="The ERP sign-in was renewed.")
    return refreshed


def erp_tokens_next_due(now: dt.datetime) -> dt.datetime | None:
    """When the first grant `erp_tokens_keepalive` renews enters its margin (at once if its lapse
    is unknown)."""
    times = [
        now if connection.refresh_token_expires_at is None else connection.refresh_token_expires_at - KEEPALIVE_MARGIN
        for connection in _candidates()
        if connection.credentials.get("refresh_token")
    ]
    return earliest(*times)


@periodic_job("posting.erp_tokens_keepalive", next_due=erp_tokens_next_due)
def erp_tokens_keepalive_job() -> int:
    return erp_tokens_keepalive()
