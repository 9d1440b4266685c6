"""OAuth grants of the ERPs stay alive: access tokens refreshed before the call, idle refresh tokens
renewed by the keepalive job before they lapse, and a reconnect exception while the grant still
works when it cannot be renewed. The token endpoints are faked with respx."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs

import respx
from django.core.cache import cache
from django.utils import timezone
from django_tenants.utils import tenant_context

from connectors.models import Connection
from posting.erp import tokens
from posting.erp.quickbooks import QuickBooksAdapter
from tests.posting.erp.conftest import exchanges
from tests.posting.erp.factories import erp_connection
from triage.models import Exception as TriageException

QB = exchanges("quickbooks")
XERO = exchanges("xero")
QB_TOKEN = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"
QB_BASE = "https://sandbox-quickbooks.api.intuit.com/v3/company/9130357"
XERO_TOKEN = "https://identity.xero.com/connect/token"


def _xero(*, lapses: dt.datetime | None, status: str = "active") -> Connection:
    connection = erp_connection(
        vendor="xero",
        config={"client_id": "xero-client", "tenant_id": "t-1"},
        credentials={"access_token": "xero-old-access", "refresh_token": "xero-old-refresh"},
    )
    Connection.objects.filter(pk=connection.pk).update(
        refresh_token_expires_at=lapses, token_expires_at=timezone.now() - dt.timedelta(days=3), status=status
    )
    connection.refresh_from_db()
    return connection


def _quickbooks(*, lapses: dt.datetime | None) -> Connection:
    connection = erp_connection(
        vendor="quickbooks",
        config={"client_id": "client-1", "realm_id": "9130357", "environment": "sandbox"},
        credentials={"access_token": "qb-old-access", "refresh_token": "qb-old-refresh", "client_secret": "secret-1"},
    )
    Connection.objects.filter(pk=connection.pk).update(refresh_token_expires_at=lapses)
    connection.refresh_from_db()
    return connection


def _forget_attempts(*connections: Connection) -> None:
    from django.db import connection as db

    for item in connections:
        cache.delete(f"erp:token-keepalive:{db.schema_name}:{item.pk}")


@respx.mock
def test_access_token_about_to_expire_is_refreshed_before_the_call_not_after_a_401(http):
    saved: list[dict] = []
    soon = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30)).isoformat()
    adapter = QuickBooksAdapter(
        config={"realm_id": "9130357", "environment": "sandbox", "client_id": "client-1"},
        credentials={
            "access_token": "old-access",
            "refresh_token": "old-refresh",
            "client_secret": "secret-1",
            "expires_at": soon,
        },
        http=http,
        on_credentials=saved.append,
    )
    token = respx.post(QB_TOKEN).respond(200, json=QB["refreshed"])
    query = respx.get(f"{QB_BASE}/query").respond(200, json=QB["found"])
    assert adapter.find("TB-41").external_id == "227"
    assert token.call_count == 1 and query.call_count == 1  # no 401 round trip
    assert query.calls[0].request.headers["Authorization"] == "Bearer eyJ-new-access"
    stored = saved[-1]
    lapses = dt.datetime.fromisoformat(stored["refresh_expires_at"]) - dt.datetime.now(dt.UTC)
    assert dt.timedelta(days=100) < lapses <= dt.timedelta(seconds=8726400)  # x_refresh_token_expires_in
    assert dt.datetime.fromisoformat(stored["expires_at"]) > dt.datetime.now(dt.UTC) + dt.timedelta(minutes=50)
    # A token with time left is used as it is.
    adapter.find("TB-41")
    assert token.call_count == 1


@respx.mock
def test_keepalive_renews_idle_refresh_tokens_within_the_margin_only(world):
    token = respx.post(XERO_TOKEN).respond(200, json=XERO["refreshed"])
    now = timezone.now()
    with tenant_context(world.acme):
        idle = _xero(lapses=now + dt.timedelta(days=10))
        fresh = _xero(lapses=now + dt.timedelta(days=40))
        unknown = _xero(lapses=None)
        _forget_attempts(idle, fresh, unknown)
        assert tokens.erp_tokens_keepalive() == 2
        assert token.call_count == 2
        sent = [parse_qs(call.request.content.decode()) for call in token.calls]
        assert all(form["grant_type"] == ["refresh_token"] for form in sent)
        idle.refresh_from_db()
        fresh.refresh_from_db()
        assert idle.credentials["refresh_token"] == "new-refresh"
        assert idle.credentials["access_token"] == "eyJ-new-access"
        assert dt.timedelta(days=59) < idle.refresh_token_expires_at - now <= dt.timedelta(days=60, minutes=1)
        assert idle.token_expires_at > now + dt.timedelta(minutes=25)
        assert fresh.credentials["refresh_token"] == "xero-old-refresh"  # 40 days left: left alone
        unknown.refresh_from_db()
        assert unknown.refresh_token_expires_at is not None
        # Renewed: the next run has nothing to do.
        _forget_attempts(idle, fresh, unknown)
        assert tokens.erp_tokens_keepalive() == 0
        assert not TriageException.objects.exists()
    assert "posting.erp_tokens_keepalive" in __import__("core.periodic").periodic.periodic_jobs()


@respx.mock
def test_refused_renewal_raises_a_reconnect_exception_before_the_token_dies(world):
    respx.post(XERO_TOKEN).respond(400, json={"error": "invalid_grant"})
    with tenant_context(world.acme):
        connection = _xero(lapses=timezone.now() + dt.timedelta(days=12))
        _forget_attempts(connection)
        assert tokens.erp_tokens_keepalive() == 0
        connection.refresh_from_db()
        assert connection.status == "error"
        assert "invalid_grant" in connection.last_message
        assert connection.refresh_token_expires_at > timezone.now()  # raised before the grant lapsed
        exception = TriageException.objects.get(cause="reconnect_required")
        assert (exception.kind, exception.severity) == ("erp_push", "high")
        assert exception.occurrences.get().object_id == str(connection.pk)
        assert "connect again" in exception.title


@respx.mock
def test_renewed_token_that_still_lapses_soon_asks_for_a_reconnect_while_it_works(world):
    respx.post(QB_TOKEN).respond(200, json={**QB["refreshed"], "x_refresh_token_expires_in": 5 * 86400})
    with tenant_context(world.acme):
        connection = _quickbooks(lapses=timezone.now() + dt.timedelta(days=6))
        _forget_attempts(connection)
        assert tokens.erp_tokens_keepalive() == 1
        connection.refresh_from_db()
        assert connection.status == "active"
        assert connection.refresh_token_expires_at < timezone.now() + dt.timedelta(days=5, minutes=1)
        exception = TriageException.objects.get(cause="reconnect_required")
        assert "cannot be renewed" in exception.title


@respx.mock
def test_unreachable_token_endpoint_waits_while_there_is_time_and_raises_near_the_lapse(world):
    token = respx.post(XERO_TOKEN).respond(503, text="busy")
    with tenant_context(world.acme):
        later = _xero(lapses=timezone.now() + dt.timedelta(days=10))
        soon = _xero(lapses=timezone.now() + dt.timedelta(days=2))
        _forget_attempts(later, soon)
        assert tokens.erp_tokens_keepalive() == 0
        calls = token.call_count
        assert calls >= 2
        exceptions = TriageException.objects.filter(cause="reconnect_required")
        assert [o.object_id for e in exceptions for o in e.occurrences.all()] == [str(soon.pk)]
        later.refresh_from_db()
        soon.refresh_from_db()
        assert (later.status, soon.status) == ("active", "active")
        # At most one attempt an hour per connection.
        assert tokens.erp_tokens_keepalive() == 0
        assert token.call_count == calls


def test_connection_pages_show_access_and_refresh_expiry(world, host_client):
    with tenant_context(world.acme):
        connection = _xero(lapses=dt.datetime(2027, 2, 1, 9, 30, tzinfo=dt.UTC))
        Connection.objects.filter(pk=connection.pk).update(token_expires_at=dt.datetime(2026, 12, 8, tzinfo=dt.UTC))
    client = host_client(world.host(world.acme), world.acme_admin)
    chart = client.get(f"/erp/connections/{connection.pk}/accounts/").content.decode()
    for page in (chart, client.get(f"/connections/{connection.pk}/").content.decode()):
        assert 'datetime="2027-02-01T09:30:00+00:00"' in page
        assert 'datetime="2026-12-08T00:00:00+00:00"' in page
    assert "2027-02-01" in client.get("/erp/").content.decode()
