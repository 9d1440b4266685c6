"""Staged launches and the fallback policy (issue 20): waves sent after the hold only when the previous
wave is acknowledged and stock is above the threshold; a failure or low stock halts; a channel that
fails mid-publish triggers the version's fallback (keep others, pause all, roll back all)."""

import datetime as dt
import itertools
from decimal import Decimal as D

from django.utils import timezone
from django_tenants.utils import tenant_context

from commerce.documents import CanonicalInventoryLevel
from commerce.inventory import channel_location_set, inventory_level_upsert
from promotions import deployment, launch, lifecycle
from promotions.models import ChannelDeployment, Promotion, PromotionPolicy
from promotions.stock_guard import promotions_stock_guard
from tenants.models import AuditEvent
from tests.promotions.conftest import approved, promotion, published, sales_channels, send_all
from triage.models import Exception as TriageException

S = Promotion.Status
D_ = ChannelDeployment.State


_VERSIONS = itertools.count(1)


def _stock(location: str, on_hand: int, channel) -> None:
    level = inventory_level_upsert(
        source="csv",
        connection_id=None,
        document=CanonicalInventoryLevel(
            location_external_id=location, sku="TEE-RED-M", on_hand=D(on_hand), source_version=next(_VERSIONS)
        ),
    ).obj
    channel_location_set(channel_connection=channel, location=level.location, channel_location_id=f"{location}-ID")


def _states(promo) -> list[tuple[str, str, int]]:
    rows = promo.deployments.order_by("connection__name")
    return [(row.connection.name, row.state, row.wave) for row in rows]


def _staged(world, *, shop, woo, pos, **fields):
    """Web store first, then the outlet and the POS, one hour apart."""
    promo = promotion(
        author=world.acme_admin,
        channels=[shop, woo, pos],
        eligibility={"skus": ["TEE-RED-M"]},
        pricing={"TEE-RED-M": {"price": "20", "cost": "8"}},
        waves=[[shop.pk], [woo.pk, pos.pk]],
        wave_hold_minutes=60,
        **fields,
    )
    approved(promo, author=world.acme_admin, approver=world.partner_admin)
    send_all(deployment.promotion_publish(promotion=promo, actor=world.partner_admin))
    promo.refresh_from_db()
    return promo


def test_a_staged_launch_sends_the_next_wave_after_the_hold(world, channels, django_capture_on_commit_callbacks):
    with tenant_context(world.acme):
        shop, woo, pos = sales_channels()
        promo = _staged(world, shop=shop, woo=woo, pos=pos)
        assert (promo.status, promo.launch_state, promo.launch_wave) == (S.LIVE, "running", 0)
        assert _states(promo) == [
            ("Outlet store", "waiting", 1),
            ("Stores POS", "waiting", 1),
            ("Web store", "acknowledged", 0),
        ]
        assert (channels["woocommerce"].calls, channels["square"].calls) == ([], [])
        assert launch.promotions_launch_advance() == {"spring-10": "holding"}
        later = timezone.now() + dt.timedelta(minutes=61)
        with django_capture_on_commit_callbacks() as callbacks:
            assert launch.promotions_launch_advance(now=later) == {"spring-10": "sent"}
        assert len(callbacks) == 2  # one send task per channel of wave 2, after commit
        send_all(promo.deployments.filter(wave=1))
        promo.refresh_from_db()
        assert (promo.status, promo.launch_state, promo.launch_wave) == (S.LIVE, "done", 1)
        assert [row[1] for row in _states(promo)] == ["acknowledged"] * 3
        wave = AuditEvent.objects.get(action="promotion.launch_wave")
        assert wave.changes == {"wave": 2, "channels": [woo.pk, pos.pk]}


def test_a_staged_launch_is_halted_by_low_stock_and_continued_by_a_person(world, channels):
    with tenant_context(world.acme):
        shop, woo, pos = sales_channels()
        _stock("WEB-WH", 20, shop)
        _stock("OUTLET", 3, woo)  # below the threshold of 5
        promo = _staged(world, shop=shop, woo=woo, pos=pos, stock_threshold=5)
        later = timezone.now() + dt.timedelta(minutes=61)
        assert launch.promotions_launch_advance(now=later) == {"spring-10": "halted"}
        promo.refresh_from_db()
        assert (promo.launch_state, promo.launch_halted_reason) == (
            "halted",
            "stock below the threshold — Outlet store: TEE-RED-M 3 < 5",
        )
        assert [row[1] for row in _states(promo)] == ["waiting", "waiting", "acknowledged"]
        assert channels["woocommerce"].calls == []
        halted = TriageException.objects.get(cause="launch_halted")
        assert (halted.severity, halted.detail) == ("high", "2 channel(s) not sent: Outlet store, Stores POS")
        assert launch.promotions_launch_advance(now=later) == {}  # halted: nothing more is sent

        sent = launch.promotion_launch_continue(promotion=promo, actor=world.partner_admin)
        assert sent == []  # the held waves were not reached yet: the next advance judges them again
        promo.refresh_from_db()
        assert promo.launch_state == "running"
        _stock("OUTLET", 30, woo)
        assert launch.promotions_launch_advance(now=later) == {"spring-10": "sent"}


