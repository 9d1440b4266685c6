"""docs/api-example.py runs end to end against the app in process (httpx's WSGI transport)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import httpx
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django_tenants.utils import tenant_context

from connectors.models import Connection
from tenants.models import Tenant
from triage.services import exception_raise

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "api-example.py"


def test_partner_script_creates_a_tenant_and_reads_it(world, make_key, monkeypatch, capsys):
    spec = importlib.util.spec_from_file_location("api_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    app = get_wsgi_application()
    real_client = httpx.Client
    monkeypatch.setattr(module.httpx, "Client", lambda **kw: real_client(transport=httpx.WSGITransport(app=app), **kw))
    monkeypatch.setenv("TILLBRIDGE_URL", "http://northwind.localhost")
    monkeypatch.setenv("TILLBRIDGE_KEY", make_key(scopes=["read", "write"]))
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        module.main("juniper")
        with tenant_context(Tenant.objects.get(slug="juniper")):
            exception_raise(kind="sync", cause="auth_failed", title="Shopify refused the token", severity="high")
        module.main("juniper")  # the retry replays instead of creating a second tenant or connection
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "tenant juniper at juniper.northwind.localhost: active"
    assert out[1].startswith("calling juniper as tb_live_") and out[1].endswith("with scopes ['read', 'write']")
    assert out[2].startswith("connected source juniper web shop (id ")
    assert "/hooks/shopify/" in out[2] or "webhooks go to http" in out[2]
    assert out[3] == "0 open exception(s) in juniper"
    assert out[4] == "tenant juniper at juniper.northwind.localhost: active (replayed)"
    assert out[6] == out[2]  # the connection call replayed: same id
    assert out[7:] == ["- [high] sync: Shopify refused the token", "1 open exception(s) in juniper"]
    assert Tenant.objects.filter(slug="juniper").count() == 1
    with tenant_context(Tenant.objects.get(slug="juniper")):
        assert Connection.objects.count() == 1
