"""Promotion spend benchmark (issue 20): what recording spend costs the posting of an order.

Creates a scratch database with one tenant on the standard chart, clones one vendor-shaped order N
times (untimed), then posts N orders with no published promotion (spend recording is one EXISTS
query) and N orders whose BOOTS10 coupon matches a published, vendor-funded promotion with a budget
(spend matched, upserted per order and version, budget checked), and prints orders/s of both and
their ratio.
Usage: .venv/bin/python bench/promotion_spend.py [--orders N] [--keep]
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import bench_run, bench_tenant, timed_each
from bench.posting import _clone_orders, post_order


def _orders(prefix: str, count: int) -> list:
    from django.db import connection, transaction

    from commerce.models import Order
    from commerce.services import order_upsert
    from tests.commerce.factories import shopify_order

    template = order_upsert(source="bench", connection_id=1, document=replace(shopify_order(), external_id=prefix)).obj
    with transaction.atomic(), connection.cursor() as cursor:
        _clone_orders(cursor, template.pk, count - 1)
        cursor.execute("UPDATE commerce_order SET source = %s WHERE source = 'bench'", [f"bench-{prefix}"])
    return list(Order.objects.filter(source=f"bench-{prefix}").order_by("pk"))


def _post(orders: list) -> float:
    return timed_each(orders, post_order, desc="posting", unit="order")


def _promotion_publish(tenant) -> None:
    """A vendor-funded BOOTS10 promotion, live on a simulated channel, with a budget never reached."""
    from django.utils import timezone

    from connectors.models import Connection
    from promotions import deployment, lifecycle
    from tenants import services
    from tenants.models import Membership

    author = services.user_create(email="author@bench.test", password="bench-password-1", name="A", verified=True)
    approver = services.user_create(email="approver@bench.test", password="bench-password-1", name="B", verified=True)
    for user in (author, approver):
        services.membership_grant(user=user, tenant=tenant, role=Membership.Role.TENANT_ADMIN)
    channel = Connection.objects.create(
        vendor="shopify", name="Simulated store", direction="source", config={"simulated": True}
    )
    promo = lifecycle.promotion_create(
        key="boots-10",
        name="Boots 10",
        channels=[channel],
        actor=author,
        kind="amount_off",
        value=Decimal("10"),
        starts_at=timezone.now(),
        eligibility={"skus": ["BOOT-BRN"], "coupon_codes": ["boots10"]},
        funding="vendor",
        funding_vendor_ref="BOOTMAKER",
        funding_share=Decimal("60"),
        budget=Decimal("100000000"),
    )
    lifecycle.promotion_validate(promotion=promo, actor=author)
    lifecycle.promotion_submit(promotion=promo, actor=author)
    lifecycle.promotion_approve(promotion=promo, actor=approver)
    for row in deployment.promotion_publish(promotion=promo, actor=approver, dispatch=False):
        deployment.deployment_send(deployment_id=row.pk)


def main() -> None:
    bench_run(__doc__, "promotion_spend", _run, orders=2_000)


def _run(orders: int) -> None:
    from django_tenants.utils import tenant_context

    from mappings.services import standard_chart_apply
    from promotions.models import PromotionSpend
    from promotions.selectors import promotion_budget_state

    tenant = bench_tenant()
    with tenant_context(tenant):
        standard_chart_apply()
        plain = _orders("P", orders)
        without = _post(plain)
        _promotion_publish(tenant)
        matched = _orders("M", orders)
        with_spend = _post(matched)
        spend_rows = PromotionSpend.objects.count()
        state = promotion_budget_state(promotion=PromotionSpend.objects.first().promotion)
    print(
        json.dumps(
            {
                "orders": orders,
                "no_promotion_orders_per_s": round(orders / without, 1),
                "spend_recorded_orders_per_s": round(orders / with_spend, 1),
                "ratio": round(without / with_spend, 3),
                "spend_rows": spend_rows,
                "spent": str(state.spent),
                "redemptions": state.redemptions,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
