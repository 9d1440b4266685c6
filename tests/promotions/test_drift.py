"""The drift check: live offers read back against their approved version (promotions/drift.py)."""

import datetime as dt
from decimal import Decimal

from django.utils import timezone
from django_tenants.utils import tenant_context

from promotions import drift, selectors
from promotions.models import ChannelDeployment
from tests.promotions.conftest import promotion, published, sales_channels
from triage.models import Exception as TriageException
from triage.models import Occurrence
from triage.services import exception_retry_run

D = ChannelDeployment.State


def _live(world):
    shop, woo, _pos = sales_channels()
    promo = promotion(author=world.acme_admin, channels=[shop, woo], starts_at=timezone.now() - dt.timedelta(hours=1))
    return published(promo, author=world.acme_admin, approver=world.partner_admin)


def test_publishing_reads_back_the_offers_terms_and_a_channel_showing_others_fails(world, channels):
    with tenant_context(world.acme):
        channels["woocommerce"].offer_override = {"value": Decimal("15")}
        promo = _live(world)
        woo = promo.deployments.get(connection__vendor="woocommerce")
        shop = promo.deployments.get(connection__vendor="shopify")
        accuracy = selectors.activation_accuracy()
    assert (shop.state, shop.offer_matches, shop.offer_differences) == (D.ACKNOWLEDGED, True, [])
    assert (woo.state, woo.offer_matches) == (D.FAILED, False)
    assert woo.last_error == (
        "The channel shows version 1 but not its terms: amount: the channel shows 15, the approved version 10."
    )
    assert (accuracy.checked, accuracy.matching, accuracy.share) == (2, 1, 0.5)


def test_a_live_offer_edited_on_the_channel_raises_one_exception_per_deployment(world, channels):
    with tenant_context(world.acme):
        promo = _live(world)
        later = timezone.now() + dt.timedelta(minutes=61)
        assert drift.offers_drift_check(now=later) == {"checked": 2, "drifted": 0, "unreadable": 0}
        assert drift.offers_drift_check(now=later) == {"checked": 0, "drifted": 0, "unreadable": 0}  # not due
        channels["shopify"].offer_override = {"ends_at": None}
        for hours in (2, 4):
            drift.offers_drift_check(now=later + dt.timedelta(hours=hours))
        problem = TriageException.objects.get()
        [occurrence] = Occurrence.objects.filter(exception=problem)
        shop = promo.deployments.get(connection__vendor="shopify")
        accuracy = selectors.activation_accuracy()
    assert (problem.cause, problem.severity, problem.retry_name) == ("offer_drift", "high", drift.DRIFT_RETRY_ACTION)
    assert (occurrence.object_id, occurrence.count) == (str(shop.pk), 2)
    assert problem.detail.startswith("ends at: the channel shows none, the approved version ")
    assert (shop.state, shop.offer_matches) == (D.ACKNOWLEDGED, False)
    assert (accuracy.checked, accuracy.matching) == (2, 1)


def test_the_retry_publishes_again_and_resolves_once_the_channel_shows_the_approved_offer(world, channels):
    with tenant_context(world.acme):
        promo = _live(world)
        shop = promo.deployments.get(connection__vendor="shopify")
        channels["shopify"].objects.pop(shop.external_id)  # deleted in the channel's admin
        drift.offers_drift_check(now=timezone.now() + dt.timedelta(minutes=61))
        problem = TriageException.objects.get()
        assert problem.detail == "the channel holds nothing instead of version 1"
        exception_retry_run(exception_id=problem.pk)
        problem.refresh_from_db()
        shop.refresh_from_db()
    assert problem.status == "resolved"
    assert (shop.state, shop.offer_matches, channels["shopify"].calls[-1][0]) == (D.ACKNOWLEDGED, True, "publish")


def test_an_unreadable_channel_is_left_for_the_next_run(world, channels):
    with tenant_context(world.acme):
        _live(world)
        channels["shopify"].read_back = lambda connection, external_id: (_ for _ in ()).throw(TimeoutError("slow"))
        counts = drift.offers_drift_check(now=timezone.now() + dt.timedelta(minutes=61))
        raised = TriageException.objects.exists()
    assert counts == {"checked": 1, "drifted": 0, "unreadable": 1}
    assert raised is False
