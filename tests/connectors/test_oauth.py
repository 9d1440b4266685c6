import datetime as dt
import hashlib
import hmac
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
import respx
from django.utils import timezone
from django_tenants.utils import tenant_context

from connectors import oauth
from connectors.models import Connection
from tests.connectors.factories import ConnectionFactory
from triage.models import Exception as TriageException

APPS = {
    "shopify": ("shop-client-id", "shop-app-secret"),
    "square": ("sq0idp-app", "sq0csp-secret"),
    "stripe": ("ca_123", "sk_platform"),
}


@pytest.fixture(autouse=True)
def oauth_apps(settings):
    settings.CONNECTOR_OAUTH_APPS = APPS


def _signed(query: dict, secret: str) -> dict:
    message = "&".join(f"{key}={value}" for key, value in sorted(query.items()))
    return {**query, "hmac": hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()}


def _state(url: str) -> str:
    return parse_qs(urlparse(url).query)["state"][0]


@respx.mock
def test_shopify_install_checks_state_and_callback_hmac_then_stores_the_token(world):
    respx.post("https://acme-outfitters.myshopify.com/admin/oauth/access_token").mock(
        return_value=httpx.Response(200, json={"access_token": "shpat_from_oauth", "scope": "read_orders"})
    )
    with tenant_context(world.acme):
        conn = ConnectionFactory(secrets={"credentials": {}})
        url = oauth.oauth_start(connection=conn, redirect_uri="http://acme/cb", user_id=world.acme_admin.pk)
        assert url.startswith("https://acme-outfitters.myshopify.com/admin/oauth/authorize?client_id=shop-client-id")
        state = _state(url)
        query = _signed(
            {"code": "c0de", "shop": "acme-outfitters.myshopify.com", "state": state, "timestamp": "1"},
            "shop-app-secret",
        )
        with pytest.raises(oauth.OAuthError, match="callback signature"):
            oauth.oauth_complete(state=state, code="c0de", user_id=world.acme_admin.pk, query={**query, "hmac": "00"})
        # the state was spent by the refused attempt: start again
        state = _state(oauth.oauth_start(connection=conn, redirect_uri="http://acme/cb", user_id=world.acme_admin.pk))
        query = _signed(
            {"code": "c0de", "shop": "acme-outfitters.myshopify.com", "state": state, "timestamp": "1"},
            "shop-app-secret",
        )
        oauth.oauth_complete(state=state, code="c0de", user_id=world.acme_admin.pk, query=query)
        assert Connection.objects.get(pk=conn.pk).credentials == {
            "access_token": "shpat_from_oauth",
            "scope": "read_orders",
        }
        with pytest.raises(oauth.OAuthError, match="expired or was not started here"):
            oauth.oauth_complete(state=state, code="c0de", user_id=world.acme_admin.pk, query=query)


def test_state_is_bound_to_the_person_and_the_tenant(world):
    with tenant_context(world.acme):
        conn = ConnectionFactory()
        state = _state(oauth.oauth_start(connection=conn, redirect_uri="http://x", user_id=world.acme_admin.pk))
        with pytest.raises(oauth.OAuthError):
            oauth.oauth_state_take(state=state, user_id=world.bluebird_admin.pk)
    with tenant_context(world.acme):
        state = _state(oauth.oauth_start(connection=conn, redirect_uri="http://x", user_id=world.acme_admin.pk))
    with tenant_context(world.bluebird), pytest.raises(oauth.OAuthError):
        oauth.oauth_state_take(state=state, user_id=world.acme_admin.pk)


@respx.mock
def test_square_oauth_then_refresh_before_expiry(world):
    token = respx.post("https://connect.squareup.com/oauth2/token").mock(
        side_effect=[
            httpx.Response(
                200,
                json={
                    "access_token": "EAAA-1",
                    "refresh_token": "r-1",
                    "expires_at": "2026-12-20T00:00:00Z",
                    "merchant_id": "M1",
                },
            ),
            httpx.Response(
                200, json={"access_token": "EAAA-2", "refresh_token": "r-2", "expires_at": "2027-01-20T00:00:00Z"}
            ),
        ]
    )
    with tenant_context(world.acme):
        conn = ConnectionFactory(vendor="square", config={"location_ids": ["L1"]}, secrets={"credentials": {}})
        state = _state(oauth.oauth_start(connection=conn, redirect_uri="http://x", user_id=world.acme_admin.pk))
        oauth.oauth_complete(state=state, code="sq-code", user_id=world.acme_admin.pk, query={})
        conn.refresh_from_db()
        assert conn.credentials == {"access_token": "EAAA-1", "refresh_token": "r-1", "merchant_id": "M1"}
        assert conn.token_expires_at == dt.datetime(2026, 12, 20, tzinfo=dt.UTC)
        assert oauth.tokens_refresh_due(now=dt.datetime(2026, 12, 1, tzinfo=dt.UTC)) == 0
        assert oauth.tokens_refresh_due(now=dt.datetime(2026, 12, 19, 12, tzinfo=dt.UTC)) == 1
        conn.refresh_from_db()
        assert conn.credentials["access_token"] == "EAAA-2"
    assert token.calls[1].request.content.count(b'"grant_type":"refresh_token"') == 1


@respx.mock
def test_a_failed_refresh_puts_the_connection_in_error_with_a_reconnect_exception(world):
    respx.post("https://connect.squareup.com/oauth2/token").mock(
        return_value=httpx.Response(401, json={"message": "revoked"})
    )
    with tenant_context(world.acme):
        conn = ConnectionFactory(
            vendor="square",
            config={"location_ids": ["L1"]},
            secrets={"credentials": {"access_token": "EAAA-old", "refresh_token": "r-old"}},
            token_expires_at=timezone.now() + dt.timedelta(hours=2),
        )
        assert oauth.tokens_refresh_due() == 0
        conn.refresh_from_db()
        assert conn.status == "error"
        exception = TriageException.objects.get(cause="auth")
        assert (exception.kind, exception.severity) == ("sync", "high")
        assert exception.occurrences.get().object_url == f"/connections/{conn.pk}/"


def test_connect_button_redirects_to_the_vendor(world, host_client):
    with tenant_context(world.acme):
        conn = ConnectionFactory()
    client = host_client(world.host(world.acme), world.acme_admin)
    assert "Connect with Shopify" in client.get(f"/connections/{conn.pk}/").content.decode()
    response = client.post(f"/connections/{conn.pk}/connect/")
    assert response.status_code == 302
    assert response["Location"].startswith("https://acme-outfitters.myshopify.com/admin/oauth/authorize?")
    assert (
        "redirect_uri=http%3A%2F%2Facme.northwind.localhost%2Fconnections%2Foauth%2Fcallback%2F" in response["Location"]
    )
    bad = client.get("/connections/oauth/callback/?state=forged&code=x", follow=True)
    assert "This connect link has expired or was not started here; start again." in bad.content.decode()
