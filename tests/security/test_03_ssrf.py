"""SSRF (issue 13): one outbound client that resolves each host once, refuses private, loopback,
link-local and reserved addresses, and connects to the address it checked; host parts from config
validated at save and at use; connection errors shown without their raw text; production settings
keep the guards on whatever DJANGO_DEBUG says."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django_tenants.utils import tenant_context

from connectors.models import Connection
from connectors.services import connection_create, connection_update
from core.http import netsafety
from core.http.client import UnsafeUrl, VendorClient, VendorUnavailable
from posting.erp.base import ErpError, ErrorKind
from posting.erp.connections import adapter_for
from tests.posting.erp.factories import erp_connection

BASE_DIR = Path(__file__).resolve().parents[2]
PROBE = "127.0.0.1:8443/probe#"
NETSUITE_CREDENTIALS = {
    "consumer_key": "ck-1",
    "consumer_secret": "cs-1",
    "token_id": "tk-1",
    "token_secret": "ts-1",
}


@pytest.fixture
def sockets(monkeypatch):
    """Every TCP connection the outbound client opens, recorded instead of made ("refused")."""
    opened: list[tuple[str, int]] = []

    def refuse(address, timeout=None, source_address=None, **kwargs):
        opened.append(address)
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(socket, "create_connection", refuse)
    return opened


def _resolver(monkeypatch, *answers: list[str]) -> list[str]:
    """Resolve every host to the next answer in turn (the last one repeats); returns the hosts asked."""
    asked: list[str] = []
    queue = list(answers)

    def resolve(host: str) -> list[str]:
        asked.append(host)
        return queue.pop(0) if len(queue) > 1 else queue[0]

    monkeypatch.setattr(netsafety, "resolve_host", resolve)
    return asked


def _netsuite_form(account_id: str) -> dict[str, str]:
    return {
        "vendor": "netsuite",
        "name": "Acme NetSuite",
        "account_id": account_id,
        "subsidiary_id": "1",
        **NETSUITE_CREDENTIALS,
    }


def test_netsuite_account_id_with_a_host_suffix_is_refused_at_save(world, host_client):
    client = host_client(world.host(world.acme), world.acme_admin)
    response = client.post("/erp/connections/new/", _netsuite_form(PROBE))
    assert response.status_code == 400
    assert response.context["form"].errors["account_id"] == [
        "A NetSuite account id has letters, digits, '_' and '-' only (e.g. 1234567_SB1)."
    ]
    with tenant_context(world.acme):
        assert not Connection.objects.filter(vendor="netsuite").exists()
        with pytest.raises(ValidationError) as error:
            connection_create(vendor="netsuite", direction="erp", name="N", config={"account_id": PROBE})
        assert set(error.value.message_dict) == {"account_id"}


def test_netsuite_account_id_saved_before_the_check_is_refused_at_use(world, host_client, sockets):
    with tenant_context(world.acme):
        connection = erp_connection(
            vendor="netsuite", config={"account_id": PROBE, "subsidiary_id": "1"}, credentials=NETSUITE_CREDENTIALS
        )
        with pytest.raises(ErpError) as error, adapter_for(connection) as adapter:
            adapter.fetch_chart()
        assert error.value.kind == ErrorKind.VALIDATION
        with pytest.raises(ValidationError):
            connection_update(connection=connection, config={"account_id": PROBE})
    client = host_client(world.host(world.acme), world.acme_admin)
    page = client.post(f"/erp/connections/{connection.pk}/accounts/", {"action": "fetch"}, follow=True)
    assert "could not be fetched: NetSuite: A NetSuite account id has letters" in page.content.decode()
    assert sockets == []


def test_a_vendor_host_resolving_to_loopback_is_refused(world, monkeypatch, sockets, settings):
    settings.CONNECTORS_ALLOW_PRIVATE_URLS = False
    asked = _resolver(monkeypatch, ["127.0.0.1"])
    with tenant_context(world.acme):
        connection = erp_connection(
            vendor="netsuite",
            config={"account_id": "1234567_SB1", "subsidiary_id": "1"},
            credentials=NETSUITE_CREDENTIALS,
        )
        with pytest.raises(ErpError) as error, adapter_for(connection) as adapter:
            adapter.fetch_chart()
    assert (error.value.kind, error.value.message) == (
        ErrorKind.VALIDATION,
        "NetSuite: The URL points at a private, loopback, link-local or reserved address.",
    )
    assert asked == ["1234567-sb1.suitetalk.api.netsuite.com"]
    assert sockets == []  # refused before any connection was opened


@pytest.mark.parametrize("address", ["10.0.0.7", "169.254.169.254", "::1", "224.0.0.1", "0.0.0.0", "::ffff:127.0.0.1"])  # noqa: S104
def test_every_non_public_address_kind_is_refused(monkeypatch, sockets, settings, address):
    settings.CONNECTORS_ALLOW_PRIVATE_URLS = False
    _resolver(monkeypatch, ["93.184.216.34", address])  # one bad address among good ones is enough
    with pytest.raises(UnsafeUrl):
        VendorClient(base_url="https://acme.myshopify.com/admin/api/2025-07", max_attempts=1).get("shop.json")
    assert sockets == []


def test_dns_rebinding_cannot_move_the_connection_after_the_check(monkeypatch, sockets, settings):
    """The resolver answers a public address first and loopback afterwards: the connection goes to
    the address that was checked, and the host is resolved only once."""
    settings.CONNECTORS_ALLOW_PRIVATE_URLS = False
    asked = _resolver(monkeypatch, ["93.184.216.34"], ["127.0.0.1"])
    client = VendorClient(base_url="https://rebind.example/api", max_attempts=1)
    with pytest.raises(VendorUnavailable):
        client.get("orders")
    assert asked == ["rebind.example"]
    assert sockets == [("93.184.216.34", 443)]
    transport = client._client._transport
    assert isinstance(transport, netsafety.GuardedTransport)
    assert transport.backend.pins == {"rebind.example": "93.184.216.34"}


def test_the_pinned_connection_sends_the_original_host_name(monkeypatch, settings):
    """A real request: the socket goes to the checked IP, the request still names the host."""
    settings.CONNECTORS_ALLOW_PRIVATE_URLS = True  # the test server listens on loopback
    seen: list[str] = []

    class Echo(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.headers["Host"])
            body = b'{"ok": true}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        asked = _resolver(monkeypatch, ["127.0.0.1"])
        base = f"http://shop.example:{server.server_port}"
        assert VendorClient(base_url=base).get("/x") == {"ok": True}
    finally:
        server.shutdown()
    assert seen == [f"shop.example:{server.server_port}"]
    assert asked == ["shop.example"]


def test_chart_fetch_flash_shows_no_connection_error_text(world, host_client, monkeypatch, sockets):
    _resolver(monkeypatch, ["93.184.216.34"])
    monkeypatch.setattr("core.http.client.sleep", lambda seconds: None)
    with tenant_context(world.acme):
        connection = erp_connection(
            vendor="netsuite",
            config={"account_id": "1234567_SB1", "subsidiary_id": "1"},
            credentials=NETSUITE_CREDENTIALS,
        )
    client = host_client(world.host(world.acme), world.acme_admin)
    page = client.post(f"/erp/connections/{connection.pk}/accounts/", {"action": "fetch"}, follow=True)
    text = page.content.decode()
    assert sockets and all(address == ("93.184.216.34", 443) for address in sockets)
    assert "could not connect to the vendor (trace id " in text
    for leak in ("refused", "Errno", "111", "ConnectError", "Connection"):
        assert leak not in text.split("could not be fetched", 1)[1].split("</div>", 1)[0]


def test_shopify_api_base_url_is_checked_by_the_same_guard(world, monkeypatch, settings, sockets):
    settings.CONNECTORS_ALLOW_PRIVATE_URLS = False
    config = {"shop_domain": "acme-outfitters.myshopify.com", "api_base_url": "http://169.254.169.254/latest"}
    with tenant_context(world.acme):
        with pytest.raises(ValidationError) as error:
            connection_create(vendor="shopify", name="Shop", config=config)
        assert "private, loopback, link-local or reserved" in str(error.value)
        settings.CONNECTOR_API_BASE_OVERRIDE = False
        with pytest.raises(ValidationError) as error:
            connection_create(vendor="shopify", name="Shop", config={**config, "api_base_url": "https://x.example"})
        assert "api_base_url is for local simulators" in str(error.value)
        with pytest.raises(ValidationError):
            connection_create(vendor="shopify", name="Shop", config={"shop_domain": "evil.example#.myshopify.com"})


def test_erp_and_store_base_urls_must_be_https(world, settings):
    settings.CONNECTORS_ALLOW_PRIVATE_URLS = False
    with tenant_context(world.acme):
        with pytest.raises(ValidationError) as error:
            connection_create(vendor="odoo", direction="erp", name="O", config={"base_url": "http://odoo.example"})
        assert error.value.message_dict == {"base_url": ["Use an https:// URL with a host name."]}
        with pytest.raises(ValidationError):
            connection_create(vendor="woocommerce", name="W", config={"store_url": "http://shop.example"})
        odoo = erp_connection(
            vendor="odoo",
            config={"base_url": "http://odoo.example", "database": "d", "username": "u"},
            credentials={"api_key": "k"},
        )
        with pytest.raises(ErpError) as used, adapter_for(odoo) as adapter:
            adapter.fetch_chart()
        assert used.value.message == "Odoo: Use an https:// URL with a host name."


def _prod_settings(**extra: str) -> subprocess.CompletedProcess:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "DJANGO_SETTINGS_MODULE": "portal.settings.prod",
        "DJANGO_DEBUG": "1",
        "DJANGO_SECRET_KEY": "x" * 64,
        "DATABASE_URL": "postgres://u:p@db.example:5432/tb",
        "REDIS_URL": "redis://redis.example:6379/0",
        "CONNECTOR_CREDENTIAL_KEYS": "Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmE=",
        "DJANGO_ALLOWED_HOSTS": "portal.example",
        **extra,
    }
    code = (
        "import json; from django.conf import settings as s; print(json.dumps([s.DEBUG, "
        "s.CONNECTORS_ALLOW_PRIVATE_URLS, s.WEBHOOKS_ALLOW_PRIVATE, s.CONNECTOR_API_BASE_OVERRIDE]))"
    )
    return subprocess.run(
        [sys.executable, "-c", code], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120
    )


def test_production_settings_keep_the_guards_on_with_django_debug_set():
    result = _prod_settings()
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [False, False, False, False]


def test_production_settings_refuse_the_test_only_override():
    result = _prod_settings(CONNECTORS_ALLOW_PRIVATE_URLS="true")
    assert result.returncode != 0
    assert "CONNECTORS_ALLOW_PRIVATE_URLS is for development and tests only" in result.stderr


def test_outbound_webhooks_go_through_the_guarded_client(world, monkeypatch, sockets, settings):
    from tenants import webhooks

    settings.WEBHOOKS_ALLOW_PRIVATE = False
    monkeypatch.setattr(webhooks, "_resolve", lambda host: ["93.184.216.34"])  # public when saved
    monkeypatch.setattr(webhooks, "_dispatch", lambda delivery_id, countdown=0: None)
    webhooks.webhook_subscription_create(
        partner=world.northwind, url="https://hooks.partner.example/h", events=["tenant.created"], actor=None
    )
    [delivery] = webhooks.webhook_event_emit(partner=world.northwind, event="tenant.created", payload={})
    _resolver(monkeypatch, ["169.254.169.254"])  # the name now points at the metadata service
    webhooks.webhook_delivery_attempt(delivery=delivery)
    assert delivery.last_error == "The URL points at a private, loopback, link-local or reserved address."
    assert sockets == []
    _resolver(monkeypatch, ["93.184.216.34"])
    webhooks.webhook_delivery_attempt(delivery=delivery)
    assert sockets == [("93.184.216.34", 443)]
    assert delivery.last_error.startswith("could not connect to the endpoint (trace id ")
    assert "refused" not in json.dumps(delivery.attempt_log).lower()
