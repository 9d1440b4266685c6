"""Malformed transport headers are the client's error, never a 500 or an undocumented status; a
vendor's webhook goes past the middlewares that exist only for people, nothing else does."""

import pytest
from django.db import connection
from django.http import HttpResponse
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context

from connectors.models import InboundEvent
from tests.connectors.factories import ConnectionFactory
from tests.connectors.helpers import fixture_bytes, shopify_headers


def test_a_content_length_that_is_not_a_number_is_400(world, make_key):
    key = make_key(scopes=["read"])
    client = Client(HTTP_HOST="northwind.localhost", HTTP_AUTHORIZATION=f"Bearer {key}")
    api = client.get("/api/v1/tenants/", CONTENT_LENGTH="12,5")
    assert api.status_code == 400
    assert api.json()["error"]["message"] == "Content-Length must be a whole number."
    page = client.get("/accounts/login/", CONTENT_LENGTH="-1")
    assert (page.status_code, page.content) == (400, b"Content-Length must be a whole number.")
    assert client.get("/api/v1/tenants/", CONTENT_LENGTH="0").status_code == 200


def test_an_accept_header_we_cannot_serve_gets_json(world, make_key):
    key = make_key(scopes=["read"])
    client = Client(HTTP_HOST="northwind.localhost", HTTP_AUTHORIZATION=f"Bearer {key}")
    for accept in ("Accept;", "text/csv", "image/png;q=1"):
        response = client.get("/api/v1/tenants/", HTTP_ACCEPT=accept)
        assert response.status_code == 200, accept
        assert response["Content-Type"] == "application/json"


# ---- the webhook bypass of the browser-only middlewares (portal.middleware.BrowserOnly) ----------


@pytest.fixture
def shop(world):
    with tenant_context(world.acme):
        return ConnectionFactory(secrets={"webhook_secret": "bypass-secret"})


def _hook(client: Client, shop, body: bytes, signed_with: str = "bypass-secret"):
    headers = shopify_headers(body, signed_with, "orders/create")
    return client.post(f"/hooks/shopify/{shop.pk}/", data=body, content_type="application/json", **headers)


def test_a_webhook_goes_past_session_user_and_membership(world, host_client, shop):
    """Even from a signed-in browser: no session, user or membership read, no cookie set; the
    signature is still what decides, before anything is stored."""
    client = host_client(world.host(world.acme), world.acme_admin)
    body = fixture_bytes("shopify", "orders_create.json")
    with CaptureQueriesContext(connection) as queries:
        response = _hook(client, shop, body)
    assert (response.status_code, response.json()["status"]) == (200, "stored")
    request = response.wsgi_request
    assert not hasattr(request, "session") and not hasattr(request, "user") and not hasattr(request, "_messages")
    assert not hasattr(request, "htmx") and not response.cookies
    # The ack's statements: the host, the connection, the duplicate check, the INSERT, the due mark
    # and the transaction's savepoint pair (the test's transaction is around it); the tenant's
    # status is the host routing's, not read again.
    statements = [query["sql"] for query in queries if not query["sql"].startswith("SET search_path")]
    assert len(statements) <= 7, statements
    assert not any("'suspended'" in sql for sql in statements)
    assert response["X-Request-ID"] and response["X-Frame-Options"]  # the other middlewares still run
    refused = _hook(client, shop, body.replace(b"5741329006917", b"5741329006918"), signed_with="wrong")
    assert refused.status_code == 401
    with tenant_context(world.acme):
        assert InboundEvent.objects.count() == 1


def test_every_other_path_still_runs_them(world, host_client):
    host = world.host(world.acme)
    signed_in = host_client(host, world.acme_admin)
    page = signed_in.get("/")
    assert page.status_code == 200
    request = page.wsgi_request
    assert request.user == world.acme_admin and request.session.session_key and request.membership_role
    assert host_client(host).get("/").status_code == 302  # membership: anonymous goes to sign in
    strict = Client(HTTP_HOST=host, enforce_csrf_checks=True)
    strict.force_login(world.acme_admin, backend="django.contrib.auth.backends.ModelBackend")
    assert strict.post("/accounts/logout/").status_code == 403  # CSRF


def test_a_wrapper_exposes_the_hooks_of_what_it_wraps_and_skips_them_on_webhooks():
    from portal.middleware import BrowserOnlySessionMiddleware, _browser_only

    # CSRF itself stays unwrapped in settings (check --deploy); it is the one with a process_view.
    csrf = _browser_only("django.middleware.csrf.CsrfViewMiddleware")(lambda request: HttpResponse())
    factory = RequestFactory()

    def view(request):  # not csrf_exempt
        return HttpResponse()

    assert csrf.process_view(factory.post("/hooks/shopify/1/"), view, (), {}) is None
    assert csrf.process_view(factory.post("/settings/"), view, (), {}).status_code == 403
    assert not hasattr(BrowserOnlySessionMiddleware(lambda request: HttpResponse()), "process_view")
