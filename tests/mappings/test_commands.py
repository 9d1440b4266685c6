from django.core.management import call_command
from django_tenants.utils import tenant_context

from commerce.models import Order
from mappings.models import Account, MappingSet
from mappings.standard import STANDARD_ACCOUNTS
from portal.demo.seed import demo_seed
from posting.models import JournalEntry, Reconciliation
from tenants.models import Tenant


def test_tenant_create_with_the_standard_chart(world):
    call_command("tenant_create", partner="northwind", slug="harbour", name="Harbour Goods", coa="standard")
    with tenant_context(Tenant.objects.get(slug="harbour")):
        assert Account.objects.count() == len(STANDARD_ACCOUNTS)
        assert MappingSet.objects.filter(status="active").count() == 1


def test_tenant_create_without_a_chart_leaves_it_empty(world):
    call_command("tenant_create", partner="northwind", slug="harbour", name="Harbour Goods")
    with tenant_context(Tenant.objects.get(slug="harbour")):
        assert Account.objects.count() == 0


def test_demo_seed_applies_the_standard_chart_once(world):
    demo_seed()
    demo_seed()
    with tenant_context(Tenant.objects.get(slug="acme")):
        assert Account.objects.count() == len(STANDARD_ACCOUNTS)
        assert MappingSet.objects.count() == 1
    for slug, currency in (("acme", "USD"), ("bluebird", "GBP")):
        with tenant_context(Tenant.objects.get(slug=slug)):
            # a month of orders (two a day), their refunds and payouts, posted once despite two runs
            ledger_orders = Order.objects.filter(source="demo")
            orders = ledger_orders.count()
            assert orders in (56, 58, 60, 62)
            order_keys = [f"order:{pk}:v1" for pk in ledger_orders.values_list("pk", flat=True)]
            assert JournalEntry.objects.filter(source_key__in=order_keys).count() == orders
            assert set(JournalEntry.objects.values_list("currency", flat=True)) == {currency}
            assert set(Reconciliation.objects.values_list("status", flat=True)) == {"matched"}
