from decimal import Decimal

import pytest
import respx
from django.core.exceptions import ValidationError
from django_tenants.utils import tenant_context

from promotions import deployment, lifecycle, selectors
from promotions.models import ChannelDeployment, Promotion
from tests.connectors.factories import ConnectionFactory
from tests.connectors.vendors.shopify.test_automatic import FakeAutomaticShop
from tests.promotions.conftest import approved, promotion, published, sales_channels
from tests.promotions.test_api import SessionApi
from triage.models import Exception as TriageException

S = Promotion.Status
D = ChannelDeployment.State


def test_publish_dispatches_one_task_per_deployment_after_commit(
    world, channels, django_capture_on_commit_callbacks, monkeypatch
):
    from promotions import tasks

    sent = []
    monkeypatch.setattr(tasks.deployment_send_task, "delay", lambda deployment_id: sent.append(deployment_id))
    with tenant_context(world.acme):
        promo = promotion(author=world.acme_admin, channels=sales_channels())
        lifecycle.promotion_edit(promotion=promo, actor=world.acme_admin, channels=sales_channels()[:2])
        approved(promo, author=world.acme_admin, approver=world.partner_admin)
        with django_capture_on_commit_callbacks() as callbacks:
            deployments = deployment.promotion_publish(promotion=promo, actor=world.partner_admin)
            assert sent == []
        for callback in callbacks:
            callback()
        assert sent == [d.pk for d in deployments]


def test_partial_deployment_raises_one_exception_and_rollback_restores_every_channel(world, channels):
    with tenant_context(world.acme):
        shop, woo, pos = sales_channels()
        promo = promotion(author=world.acme_admin, channels=[shop, woo, pos])
        channels["woocommerce"].refuse = "coupon code already exists"
        promo = published(promo, author=world.acme_admin, approver=world.partner_admin)
        assert promo.status == S.PARTIALLY_LIVE
        exception = TriageException.objects.get()
        assert (exception.kind, exception.cause, exception.count, exception.retry_name) == (
            "promotion_deployment",
            "partial_deployment",
            1,
            "promotions.deployment_retry",
        )
        assert [(c["channel"], c["state"]) for c in exception.context["channels"]] == [
            ("Web store", "acknowledged"),
            ("Outlet store", "failed"),
            ("Stores POS", "acknowledged"),
        ]
        assert exception.detail == "Outlet store: coupon code already exists"
        assert set(exception.context["actions"]) == {"retry", "rollback"}

        deployment.promotion_rollback(promotion=promo, actor=world.partner_admin)
        promo.refresh_from_db()
        assert promo.status == S.ROLLED_BACK
        assert (channels["shopify"].objects, channels["square"].objects, channels["woocommerce"].objects) == (
            {},
            {},
            {},
        )
        assert list(promo.deployments.values_list("state", flat=True)) == [D.ROLLED_BACK] * 3
        exception.refresh_from_db()
        assert exception.status == "resolved"


def test_retry_action_resends_only_the_failed_channel_and_resolves(world, channels):
    from triage.services import exception_retry_run

    with tenant_context(world.acme):
        promo = promotion(author=world.acme_admin, channels=sales_channels()[:2])
        channels["woocommerce"].refuse = "rate limited"
        promo = published(promo, author=world.acme_admin, approver=world.partner_admin)
        exception = TriageException.objects.get()
        assert exception_retry_run(exception_id=exception.pk) == {"succeeded": 0, "failed": 1}
        channels["woocommerce"].refuse = ""
        assert exception_retry_run(exception_id=exception.pk) == {"succeeded": 1, "failed": 0}
        promo.refresh_from_db()
        exception.refresh_from_db()
        assert (promo.status, exception.status) == (S.LIVE, "resolved")
        assert [c[0] for c in channels["shopify"].calls] == ["publish"]
        assert [c[0] for c in channels["woocommerce"].calls] == ["publish", "publish", "publish"]


def test_every_channel_failing_is_a_deployment_failed_exception(world, channels):
    with tenant_context(world.acme):
        channels["shopify"].refuse = "price rule invalid"
        promo = published(
            promotion(author=world.acme_admin, channels=sales_channels()[:1]),
            author=world.acme_admin,
            approver=world.partner_admin,
        )
        assert promo.status == S.PUBLISHED
        assert TriageException.objects.get().cause == "deployment_failed"


def test_a_channel_reporting_another_version_is_not_acknowledged(world, channels):
    with tenant_context(world.acme):
        channels["shopify"].report_version = 7
        promo = published(
            promotion(author=world.acme_admin, channels=sales_channels()[:1]),
            author=world.acme_admin,
            approver=world.partner_admin,
        )
        row = promo.deployments.get()
        assert (row.state, row.acknowledged_version, row.last_error) == (
            D.FAILED,
            7,
            "The channel reports version 7 (active) after publishing version 1.",
        )


