from django_tenants.utils import tenant_context

from portal.demo.seed import demo_seed
from portal.demo.triage import PROBLEMS
from tenants.models import Tenant
from triage.models import Exception as TriageException
from triage.partner.models import TriageIndex


def test_seed_demo_adds_a_spread_of_exceptions_once_per_tenant(world):
    demo_seed()
    demo_seed()
    for slug in ("acme", "bluebird"):
        tenant = Tenant.objects.get(slug=slug)
        with tenant_context(tenant):
            # the demo's real partial deployment (portal/demo/promotions.py) and its fulfilment problems
            # (portal/demo/fulfilment.py: a backorder, a warehouse rejection) come on top of the spread
            real_causes = ("partial_deployment", "fulfilment_backorder", "fulfilment_rejected")
            real = TriageException.objects.filter(cause__in=real_causes).count()
            groups = {e.kind: (e.status, e.count) for e in TriageException.objects.exclude(cause__in=real_causes)}
            occurrences = TriageException.objects.get(kind="mapping").occurrences.count()
        assert groups == {
            "mapping": ("assigned", 6),
            "erp_push": ("open", 2),
            "sync": ("open", 1),
            "normalise": ("open", 1),
            "reconciliation": ("snoozed", 1),
            "webhook": ("resolved", 1),
            "promotion_deployment": ("open", 1),
            "inventory": ("open", 1),
        }
        assert occurrences == 6
        assert TriageIndex.objects.filter(tenant=tenant).count() == len(PROBLEMS) + real
