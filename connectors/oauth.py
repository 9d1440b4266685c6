"""OAuth connect flows (Shopify app install, Square OAuth, Stripe Connect) and token refresh.

`oauth_start` returns the vendor's authorise URL with a one-time `state` bound to the tenant
schema, the connection and the person (kept in the cache for 10 minutes); `oauth_complete`
accepts the callback only with that state, exchanges the code through the one HTTP client and
stores the tokens encrypted. Tokens that expire (Square) are refreshed by the per-minute job a
day before expiry; a refresh that fails puts the connection in error and raises a `sync/auth`
exception whose retry is the reconnect."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from urllib.parse import urlencode

import structlog
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import connection as db
from django.db import transaction
from django.utils import timezone

from connectors.models import Connection
from connectors.services import connection_credentials_set, connection_status_set
from core.http.client import ConnectorError, VendorClient
from tenants.models import User
from triage.services import exception_raise, exception_resolve_for_object

log = structlog.get_logger(__name__)

STATE_TTL_SECONDS = 600
REFRESH_AHEAD = dt.timedelta(days=1)
SHOPIFY_SCOPES = "read_orders,read_all_orders,read_shopify_payments_payouts"
SQUARE_SCOPES = "ORDERS_READ PAYMENTS_READ MERCHANT_PROFILE_READ"
SQUARE_BASE = {"production": "https://connect.squareup.com", "sandbox": "https://connect.squareupsandbox.com"}
OAUTH_VENDORS = (Connection.Vendor.SHOPIFY, Connection.Vendor.SQUARE, Connection.Vendor.STRIPE)


class OAuthError(Exception):
    pass


def _app(vendor: str) -> tuple[str, str]:
    client_id, secret = settings.CONNECTOR_OAUTH_APPS.get(vendor, ("", ""))
    if not client_id or not secret:
        raise OAuthError(f"No {vendor} app is configured for OAuth; enter an access token instead.")
    return client_id, secret


def oauth_available(vendor: str) -> bool:
    client_id, secret = settings.CONNECTOR_OAUTH_APPS.get(vendor, ("", ""))
    return vendor in OAUTH_VENDORS and bool(client_id and secret)


def _state_key(state: str) -> str:
    return f"connectors:oauth-state:{state}"


def oauth_start(*, connection: Connection, redirect_uri: str, user_id: int) -> str:
    if connection.vendor not in OAUTH_VENDORS:
        raise OAuthError(f"{connection.get_vendor_display()} has no OAuth connect flow.")
    client_id, _secret = _app(connection.vendor)
    state = secrets.token_urlsafe(32)
    cache.set(
        _state_key(state),
        {"schema": db.schema_name, "connection_id": connection.pk, "user_id": user_id, "redirect_uri": redirect_uri},
        STATE_TTL_SECONDS,
    )
    if connection.vendor == Connection.Vendor.SHOPIFY:
        query = {"client_id": client_id, "scope": SHOPIFY_SCOPES, "redirect_uri": redirect_uri, "state": state}
        return f"https://{connection.config['shop_domain']}/admin/oauth/authorize?{urlencode(query)}"
    if connection.vendor == Connection.Vendor.SQUARE:
        base = SQUARE_BASE[connection.config.get("environment", "production")]
        query = {"client_id": client_id, "scope": SQUARE_SCOPES, "session": "false", "state": state}
        return f"{base}/oauth2/authorize?{urlencode(query)}"
    query = {
        "response_type": "code",
        "client_id": client_id,
        "scope": "read_only",
        "redirect_uri": redirect_uri,
        "state": state,
    }
    return f"https://connect.stripe.com/oauth/authorize?{urlencode(query)}"


def shopify_callback_verify(*, query: Mapping[str, str], secret: str) -> bool:
    """Shopify signs the callback query: hex HMAC-SHA256 of the sorted `k=v&…` without `hmac`."""
    given = query.get("hmac", "")
    message = "&".join(f"{key}={value}" for key, value in sorted(query.items()) if key not in ("hmac", "signature"))
    expected = hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()
    return bool(given) and hmac.compare_digest(expected, given)


def oauth_state_take(*, state: str, user_id: int) -> dict:
    """The stored state, once: a second use, another tenant, or another person is refused."""
    data = cache.get(_state_key(state or "-"))
    cache.delete(_state_key(state or "-"))
    if not data or data["schema"] != db.schema_name or data["user_id"] != user_id:
        raise OAuthError("This connect link has expired or was not started here; start again.")
    return data


def _token_client(base_url: str, secrets_: list[str]) -> VendorClient:
    return VendorClient(base_url=base_url, secrets=secrets_, max_attempts=2)


def _square_token(connection: Connection, *, client_id: str, secret: str, grant_type: str, grant: str) -> dict:
    """Square's token endpoint, for a code exchange (`grant_type` "authorization_code", `grant` the
    code) and a refresh ("refresh_token", the refresh token) alike."""
    base = SQUARE_BASE[connection.config.get("environment", "production")]
    field = "code" if grant_type == "authorization_code" else "refresh_token"
    body = {"client_id": client_id, "client_secret": secret, field: grant, "grant_type": grant_type}
    with _token_client(base, [secret, grant]) as client:
        return client.json("POST", "oauth2/token", json=body)


@transaction.atomic
def oauth_complete(*, state: str, code: str, user_id: int, query: Mapping[str, str]) -> Connection:
    data = oauth_state_take(state=state, user_id=user_id)
    connection = Connection.objects.select_for_update().get(pk=data["connection_id"])
    client_id, secret = _app(connection.vendor)
    if not code:
        raise OAuthError("The vendor returned no authorisation code.")
    if connection.vendor == Connection.Vendor.SHOPIFY:
        if not shopify_callback_verify(query=query, secret=secret):
            raise OAuthError("The Shopify callback signature does not match.")
        if query.get("shop") != connection.config.get("shop_domain"):
            raise OAuthError("The callback is for another shop.")
        with _token_client(f"https://{connection.config['shop_domain']}", [secret, code]) as client:
            tokens = client.json(
                "POST", "admin/oauth/access_token", json={"client_id": client_id, "client_secret": secret, "code": code}
            )
        credentials = {"access_token": tokens["access_token"], "scope": tokens.get("scope", "")}
        expires_at = None
    elif connection.vendor == Connection.Vendor.SQUARE:
        tokens = _square_token(
            connection, client_id=client_id, secret=secret, grant_type="authorization_code", grant=code
        )
        credentials = {
            "access_token": tokens["access_token"],
            "refresh_token": tokens.get("refresh_token", ""),
            "merchant_id": tokens.get("merchant_id", ""),
        }
        expires_at = dt.datetime.fromisoformat(tokens["expires_at"].replace("Z", "+00:00"))
    else:
        with _token_client("https://connect.stripe.com", [secret, code]) as client:
            tokens = client.json(
                "POST", "oauth/token", data={"client_secret": secret, "code": code, "grant_type": "authorization_code"}
            )
        credentials = {"access_token": tokens["access_token"], "refresh_token": tokens.get("refresh_token", "")}
        connection.config = {**connection.config, "stripe_account": tokens.get("stripe_user_id", "")}
        connection.save(update_fields=["config"])
        expires_at = None
    actor = User.objects.filter(pk=user_id).first()
    connection_credentials_set(connection=connection, credentials=credentials, token_expires_at=expires_at, actor=actor)
    if connection.status == Connection.Status.ERROR:
        connection_status_set(
            connection=connection, status=Connection.Status.ACTIVE, message="Reconnected.", actor=actor
        )
    exception_resolve_for_object(obj=connection, reason="Reconnected")
    return connection


def token_refresh(*, connection: Connection) -> Connection:
    """Refresh a Square token (the only vendor here whose tokens expire)."""
    client_id, secret = _app(connection.vendor)
    refresh = connection.credentials.get("refresh_token")
    if not refresh:
        raise OAuthError("There is no refresh token; reconnect.")
    tokens = _square_token(connection, client_id=client_id, secret=secret, grant_type="refresh_token", grant=refresh)
    return connection_credentials_set(
        connection=connection,
        credentials={"access_token": tokens["access_token"], "refresh_token": tokens.get("refresh_token", refresh)},
        token_expires_at=dt.datetime.fromisoformat(tokens["expires_at"].replace("Z", "+00:00")),
        audit=False,
    )


def tokens_refresh_due(*, now: dt.datetime | None = None) -> int:
    """Refresh tokens expiring within a day (the per-minute job). Returns how many were refreshed."""
    horizon = (now or timezone.now()) + REFRESH_AHEAD
    refreshed = 0
    due = Connection.objects.filter(
        vendor=Connection.Vendor.SQUARE, token_expires_at__lte=horizon, status=Connection.Status.ACTIVE
    )
    for connection in due:
        try:
            with transaction.atomic():
                token_refresh(connection=connection)
            refreshed += 1
        except (ConnectorError, OAuthError, KeyError, ValidationError) as error:
            message = getattr(error, "message", None) or str(error)
            with transaction.atomic():
                connection_status_set(connection=connection, status=Connection.Status.ERROR, message=message)
                exception_raise(
                    kind="sync",
                    cause="auth",
                    obj=connection,
                    title=f"{connection.name}: the access token could not be refreshed; reconnect",
                    detail=message,
                    context={"token_expires_at": connection.token_expires_at.isoformat()},
                    tags=("connectors", "auth"),
                )
    return refreshed
