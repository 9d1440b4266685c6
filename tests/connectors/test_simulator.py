import random
from decimal import Decimal as D

from django_tenants.utils import tenant_context

from commerce.models import Order
from connectors.models import Connection, InboundEvent
from connectors.simulator import demo_traffic_ingest, shopify_order
from connectors.sync import sync_runs_start_due
from connectors.vendors.common import line_level_total
from connectors.vendors.shopify.normalise import order_normalise
from mappings.services import standard_chart_apply
from posting.models import JournalEntry
from posting.selectors import entry_balance


def test_simulated_orders_add_up_exactly():
    import datetime as dt

    rng = random.Random(5)
    for number in range(50):
        payload = shopify_order(number, rng=rng, at=dt.datetime(2026, 3, 2, tzinfo=dt.UTC))
        document = order_normalise(payload)
        assert line_level_total(document) == document.vendor_total == D(payload["total_price"])


def test_demo_traffic_posts_balanced_journals_once(world):
    with tenant_context(world.acme):
        standard_chart_apply()
        assert demo_traffic_ingest(orders=5, charges=2) == 7
        assert demo_traffic_ingest(orders=5, charges=2) == 0
        assert Order.objects.count() == 7
        assert set(InboundEvent.objects.values_list("status", flat=True)) == {"processed"}
        assert JournalEntry.objects.count() == 7
        assert all(entry_balance(entry=entry) == 0 for entry in JournalEntry.objects.all())
        assert Connection.objects.filter(config__simulated=True).count() == 2
        assert sync_runs_start_due() == []  # simulated connections are never polled
