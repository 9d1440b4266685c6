"""Inventory test helpers: a real ChannelAdapter subclass standing in for a sales channel, and the
debounce gate cleared around each test."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import connection
from django_tenants.utils import tenant_context

from commerce import inventory_sync
from connectors.vendors import channels as vendor_channels
from connectors.vendors.base import ChannelAdapter, ChannelRejected
from tests.tenants.conftest import api_client, make_key, throttle_reset  # noqa: F401


class RecordingChannel(ChannelAdapter):
    """Holds stock like a channel would: keeps what it was sent and shows it back. `reject` makes
    the next calls fail as the channel would; `shows` overrides what the channel reports holding."""

    features = frozenset({"inventory"})

    def __init__(self, vendor: str) -> None:
        self.vendor = vendor
        self.calls: list[dict[tuple[str, str], Decimal]] = []
        self.held: dict[tuple[str, str], Decimal] = {}
        self.reject: str | None = None
        self.shows: dict[tuple[str, str], Decimal] = {}

    def push_available(
        self, connection, levels: Mapping[tuple[str, str], Decimal]
    ) -> Mapping[tuple[str, str], Decimal]:
        self.calls.append(dict(levels))
        if self.reject:
            raise ChannelRejected(self.reject, detail={"keys": len(levels)})
        self.held.update(levels)
        return {key: self.shows.get(key, self.held[key]) for key in levels}


@pytest.fixture
def channels():
    doubles = {vendor: RecordingChannel(vendor) for vendor in ("shopify", "square", "woocommerce")}
    vendor_channels._OVERRIDES.update(doubles)
    yield doubles
    for vendor in doubles:
        vendor_channels._OVERRIDES.pop(vendor, None)


@pytest.fixture
def push_gate(world):
    """Clear the per-tenant debounce gate before and after a test."""
    for tenant in (world.acme, world.bluebird):
        with tenant_context(tenant):
            cache.delete(inventory_sync.PUSH_GATE_KEY)
    yield
    for tenant in (world.acme, world.bluebird):
        with tenant_context(tenant):
            cache.delete(inventory_sync.PUSH_GATE_KEY)


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """`with committed():` runs the block's on-commit callbacks as a real commit would, and then
    forgets them (the test transaction itself never commits)."""

    @contextmanager
    def commit() -> Iterator[None]:
        start = len(connection.run_on_commit)
        with django_capture_on_commit_callbacks(execute=True):
            yield
        del connection.run_on_commit[start:]

    return commit
