"""Margin validation at submit (issue 20): the price after discount plus the vendor's funding against
the unit cost; below the tenant's minimum margin only a finance approver (a tenant admin) may approve."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from django.core.exceptions import PermissionDenied
from django_tenants.utils import tenant_context

from promotions import lifecycle
from promotions.margin import margin_check
from promotions.models import PriceList, PromotionPolicy
from promotions.policy import promotion_policy_update
from tenants.models import AuditEvent, Membership
from tests.factories import MembershipFactory
from tests.promotions.conftest import promotion, sales_channels
from tests.promotions.test_api import SessionApi, _body


def _deep(world, **fields):
    """50 % off a 20.00 tee that costs 8.00: the merchant keeps 10.00, a 20 % margin."""
    values = {
        "value": D("50"),
        "eligibility": {"skus": ["TEE-RED-M"]},
        "pricing": {"TEE-RED-M": {"price": "20.00", "cost": "8.00"}},
        **fields,
    }
    return promotion(author=world.partner_admin, channels=sales_channels()[:1], **values)


def _submitted(world, promo):
    lifecycle.promotion_validate(promotion=promo, actor=world.partner_admin)
    lifecycle.promotion_submit(promotion=promo, actor=world.partner_admin)
    promo.refresh_from_db()
    return promo


def test_below_the_minimum_margin_only_a_finance_approver_may_approve(world, channels):
    with tenant_context(world.acme):
        PromotionPolicy.objects.create(min_margin_percent=D("30"))
        promo = _submitted(world, _deep(world))
        margin = promo.current_version.margin
        assert (margin["min_percent"], margin["lowest_percent"], margin["below"], margin["needs_finance"]) == (
            "30.00",
            "20.00",
            ["TEE-RED-M"],
            True,
        )
        assert [w["rule"] for w in promo.current_version.validation["warnings"]] == ["margin", "sku"]
        operator = MembershipFactory(tenant=None, partner=world.northwind, role=Membership.Role.PARTNER_OPERATOR).user
        with pytest.raises(PermissionDenied, match=r"20\.00 %, below the tenant's minimum of 30\.00 %"):
            lifecycle.promotion_approve(promotion=promo, actor=operator)
        lifecycle.promotion_approve(promotion=promo, actor=world.acme_admin)  # the tenant admin: finance
        promo.refresh_from_db()
        assert (promo.status, promo.current_version.approved_by_email) == ("approved", "finance@acme.test")


def test_vendor_funding_counts_towards_the_margin(world, channels):
    with tenant_context(world.acme):
        PromotionPolicy.objects.create(min_margin_percent=D("30"))
        promo = _deep(world, funding="vendor", funding_vendor_ref="TEEMAKER", funding_share=D("50"))
        margin = margin_check(version=promo.current_version)
        # the vendor pays 5.00 of the 10.00 discount: the merchant is paid 15.00 for a cost of 8.00
        assert margin["skus"] == [
            {
                "sku": "TEE-RED-M",
                "price": "20.00",
                "price_after": "10.00",
                "vendor_funded": "5.00",
                "cost": "8.00",
                "margin_percent": "46.67",
            }
        ]
        assert margin["needs_finance"] is False
        _submitted(world, promo)
        operator = MembershipFactory(tenant=None, partner=world.northwind, role=Membership.Role.PARTNER_OPERATOR).user
        assert lifecycle.promotion_approve(promotion=promo, actor=operator).status == "approved"


def test_costs_and_prices_come_from_the_published_price_list_when_the_version_has_none(world, channels):
    from promotions.prices import price_list_create

    with tenant_context(world.acme):
        PromotionPolicy.objects.create(min_margin_percent=D("30"))
        price_list = price_list_create(
            key="usd-main",
            name="Main",
            currency="USD",
            starts_at=lifecycle.timezone.now(),
            prices={"TEE-RED-M": "20.00"},
            channels=[],
            actor=world.acme_admin,
        )
        version = price_list.current_version
        version.costs = {"TEE-RED-M": "8.00"}
        version.save(update_fields=["costs"])
        PriceList.objects.filter(pk=price_list.pk).update(published_version=version)
        promo = _deep(world, pricing={})
        margin = margin_check(version=promo.current_version)
        assert (margin["lowest_percent"], margin["below"], margin["unknown"]) == ("20.00", ["TEE-RED-M"], [])


def test_the_price_lists_cost_column_feeds_the_margin_check(world, channels):
    from promotions import price_changes, prices

    with tenant_context(world.acme):
        PromotionPolicy.objects.create(min_margin_percent=D("30"))
        price_list = prices.price_list_create(
            key="usd-main",
            name="Main",
            currency="USD",
            starts_at=lifecycle.timezone.now(),
            prices={"TEE-RED-M": "20.00"},
            channels=[],
            actor=world.acme_admin,
        )
        PriceList.objects.filter(pk=price_list.pk).update(published_version=price_list.current_version)
        promo = _deep(world, pricing={})
        assert margin_check(version=promo.current_version)["unknown"] == ["TEE-RED-M"]  # no cost yet

        version = price_changes.price_list_import_csv(price_list=price_list, file="sku,price,cost\nTEE-RED-M,20,6\n")
        PriceList.objects.filter(pk=price_list.pk).update(published_version=version)
        margin = margin_check(version=promo.current_version)
        # 10.00 after 50 % off against a 6.00 cost: 40 %, above the 30 % minimum
        assert (margin["lowest_percent"], margin["below"], margin["unknown"]) == ("40.00", [], [])


def test_no_minimum_means_no_finance_approver_is_needed(world, channels):
    with tenant_context(world.acme):
        promo = _submitted(world, _deep(world))
        assert promo.current_version.margin["needs_finance"] is False


def test_the_policy_is_changed_by_a_finance_approver_only_and_audited(world, channels):
    with tenant_context(world.acme):
        with pytest.raises(PermissionDenied):
            promotion_policy_update(
                actor=world.partner_admin, min_margin_percent=D("5"), budget_warn_percents=[80], stock_hysteresis=0
            )
        promotion_policy_update(
            actor=world.acme_admin, min_margin_percent=D("25"), budget_warn_percents=[95, 80], stock_hysteresis=2
        )
        policy = PromotionPolicy.objects.get()
        assert (policy.min_margin_percent, policy.budget_warn_percents, policy.stock_hysteresis) == (
            D("25"),
            [80, 95],
            2,
        )
        audit = AuditEvent.objects.get(action="promotion_policy.update")
        assert audit.changes["min_margin_percent"] == [None, "25.00"]


def test_the_api_refuses_a_non_finance_approver_with_the_reason(world, channels, throttle_reset):
    with tenant_context(world.acme):
        PromotionPolicy.objects.create(min_margin_percent=D("30"))
        shop = sales_channels()[0]
    host = world.host(world.acme)
    operator = MembershipFactory(tenant=None, partner=world.northwind, role=Membership.Role.PARTNER_OPERATOR).user
    author, approver, finance = (
        SessionApi(host, world.partner_admin),
        SessionApi(host, operator),
        SessionApi(host, world.acme_admin),
    )
    body = _body([shop], value="60", pricing={"TEE-RED-M": {"price": "25.00", "cost": "9.00"}})
    created = author.post("/api/v1/promotions/", body)
    assert created.status_code == 201, created.json()
    base = f"/api/v1/promotions/{created.json()['id']}"
    assert author.post(f"{base}/validate/").status_code == 200
    assert author.post(f"{base}/submit/").status_code == 200
    detail = author.get(f"{base}/").json()
    assert detail["current_version"]["margin"]["needs_finance"] is True
    refused = approver.post(f"{base}/approve/")
    assert refused.status_code == 403
    assert "takes a finance approver" in refused.json()["error"]["message"]
    assert finance.post(f"{base}/approve/").status_code == 200
