"""Helpers for the inbox tests: exceptions are raised through the one service, so the partner
index row exists exactly as in production."""

from __future__ import annotations

import pytest
from django.contrib.contenttypes.models import ContentType
from django_redis import get_redis_connection

from tests.tenants.conftest import api_client, make_key, throttle_reset  # noqa: F401 - shared fixtures
from triage import services


def probe(model: str) -> ContentType:
    """A content type standing in for a failing object (orders, payouts… in real use)."""
    return ContentType.objects.get_or_create(app_label="inbox_probe", model=model)[0]


def raise_exception(obj=None, *, cause="unmapped", kind="mapping", severity="normal", title=None, **kwargs):
    return services.exception_raise(
        kind=kind,
        cause=cause,
        obj=obj,
        title=title or f"{cause} on {obj}",
        detail="No account for revenue.",
        severity=severity,
        **kwargs,
    )


@pytest.fixture
def alert_keys_reset():
    client = get_redis_connection("default")
    for key in client.scan_iter("tb:alert:*"):
        client.delete(key)
    yield
    for key in client.scan_iter("tb:alert:*"):
        client.delete(key)
