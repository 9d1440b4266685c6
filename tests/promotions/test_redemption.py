"""Redemption of a promotion (issue 20): each discount records the version it came from, through
the single and the batch posting paths, and the report per channel and version, to the cent, over
local days in the tenant's zone; the activation-to-redemption timeline."""

import datetime as dt
from dataclasses import replace
from decimal import Decimal as D

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context

from commerce.services import order_upsert
from core.tenancy import tenant_zone
from posting.services import journal_post_order
from promotions.models import DiscountRedemption, PromotionSpend
from promotions.redemption import (
    RedemptionRow,
    RedemptionTotal,
    claim_lines,
    promotion_redemptions,
    promotion_timeline,
)
from tests.commerce.factories import shopify_order
from tests.promotions.redeemed import redeemed


def _day(day: int) -> dt.date:
    return dt.date(2026, 3, day)


def test_every_discount_records_the_version_it_came_from_on_both_posting_paths(world, channels):
    with tenant_context(world.acme):
        case = redeemed(world)
        rows = DiscountRedemption.objects.select_related("discount", "version", "order").order_by(
            "order__external_id", "discount__funding"
        )
        assert [(r.order.external_id, r.version.number, r.discount.funding, r.discount.amount) for r in rows] == [
            ("O1", 1, "merchant", D("7.0000")),
            ("O1", 1, "vendor", D("3.0000")),
            ("O2", 2, "merchant", D("5.0000")),
            ("O2", 2, "vendor", D("5.0000")),
            ("W1", 1, "merchant", D("7.0000")),
            ("W1", 1, "vendor", D("3.0000")),
            ("W2", 1, "merchant", D("7.0000")),
            ("W2", 1, "vendor", D("3.0000")),
            ("W3", 2, "merchant", D("5.0000")),
            ("W3", 2, "vendor", D("5.0000")),
        ]
        assert {r.discount.order_line.sku for r in rows} == {"BOOT-BRN"}  # the line each discount is on
        assert dict(PromotionSpend.objects.values_list("order__external_id", "units")) == {
            "W1": 1,
            "W2": 1,
            "W3": 2,
            "O1": 1,
            "O2": 1,
        }
        assert case.orders["W4"].pk not in set(rows.values_list("order_id", flat=True))  # cancelled: nothing


def test_a_new_version_of_an_order_rewrites_its_discounts_versions(world, channels):
    with tenant_context(world.acme):
        case = redeemed(world)
        w1 = case.orders["W1"]
        first = shopify_order()
        discounts = (replace(first.discounts[0], code="OTHER10"), *first.discounts[1:])  # no longer the promotion's
        document = shopify_order(
            external_id="W1", source_version=2, placed_at=w1.placed_at, paid_at=w1.paid_at, discounts=discounts
        )
        order = order_upsert(source="shopify", connection_id=case.web.pk, document=document).obj
        journal_post_order(order=order)
        assert not DiscountRedemption.objects.filter(order=order).exists()
        assert not PromotionSpend.objects.filter(order=order).exists()
        assert DiscountRedemption.objects.count() == 8


def test_recording_the_versions_is_set_based(world, channels):
    """Replacing the discounts' versions costs the same three statements (read, delete, insert) for
    any number of orders."""
    from promotions.budget import promotion_spend_record

    with tenant_context(world.acme):
        case = redeemed(world)
        orders = list(case.orders.values())
        with CaptureQueriesContext(connection) as queries:
            promotion_spend_record(orders=orders)
        redemption_sql = [q["sql"] for q in queries.captured_queries if "promotions_discountredemption" in q["sql"]]
        assert len(redemption_sql) == 3
        assert DiscountRedemption.objects.count() == 10


