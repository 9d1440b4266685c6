"""A promotion published before its start to a channel without start dates (WooCommerce) waits as
a draft and goes live at the start, in the tenant's zone, exactly once (promotions/scheduled.py)."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django_tenants.utils import tenant_context

from promotions import deployment, scheduled, selectors, tasks
from promotions.models import ChannelDeployment, Promotion
from tests.promotions.conftest import promotion, published, sales_channels
from tests.promotions.test_api import SessionApi
from triage.models import Exception as TriageException

S = Promotion.Status
D = ChannelDeployment.State

# 09:00 in New York (the acme tenant's zone) on 1 April 2030 is 13:00 UTC.
STARTS = dt.datetime(2030, 4, 1, 9, 0, tzinfo=zoneinfo.ZoneInfo("America/New_York"))


@pytest.fixture
def early(world, channels):
    channels["woocommerce"].drafts_early = True
    with tenant_context(world.acme):
        shop, woo, _pos = sales_channels()
        promo = promotion(
            author=world.acme_admin, channels=[shop, woo], starts_at=STARTS, ends_at=STARTS + dt.timedelta(days=7)
        )
        yield published(promo, author=world.acme_admin, approver=world.partner_admin), shop, woo


def woo_row(promo):
    return ChannelDeployment.objects.get(promotion=promo, connection__vendor="woocommerce")


def test_an_early_publish_waits_as_a_draft_and_goes_live_at_the_start_exactly_once(world, channels, early):
    promo, _shop, _woo = early
    with tenant_context(world.acme):
        row = woo_row(promo)
        assert (row.state, row.pause_reason) == (D.PAUSED, "scheduled")
        assert promo.status == S.LIVE  # waiting for the start counts as live, not as paused
        assert tasks.scheduled_next_due(dt.datetime.now(dt.UTC)) == STARTS
        board = {row.vendor: row for row in selectors.version_alignment(promotion=promo)}
        assert (board["woocommerce"].scheduled_for, board["shopify"].scheduled_for) == ("2030-04-01 09:00 EDT", "")

        # 09:00 UTC is still 05:00 in New York: nothing yet.
        assert scheduled.scheduled_go_live(now=dt.datetime(2030, 4, 1, 9, 0, tzinfo=dt.UTC)) == 0
        assert ("resume", row.external_id) not in channels["woocommerce"].calls

        at_start = dt.datetime(2030, 4, 1, 13, 0, tzinfo=dt.UTC)
        assert scheduled.scheduled_go_live(now=at_start) == 1
        assert scheduled.scheduled_go_live(now=at_start + dt.timedelta(minutes=1)) == 0
        assert channels["woocommerce"].calls.count(("resume", row.external_id)) == 1
        row.refresh_from_db()
        assert (row.state, row.pause_reason, row.acknowledged_at) == (D.ACKNOWLEDGED, "", at_start)
        assert channels["woocommerce"].active() == {row.external_id: (1, "active")}
        assert scheduled.scheduled_next_start() is None
        assert selectors.version_alignment(promotion=promo)[1].scheduled_for == ""


def test_the_board_and_the_api_say_when_it_goes_live(world, channels, early):
    promo, _shop, _woo = early
    page = SessionApi(world.host(world.acme), world.acme_admin)

    html = page.get(f"/promotions/{promo.pk}/").content.decode()
    api = page.get(f"/api/v1/promotions/{promo.pk}/").json()

    assert "scheduled for 2030-04-01 09:00 EDT" in html
    assert [(row["vendor"], row["scheduled_for"]) for row in api["alignment"]] == [
        ("shopify", ""),
        ("woocommerce", "2030-04-01 09:00 EDT"),
    ]


def test_a_channel_refusing_at_the_start_is_the_channel_rejection_exception(world, channels, early):
    promo, _shop, _woo = early
    channels["woocommerce"].refuse = "Invalid coupon: the coupon was deleted"
    with tenant_context(world.acme):
        assert scheduled.scheduled_go_live(now=dt.datetime(2030, 4, 1, 13, 0, tzinfo=dt.UTC)) == 0
        row = woo_row(promo)
        assert (row.state, row.last_error) == (D.FAILED, "Invalid coupon: the coupon was deleted")
        exception = TriageException.objects.get()
        assert (exception.kind, exception.cause) == ("promotion_deployment", "partial_deployment")
        assert exception.detail == "Outlet store: Invalid coupon: the coupon was deleted"
        assert scheduled.scheduled_next_start() is None  # not retried by the job: the exception's retry re-sends


def test_paused_before_the_start_it_does_not_go_live_and_a_resume_waits_again(world, channels, early):
    promo, _shop, _woo = early
    with tenant_context(world.acme):
        deployment.promotion_pause(promotion=promo, actor=world.acme_admin)
        row = woo_row(promo)
        assert (row.state, row.pause_reason) == (D.PAUSED, "manual")
        assert scheduled.scheduled_go_live(now=dt.datetime(2030, 4, 1, 13, 0, tzinfo=dt.UTC)) == 0

        deployment.promotion_resume(promotion=promo, actor=world.acme_admin)
        row.refresh_from_db()
        assert (row.state, row.pause_reason) == (D.PAUSED, "scheduled")  # read back, not published early
        assert ("resume", row.external_id) not in channels["woocommerce"].calls
        assert channels["woocommerce"].active() == {row.external_id: (1, "paused")}
        promo.refresh_from_db()
        assert promo.status == S.LIVE
        assert scheduled.scheduled_go_live(now=dt.datetime(2030, 4, 1, 13, 0, tzinfo=dt.UTC)) == 1