def _live_v2_with_stale_square(world, channels):
    shop, woo, pos = sales_channels()
    promo = published(
        promotion(author=world.acme_admin, channels=[shop, woo, pos]),
        author=world.acme_admin,
        approver=world.partner_admin,
    )
    lifecycle.promotion_edit(promotion=promo, actor=world.acme_admin, value=Decimal("20"))
    promo.refresh_from_db()
    assert promo.status == S.LIVE  # still live on version 1 while version 2 is reviewed
    channels["square"].refuse = "pricing rule locked"
    return published(promo, author=world.acme_admin, approver=world.partner_admin), (shop, woo, pos)


def test_version_alignment_flags_the_channel_left_on_an_older_version(world, channels):
    with tenant_context(world.acme):
        promo, _ = _live_v2_with_stale_square(world, channels)
        assert promo.status == S.PARTIALLY_LIVE
        alignment = selectors.version_alignment(promotion=promo)
        assert [
            (a.connection_name, a.state, a.acknowledged_version, a.published_version, a.stale) for a in alignment
        ] == [
            ("Web store", D.ACKNOWLEDGED, 2, 2, False),
            ("Outlet store", D.ACKNOWLEDGED, 2, 2, False),
            ("Stores POS", D.FAILED, 1, 2, True),
        ]
        assert [obj.version for obj in channels["square"].objects.values()] == [1]


def test_rollback_of_a_later_version_republishes_the_previous_one_per_channel(world, channels):
    with tenant_context(world.acme):
        promo, (shop, _woo, _pos) = _live_v2_with_stale_square(world, channels)
        deployment.promotion_rollback(promotion=promo, actor=world.partner_admin, connection_ids=[shop.pk])
        promo.refresh_from_db()
        assert [obj.version for obj in channels["shopify"].objects.values()] == [1]
        assert [obj.version for obj in channels["woocommerce"].objects.values()] == [2]
        assert [
            (a.connection_name, a.target_version, a.acknowledged_version, a.stale)
            for a in selectors.version_alignment(promotion=promo)
        ] == [
            ("Web store", 1, 1, True),
            ("Outlet store", 2, 2, False),
            ("Stores POS", 2, 1, True),
        ]
        deployment.promotion_rollback(promotion=promo, actor=world.partner_admin)
        promo.refresh_from_db()
        assert (promo.status, promo.published_version.number) == (S.LIVE, 1)
        assert [
            (a.target_version, a.acknowledged_version, a.stale) for a in selectors.version_alignment(promotion=promo)
        ] == [
            (1, 1, False),
            (1, 1, False),
            (1, 1, False),
        ]
        assert [obj.version for fake in channels.values() for obj in fake.objects.values()] == [1, 1, 1]
        assert TriageException.objects.get().status == "resolved"


def test_rollback_of_an_unknown_channel_is_refused(world, channels):
    with tenant_context(world.acme):
        promo = published(
            promotion(author=world.acme_admin, channels=sales_channels()[:1]),
            author=world.acme_admin,
            approver=world.partner_admin,
        )
        with pytest.raises(ValidationError, match="not deployed to channel"):
            deployment.promotion_rollback(promotion=promo, actor=world.partner_admin, connection_ids=[999999])


def test_pause_and_resume_per_channel(world, channels):
    with tenant_context(world.acme):
        shop, woo, _ = sales_channels()
        promo = published(
            promotion(author=world.acme_admin, channels=[shop, woo]),
            author=world.acme_admin,
            approver=world.partner_admin,
        )
        paused = deployment.promotion_pause(
            promotion=promo, actor=None, actor_label="stock-guard", connection_ids=[woo.pk], reason="stock_guard"
        )
        assert [(d.connection_id, d.state, d.pause_reason) for d in paused] == [(woo.pk, D.PAUSED, "stock_guard")]
        promo.refresh_from_db()
        assert promo.status == S.PARTIALLY_LIVE
        assert deployment.promotion_pause(promotion=promo, connection_ids=[woo.pk], actor=world.acme_admin) == []
        deployment.promotion_pause(promotion=promo, actor=world.acme_admin)
        promo.refresh_from_db()
        assert promo.status == S.PAUSED
        assert [o.state for o in channels["shopify"].objects.values()] == ["paused"]
        deployment.promotion_resume(promotion=promo, actor=world.acme_admin)
        promo.refresh_from_db()
        assert promo.status == S.LIVE
        assert selectors.promotion_kpis().pauses_by_stock_guard == 0  # resume clears the reason


