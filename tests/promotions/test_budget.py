"""Budgets and usage caps enforced (issue 20): posted orders' discounts are recorded once per order
and version, warnings at the policy's thresholds, and at 100 % the promotion is paused on every
channel and raised."""

from contextlib import contextmanager
from decimal import Decimal as D

import pytest
from django_tenants.utils import tenant_context

from commerce.services import order_upsert
from mappings.services import standard_chart_apply
from posting.services import journal_post_cancellation, journal_post_order
from promotions import budget, tasks
from promotions.budget import promotion_spend_record
from promotions.models import ChannelDeployment, PromotionSpend
from promotions.selectors import promotion_budget_state
from tenants.models import AuditEvent
from tests.commerce.factories import shopify_order
from tests.promotions.conftest import sales_channels
from tests.promotions.redeemed import boots_promotion
from triage.models import Exception as TriageException


@pytest.fixture
def pausing(monkeypatch, django_capture_on_commit_callbacks):
    """Captures what is sent after commit and plays the worker's part for the budget pause task only."""
    monkeypatch.setattr(
        tasks.budget_pause_task, "delay", lambda promotion_id: budget.promotion_budget_pause(promotion_id=promotion_id)
    )

    @contextmanager
    def capture():
        sent: list = []
        with django_capture_on_commit_callbacks() as callbacks:
            yield sent
        for callback in callbacks:
            if getattr(callback, "func", None) is budget.budget_pause_send:
                sent.append(callback)
                callback()

    return capture


def _boots(world, *, share="100", funding="vendor", **fields):
    return boots_promotion(
        world.acme_admin, world.partner_admin, sales_channels()[:2], share=share, funding=funding, **fields
    )


def _post(number: str, **changes):
    order = order_upsert(source="shopify", connection_id=1, document=shopify_order(external_id=number, **changes)).obj
    return order, journal_post_order(order=order)


def test_a_budget_reached_by_posted_orders_pauses_every_channel(world, channels, pausing):
    with tenant_context(world.acme):
        standard_chart_apply()
        promo = _boots(world, budget=D("25"))
        _post("1001")
        assert TriageException.objects.filter(kind="promotion_deployment").count() == 0  # 40 %: no warning
        order, _ = _post("1002")
        warning = TriageException.objects.get(cause="budget_threshold")
        assert (warning.severity, warning.title) == ("low", "boots-10: 80 % of its budget or usage cap used")
        journal_post_order(order=order)  # posted again (a replay): counted once
        promotion_spend_record(orders=[order, order])
        state = promotion_budget_state(promotion=promo)
        assert (state.spent, state.redemptions, PromotionSpend.objects.count()) == (D("20"), 2, 2)
        assert [c[0] for c in channels["shopify"].calls] == ["publish"]

        with pausing() as callbacks:
            _post("1003")
            assert [c[0] for c in channels["shopify"].calls] == ["publish"]  # no channel call inside the posting
        assert len(callbacks) == 1
        promo.refresh_from_db()
        assert promo.status == "paused"
        assert promo.budget_reached_at is not None
        rows = ChannelDeployment.objects.order_by("connection__name")
        assert [(r.connection.name, r.state, r.pause_reason) for r in rows] == [
            ("Outlet store", "paused", "budget"),
            ("Web store", "paused", "budget"),
        ]
        assert [c[0] for c in channels["shopify"].calls] == ["publish", "pause"]
        assert [c[0] for c in channels["woocommerce"].calls] == ["publish", "pause"]
        reached = TriageException.objects.get(cause="budget_reached")
        assert (reached.severity, reached.title) == (
            "high",
            "boots-10: budget 25.0000 reached (spent 30.0000) — paused on every channel",
        )
        with pausing() as callbacks:
            _post("1004")  # already reached: nothing is paused or raised twice
        assert callbacks == []
        assert [c[0] for c in channels["shopify"].calls] == ["publish", "pause"]
        assert TriageException.objects.get(cause="budget_reached").count == 1


def test_the_usage_cap_counts_redemptions_and_a_merchant_funded_discount_spends_in_full(world, channels, pausing):
    with tenant_context(world.acme):
        standard_chart_apply()
        promo = _boots(world, funding="merchant", usage_limit=2)
        _post("2001")
        state = promotion_budget_state(promotion=promo)
        assert (state.spent, state.vendor_funded, state.redemptions, state.percent) == (D("10"), D("0"), 1, 50.0)
        with pausing():
            _post("2002")
        promo.refresh_from_db()
        assert promo.status == "paused"
        assert TriageException.objects.get(cause="budget_reached").title == (
            "boots-10: usage cap 2 reached (2 redemptions) — paused on every channel"
        )
        audit = AuditEvent.objects.get(action="promotion.pause")
        assert (audit.actor_label, audit.changes["reason"], audit.changes["failed"]) == ("budget", "budget", 0)


def test_a_vendor_share_spends_the_vendors_part_and_a_cancelled_order_spends_nothing(world, channels):
    with tenant_context(world.acme):
        standard_chart_apply()
        promo = _boots(world, share="30", budget=D("100"))
        order, _ = _post("3001")
        row = PromotionSpend.objects.get()
        assert (row.order_id, row.discount, row.vendor_funded, row.spend) == (order.pk, D("10"), D("3"), D("3"))
        cancelled = order_upsert(
            source="shopify",
            connection_id=1,
            document=shopify_order(external_id="3001", source_version=2, cancelled_at=order.paid_at),
        ).obj
        journal_post_order(order=cancelled)
        journal_post_cancellation(order=cancelled)
        assert PromotionSpend.objects.count() == 0
        assert promotion_budget_state(promotion=promo).spent == D("0")


def test_an_unposted_order_spends_nothing(world, channels):
    with tenant_context(world.acme):
        standard_chart_apply()
        promo = _boots(world, budget=D("25"))
        order_upsert(source="shopify", connection_id=1, document=shopify_order(external_id="4001", paid_at=None))
        assert promotion_budget_state(promotion=promo).spent == D("0")


def test_the_batch_posting_path_records_spend_once_per_order(world, channels, pausing):
    from posting.services import journals_post_orders

    with tenant_context(world.acme):
        standard_chart_apply()
        promo = _boots(world, budget=D("100"))
        items = []
        for number in ("2001", "2002", "2003"):
            document = shopify_order(external_id=number)
            items.append((order_upsert(source="shopify", connection_id=1, document=document).obj, document))
        assert [outcome.status for outcome in journals_post_orders(items)] == ["posted"] * 3
        journals_post_orders(items)  # a replayed batch: already posted, counted once
        state = promotion_budget_state(promotion=promo)
        assert (state.spent, state.redemptions, PromotionSpend.objects.count()) == (D("30"), 3, 3)