def test_the_report_per_channel_and_version_to_the_cent_in_the_tenants_zone(world, channels):
    with tenant_context(world.acme):
        case = redeemed(world)
        zone = tenant_zone()
        report = promotion_redemptions(promotion=case.promotion, start=_day(14), end=_day(16), tz=zone)
        web, outlet = case.web.pk, case.outlet.pk
        assert report.rows == [
            RedemptionRow(web, "Web store", 1, "USD", 2, 2, D("20.0000"), D("6.0000")),
            RedemptionRow(web, "Web store", 2, "USD", 1, 2, D("10.0000"), D("5.0000")),
            RedemptionRow(outlet, "Outlet store", 1, "USD", 1, 1, D("10.0000"), D("3.0000")),
            RedemptionRow(outlet, "Outlet store", 2, "USD", 1, 1, D("10.0000"), D("5.0000")),
        ]
        assert report.totals == [RedemptionTotal("USD", 5, 6, D("50.0000"), D("19.0000"))]
        assert report.chart == {
            "labels": ["2026-03-14", "2026-03-15", "2026-03-16"],
            "datasets": [
                {"label": "Outlet store", "data": [1, 0, 1]},
                {"label": "Web store", "data": [2, 0, 1]},
            ],
        }
        # W2 was placed at 02:00 UTC on the 15th: the 14th in New York, so the 15th has nothing.
        assert promotion_redemptions(promotion=case.promotion, start=_day(15), end=_day(15), tz=zone).rows == []
        in_utc = promotion_redemptions(promotion=case.promotion, start=_day(15), end=_day(15), tz=dt.UTC)
        assert [(r.channel, r.orders) for r in in_utc.rows] == [("Web store", 1)]


def test_claim_lines_list_each_vendor_funded_order_with_its_skus(world, channels):
    with tenant_context(world.acme):
        case = redeemed(world)
        lines = claim_lines(promotion=case.promotion, start=_day(14), end=_day(14), tz=tenant_zone())
        assert [(x.order, x.placed_on, x.channel, x.version, x.skus, x.units, x.vendor_funded) for x in lines] == [
            ("W1", _day(14), "Web store", 1, ("BOOT-BRN",), 1, D("3.0000")),
            ("O1", _day(14), "Outlet store", 1, ("BOOT-BRN",), 1, D("3.0000")),
            ("W2", _day(14), "Web store", 1, ("BOOT-BRN",), 1, D("3.0000")),
        ]


def test_the_timeline_shows_when_each_channel_went_live_and_redemptions_per_day_after(world, channels):
    with tenant_context(world.acme):
        case = redeemed(world)
        timeline = promotion_timeline(promotion=case.promotion, tz=tenant_zone(), days=7)
        assert [(c.channel, c.live_at) for c in timeline] == [
            ("Outlet store", dt.datetime(2026, 3, 10, 14, 0, tzinfo=dt.UTC)),
            ("Web store", dt.datetime(2026, 3, 10, 14, 0, tzinfo=dt.UTC)),
        ]
        web = timeline[1]
        assert [text for _at, text in web.events] == ["v1 sent", "v1 live", "v2 sent", "v2 live"]
        assert web.days == [
            (_day(10), 0, 0),
            (_day(11), 1, 0),
            (_day(12), 2, 0),
            (_day(13), 3, 0),
            (_day(14), 4, 2),
            (_day(15), 5, 0),
            (_day(16), 6, 1),
        ]


def test_reading_the_report_and_the_timeline_writes_nothing(world, channels):
    with tenant_context(world.acme):
        case = redeemed(world)
        with CaptureQueriesContext(connection) as queries:
            promotion_redemptions(promotion=case.promotion, start=_day(1), end=_day(31), tz=tenant_zone())
            promotion_timeline(promotion=case.promotion, tz=tenant_zone())
        reads = ("SELECT", "SET search_path")
        assert [q["sql"] for q in queries.captured_queries if not q["sql"].startswith(reads)] == []


def test_orders_posted_before_redemptions_were_recorded_are_backfilled(world, channels):
    from promotions.budget import promotion_spend_backfill

    with tenant_context(world.acme):
        redeemed(world)
        DiscountRedemption.objects.all().delete()
        PromotionSpend.objects.update(units=0)  # as the migration left the rows posted before it
        assert promotion_spend_backfill(batch=2) == 5
        assert DiscountRedemption.objects.count() == 10
        assert sorted(PromotionSpend.objects.values_list("units", flat=True)) == [1, 1, 1, 1, 2]
        assert promotion_spend_backfill() == 5  # again: nothing changes
        assert DiscountRedemption.objects.count() == 10
