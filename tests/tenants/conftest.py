"""API helpers: make a key through the service, and call the API with it on a given host."""

from __future__ import annotations

import json
import time
from types import SimpleNamespace

import pytest
from django.test import Client
from django_redis import get_redis_connection

from tenants.api_keys import api_key_create


@pytest.fixture
def make_key(world):
    def make(*, scopes=("read",), partner=None, tenant=None, expires_at=None, name="test key") -> str:
        if partner is None and tenant is None:
            partner = world.northwind
        created = api_key_create(name=name, scopes=list(scopes), partner=partner, tenant=tenant, expires_at=expires_at)
        return created.raw_key

    return make


class ApiClient:
    """A Django test client speaking JSON with a bearer key on one host."""

    def __init__(self, host: str, key: str | None = None, **headers: str) -> None:
        extra = {"HTTP_HOST": host, **{f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}}
        if key is not None:
            extra["HTTP_AUTHORIZATION"] = f"Bearer {key}"
        self.client = Client(**extra)

    def get(self, path: str, **kwargs):
        return self.client.get(path, **kwargs)

    def delete(self, path: str, **kwargs):
        return self.client.delete(path, **kwargs)

    def post(self, path: str, data=None, **kwargs):
        return self.client.post(
            path, json.dumps(data if data is not None else {}), content_type="application/json", **kwargs
        )

    def put(self, path: str, data=None, **kwargs):
        return self.client.put(path, json.dumps(data or {}), content_type="application/json", **kwargs)

    def patch(self, path: str, data=None, **kwargs):
        return self.client.patch(path, json.dumps(data or {}), content_type="application/json", **kwargs)


@pytest.fixture
def api_client():
    return ApiClient


@pytest.fixture
def throttle_reset(monkeypatch):
    """Forget this test Redis database's throttle windows (tests share them within a minute), and
    hold the throttle's clock in the middle of one window: calls a test counts never straddle the
    edge of a fixed one-minute window (a third call landing in the next window was allowed)."""
    middle = (int(time.time()) // 60) * 60 + 30.0
    monkeypatch.setattr("core.api.auth.time", SimpleNamespace(time=lambda: middle))
    client = get_redis_connection("default")
    for key in client.scan_iter("tb:throttle:*"):
        client.delete(key)
    yield
    for key in client.scan_iter("tb:throttle:*"):
        client.delete(key)
