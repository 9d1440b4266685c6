"""The rule checks a version must pass (promotions/validation.py), run through promotion_validate."""

from decimal import Decimal

from django_tenants.utils import tenant_context

from promotions import lifecycle
from promotions.models import ChannelDeployment, Promotion
from tests.promotions.conftest import approved, promotion, sales_channels

S = Promotion.Status
D = ChannelDeployment.State


def test_validation_reports_every_broken_rule(world, channels):
    with tenant_context(world.acme):
        promo = promotion(
            author=world.acme_admin,
            channels=sales_channels(),
            kind="buy_x_get_y",
            value=Decimal("150"),
            funding="vendor",
            funding_share=Decimal("0"),
        )
        results = lifecycle.promotion_validate(promotion=promo, actor=world.acme_admin)
        promo.refresh_from_db()
        assert promo.status == S.DRAFT
        assert [(e["rule"], e["message"]) for e in results["errors"]] == [
            ("value", "A buy x get y value is a percentage above 0 and at most 100 (got 150)."),
            ("value", "Buy X get Y needs a buy quantity and a get quantity of at least 1."),
            ("funding", "A vendor-funded promotion names the vendor (vendor reference)."),
            ("funding", "The vendor's share is above 0 and at most 100 percent (got 0)."),
            ("channels", "Stores POS: square cannot express a buy x get y promotion."),
        ]


def test_percent_value_above_100_and_price_below_cost_are_errors(world, channels):
    with tenant_context(world.acme):
        promo = promotion(
            author=world.acme_admin,
            channels=sales_channels()[:1],
            kind="fixed_price",
            value=Decimal("5"),
        )
        results = lifecycle.promotion_validate(promotion=promo, actor=world.acme_admin)
        assert [e["message"] for e in results["errors"]] == [
            "TEE-RED-M: the promoted price 5.00 is below the cost 8.00.",
            "TEE-BLU-M: the promoted price 5.00 is below the cost 8.00.",
        ]
        lifecycle.promotion_edit(promotion=promo, actor=world.acme_admin, kind="percent_off", value=Decimal("101"))
        results = lifecycle.promotion_validate(promotion=promo, actor=world.acme_admin)
        assert [e["rule"] for e in results["errors"]] == ["value", "cost_floor", "cost_floor"]


def test_sku_check_is_skipped_and_said_when_the_tenant_has_no_sku_list(world, channels):
    with tenant_context(world.acme):
        promo = promotion(author=world.acme_admin, channels=sales_channels()[:1])
        results = lifecycle.promotion_validate(promotion=promo, actor=world.acme_admin)
        assert results["ok"] is True
        assert {
            "rule": "sku",
            "message": "This tenant has no SKU list (no inventory levels yet), so SKUs were not checked.",
        } in results["warnings"]


def test_overlapping_exclusive_promotion_on_the_same_skus_conflicts_unless_stackable(world, channels):
    with tenant_context(world.acme):
        shop = sales_channels()[:1]
        first = promotion(author=world.acme_admin, channels=shop)
        approved(first, author=world.acme_admin, approver=world.partner_admin)
        second = promotion(key="tee-deal", author=world.acme_admin, channels=shop, eligibility={"skus": ["TEE-RED-M"]})
        results = lifecycle.promotion_validate(promotion=second, actor=world.acme_admin)
        assert [e["message"] for e in results["errors"]] == [
            "spring-10 (approved) covers TEE-RED-M in an overlapping window and the two do not stack."
        ]
        lifecycle.promotion_edit(
            promotion=second, actor=world.acme_admin, stacking="stackable", stackable_with=["spring-10"]
        )
        assert lifecycle.promotion_validate(promotion=second, actor=world.acme_admin)["errors"] != []
        lifecycle.promotion_edit(promotion=first, actor=world.acme_admin, stacking="stackable")
        approved(first, author=world.acme_admin, approver=world.partner_admin)
        assert lifecycle.promotion_validate(promotion=second, actor=world.acme_admin)["ok"] is True
