"""Demo returns (commerce/demo_returns.py): every status, a return waiting for its second approver,
restock by disposition, and a second run that changes nothing."""

from collections import Counter
from decimal import Decimal as D

from django_tenants.utils import tenant_context

from commerce.models import InventoryLevel, Return
from mappings.services import standard_chart_apply
from portal.demo.returns import returns_demo_seed
from posting.models import JournalEntry
from posting.selectors import entry_balance


def test_demo_returns_cover_every_status_and_are_idempotent(world):
    with tenant_context(world.acme):
        standard_chart_apply()
        assert returns_demo_seed(currency="USD", approver=world.acme_admin) == "9 returns in every status"
        statuses = Counter(Return.objects.values_list("status", flat=True))
        assert set(statuses) == set(Return.Status.values)
        waiting = Return.objects.get(order__external_id="DEMO-RMA-2")
        assert (waiting.status, len(waiting.approvals)) == ("requested", 1)
        assert InventoryLevel.objects.get(sku="HOOD-GRY", location__external_id="returns").on_hand == D("1.000")
        assert not InventoryLevel.objects.filter(sku="SOCK-3PK", location__external_id="returns").exists()
        assert all(entry_balance(entry=entry) == 0 for entry in JournalEntry.objects.all())
        assert returns_demo_seed(currency="USD", approver=world.acme_admin) == "returns already seeded"
        assert Return.objects.count() == 9
