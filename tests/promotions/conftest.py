"""Promotions test set-up: recording channels stand in for the real adapters, through the one
override registry in promotions.deployment."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from promotions import deployment, lifecycle
from tests.connectors.factories import ConnectionFactory
from tests.promotions.fakes import FakeChannel
from tests.tenants.conftest import api_client, make_key, throttle_reset  # noqa: F401 - shared fixtures


@pytest.fixture
def channels():
    fakes = {vendor: FakeChannel(vendor=vendor) for vendor in ("shopify", "woocommerce", "square")}
    fakes["square"].kinds = frozenset({"percent_off", "amount_off", "fixed_price"})
    deployment._OVERRIDES.update(fakes)
    yield fakes
    for vendor in fakes:
        deployment._OVERRIDES.pop(vendor, None)


def sales_channels():
    """Three sales channels (call inside tenant_context)."""
    return [
        ConnectionFactory(vendor="shopify", name="Web store"),
        ConnectionFactory(vendor="woocommerce", name="Outlet store", config={"base_url": "https://outlet.test"}),
        ConnectionFactory(vendor="square", name="Stores POS", config={"location_ids": ["L1"]}),
    ]


def promotion(*, key="spring-10", author, channels, **fields):
    now = timezone.now()
    values = {
        "kind": "percent_off",
        "value": Decimal("10"),
        "starts_at": now + dt.timedelta(days=1),
        "ends_at": now + dt.timedelta(days=8),
        "eligibility": {"skus": ["TEE-RED-M", "TEE-BLU-M"]},
        "pricing": {"TEE-RED-M": {"price": "20.00", "cost": "8.00"}, "TEE-BLU-M": {"price": "20.00", "cost": "8.00"}},
    }
    values.update(fields)
    return lifecycle.promotion_create(
        key=key, name=key.replace("-", " ").title(), channels=channels, actor=author, **values
    )


def approved(promo, *, author, approver):
    lifecycle.promotion_validate(promotion=promo, actor=author)
    lifecycle.promotion_submit(promotion=promo, actor=author)
    return lifecycle.promotion_approve(promotion=promo, actor=approver)


def send_all(deployments):
    return [deployment.deployment_send(deployment_id=d.pk) for d in deployments]


def published(promo, *, author, approver):
    approved(promo, author=author, approver=approver)
    deployments = deployment.promotion_publish(promotion=promo, actor=approver)
    send_all(deployments)
    promo.refresh_from_db()
    return promo