def test_a_failed_wave_halts_the_launch(world, channels):
    with tenant_context(world.acme):
        shop, woo, pos = sales_channels()
        channels["shopify"].refuse = "discount title taken"
        promo = _staged(world, shop=shop, woo=woo, pos=pos)
        assert (promo.launch_state, promo.launch_halted_reason) == (
            "halted",
            "wave 1 failed — Web store rejected version 1: discount title taken",
        )
        assert [row[1] for row in _states(promo)] == ["waiting", "waiting", "failed"]
        assert set(TriageException.objects.values_list("cause", flat=True)) == {"deployment_failed", "launch_halted"}


def test_the_stock_guard_resumes_a_channel_once_stock_is_back_above_threshold_plus_hysteresis(world, channels):
    with tenant_context(world.acme):
        PromotionPolicy.objects.create(stock_hysteresis=3)
        shop, woo, _pos = sales_channels()
        _stock("WEB-WH", 20, shop)
        _stock("OUTLET", 3, woo)
        promo = published(
            promotion(
                author=world.acme_admin,
                channels=[shop, woo],
                eligibility={"skus": ["TEE-RED-M"]},
                pricing={"TEE-RED-M": {"price": "20", "cost": "8"}},
                stock_threshold=5,
            ),
            author=world.acme_admin,
            approver=world.partner_admin,
        )
        assert [row.connection.name for row in promotions_stock_guard()["paused"]] == ["Outlet store"]
        _stock("OUTLET", 7, woo)  # above the threshold, not above threshold + hysteresis
        assert promotions_stock_guard() == {"paused": [], "resumed": [], "unjudged": []}
        _stock("OUTLET", 8, woo)
        assert [row.connection.name for row in promotions_stock_guard()["resumed"]] == ["Outlet store"]
        promo.refresh_from_db()
        assert promo.status == S.LIVE
        assert channels["woocommerce"].active() == {next(iter(channels["woocommerce"].objects)): (1, "active")}
        resume = AuditEvent.objects.get(action="promotion.resume")
        assert (resume.actor_label, resume.changes["reason"]) == ("stock-guard", "stock back at or above 5 + 3")


def _mid_publish(world, channels, fallback: str):
    """Three channels sent one after another; the second rejects the update."""
    shop, woo, pos = sales_channels()
    channels["woocommerce"].refuse = "coupon code already exists"
    promo = promotion(author=world.acme_admin, channels=[shop, woo, pos], fallback=fallback)
    return published(promo, author=world.acme_admin, approver=world.partner_admin)


def test_fallback_keep_others_leaves_the_other_channels_live(world, channels):
    with tenant_context(world.acme):
        promo = _mid_publish(world, channels, "keep_others")
        assert promo.status == S.PARTIALLY_LIVE
        assert [row[1] for row in _states(promo)] == ["failed", "acknowledged", "acknowledged"]
        assert not AuditEvent.objects.filter(action="promotion.fallback").exists()


def test_fallback_pause_all_pauses_the_live_channels_and_holds_the_unsent_ones(world, channels):
    with tenant_context(world.acme):
        promo = _mid_publish(world, channels, "pause_all")
        assert promo.status == S.PAUSED
        rows = promo.deployments.order_by("connection__name")
        assert [(r.connection.name, r.state, r.pause_reason) for r in rows] == [
            ("Outlet store", "failed", ""),
            ("Stores POS", "waiting", ""),
            ("Web store", "paused", "fallback"),
        ]
        assert channels["square"].calls == []  # never sent after the failure
        assert [c[0] for c in channels["shopify"].calls] == ["publish", "pause"]
        audit = AuditEvent.objects.get(action="promotion.fallback")
        assert (audit.actor_label, audit.changes) == (
            "fallback-policy",
            {"policy": "pause_all", "failed": rows[0].connection_id, "channels": ["Web store"], "held": 1},
        )
        applied = TriageException.objects.get(cause="fallback_applied")
        assert applied.title == "spring-10: pause on every channel after Outlet store failed"


def test_fallback_rollback_all_removes_the_first_version_everywhere(world, channels):
    with tenant_context(world.acme):
        promo = _mid_publish(world, channels, "rollback_all")
        assert promo.status == S.ROLLED_BACK
        assert [row[1] for row in _states(promo)] == ["rolled_back"] * 3
        assert (channels["shopify"].objects, channels["square"].objects) == ({}, {})
        assert AuditEvent.objects.get(action="promotion.fallback").changes["policy"] == "rollback_all"


def test_fallback_rollback_all_on_a_second_version_restores_the_first(world, channels):
    with tenant_context(world.acme):
        shop, woo = sales_channels()[:2]
        promo = published(
            promotion(author=world.acme_admin, channels=[shop, woo], fallback="rollback_all"),
            author=world.acme_admin,
            approver=world.partner_admin,
        )
        lifecycle.promotion_edit(promotion=promo, actor=world.acme_admin, value=D("20"))
        channels["woocommerce"].refuse = "rate limited"
        promo = published(promo, author=world.acme_admin, approver=world.partner_admin)
        assert promo.status == S.LIVE
        assert promo.published_version.number == 1
        assert [obj.version for obj in channels["shopify"].objects.values()] == [1]
