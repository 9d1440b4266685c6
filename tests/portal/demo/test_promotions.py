from django_tenants.utils import tenant_context

from portal.demo.promotions import PROMOTIONS, promotions_demo_seed
from promotions import selectors
from promotions.models import Promotion
from triage.models import Exception as TriageException


def test_demo_leaves_a_promotion_in_every_status_once(world, channels):
    with tenant_context(world.acme):
        first = promotions_demo_seed(author=world.acme_admin, approver=world.partner_admin)
        again = promotions_demo_seed(author=world.acme_admin, approver=world.partner_admin)
        assert (first, again) == ("promotions: 11 created, 0 already there", "promotions: 0 created, 11 already there")
        assert sorted(Promotion.objects.values_list("status", flat=True)) == sorted(Promotion.Status.values)
        assert {p.key: p.status for p in Promotion.objects.all()} == {spec.key: spec.target for spec in PROMOTIONS}
        assert list(TriageException.objects.values_list("cause", flat=True)) == ["partial_deployment"]
        kpis = selectors.promotion_kpis()
        # 6 promotions x 3 channels reached the channels; 1 failure, 1 late (26 min) answer, 3 rollbacks
        assert (kpis.channels_targeted, kpis.pauses_by_stock_guard, kpis.rollbacks) == (18, 3, 3)
        assert kpis.acknowledged_on_time == 13
        # 15 deployments were answered (the published one's 3 still wait); one channel refused, the
        # other 14 answers show the approved terms.
        assert (kpis.offers_checked, kpis.offers_matching, kpis.activation_accuracy) == (14, 14, 1.0)


def test_demo_with_the_real_adapters_reaches_every_status_without_calling_a_channel(world):
    import respx

    with respx.mock(assert_all_mocked=True), tenant_context(world.acme):
        promotions_demo_seed(author=world.acme_admin, approver=world.partner_admin)
        assert sorted(Promotion.objects.values_list("status", flat=True)) == sorted(Promotion.Status.values)