def test_a_channel_refusing_to_pause_raises_an_exception_and_stays_live(world, channels):
    with tenant_context(world.acme):
        promo = published(
            promotion(author=world.acme_admin, channels=sales_channels()[:2]),
            author=world.acme_admin,
            approver=world.partner_admin,
        )
        channels["woocommerce"].refuse = "cannot disable coupon"
        deployment.promotion_pause(promotion=promo, actor=world.acme_admin)
        promo.refresh_from_db()
        assert promo.status == S.PARTIALLY_LIVE
        exception = TriageException.objects.get()
        assert (exception.cause, exception.detail) == ("pause_failed", "Outlet store: cannot disable coupon")
        assert promo.deployments.get(connection__vendor="woocommerce").state == D.ACKNOWLEDGED


def test_kpis_count_on_time_activation_rollbacks_and_stock_pauses(world, channels):
    with tenant_context(world.acme):
        shop, woo, pos = sales_channels()
        promo = promotion(author=world.acme_admin, channels=[shop, woo, pos])
        channels["square"].refuse = "down"
        promo = published(promo, author=world.acme_admin, approver=world.partner_admin)
        deployment.promotion_pause(promotion=promo, connection_ids=[woo.pk], reason="stock_guard")
        deployment.promotion_rollback(promotion=promo, connection_ids=[pos.pk])
        kpis = selectors.promotion_kpis()
        assert (kpis.channels_targeted, kpis.acknowledged_on_time, kpis.pauses_by_stock_guard, kpis.rollbacks) == (
            3,
            2,
            1,
            1,
        )
        # Accuracy is the read-back's terms, not speed: both channels that answered show version 1's terms.
        assert (kpis.offers_checked, kpis.offers_matching, kpis.activation_accuracy) == (2, 2, 1.0)
        assert set(kpis.approval_to_live_median_minutes) == {"shopify", "woocommerce"}


def test_a_codeless_promotion_goes_to_shopify_as_an_automatic_discount_through_the_api(world, throttle_reset):
    """The real Shopify adapter against the GraphQL fake: publish, pause, resume and roll back a
    promotion without coupon codes over the API; each step is the automatic discount's mutation."""
    with tenant_context(world.acme):
        shop_connection = ConnectionFactory(vendor="shopify", name="Web store")
    author = SessionApi(world.host(world.acme), world.acme_admin)
    approver = SessionApi(world.host(world.acme), world.partner_admin)
    body = {
        "key": "boots-auto",
        "name": "Boots auto",
        "kind": "percent_off",
        "value": "15",
        "starts_at": "2030-04-01T09:00:00",
        "ends_at": "2030-04-15T23:59:00",
        "channels": [shop_connection.pk],
        "eligibility": {"skus": ["BOOT-BLK-42"]},
        "pricing": {"BOOT-BLK-42": {"price": "120.00", "cost": "50.00"}},
    }
    with respx.mock(assert_all_called=False) as router:
        shop = FakeAutomaticShop(router)
        promo = author.post("/api/v1/promotions/", body).json()
        base = f"/api/v1/promotions/{promo['id']}"
        author.post(f"{base}/validate/")
        author.post(f"{base}/submit/")
        approver.post(f"{base}/approve/")
        published = approver.post(f"{base}/publish/").json()
        with tenant_context(world.acme):
            deployment.deployment_send(deployment_id=published["deployments"][0]["id"])
            row = ChannelDeployment.objects.get()
            assert (row.state, row.external_id, row.offer_matches) == (
                D.ACKNOWLEDGED,
                "gid://shopify/DiscountAutomaticNode/1057371720",
                True,
            )
        assert approver.post(f"{base}/pause/").status_code == 200
        assert approver.post(f"{base}/resume/").status_code == 200
        assert approver.post(f"{base}/rollback/").status_code == 200

    names = [name for name, _variables in shop.mutations]
    assert names == [
        "discountAutomaticBasicCreate",
        "discountAutomaticBasicUpdate",
        "discountAutomaticDeactivate",
        "discountAutomaticActivate",
        "discountAutomaticBasicUpdate",
        "discountAutomaticDelete",
    ]
    assert (shop.rules, shop.discounts) == ({}, {})
    with tenant_context(world.acme):
        assert Promotion.objects.get().status == S.ROLLED_BACK


def test_send_of_a_deployment_that_is_gone_does_nothing(world):
    with tenant_context(world.acme):
        assert deployment.deployment_send(deployment_id=999999) is None


def test_record_of_a_deployment_that_is_gone_raises(world):
    with tenant_context(world.acme), pytest.raises(ChannelDeployment.DoesNotExist):
        deployment.deployment_record(deployment_id=999999, ack=None, error="gone")
