"""Vendor claims (issue 20): made once per period, exported as CSV, reconciled against receipts,
and raised into triage when still underpaid past the policy's days."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.core.exceptions import ValidationError
from django_tenants.utils import tenant_context

from core.tenancy import tenant_zone
from promotions import tasks
from promotions.claims import (
    claim_receipt_record,
    claim_states,
    claim_totals,
    claims_overdue_next_due,
    vendor_claim_create,
    vendor_claim_export,
    vendor_claims_overdue_raise,
)
from promotions.models import PromotionPolicy, VendorClaim
from tenants.models import AuditEvent
from tests.promotions.conftest import promotion
from tests.promotions.redeemed import redeemed
from triage.models import Exception as TriageException


def _day(day: int) -> dt.date:
    return dt.date(2026, 3, day)


def _claim(world, case, start=14, end=16):
    claims, created = vendor_claim_create(
        promotion=case.promotion,
        period_start=_day(start),
        period_end=_day(end),
        tz=tenant_zone(),
        actor=world.acme_admin,
    )
    return claims, created


def test_a_claim_for_a_period_is_made_once(world, channels):
    with tenant_context(world.acme):
        case = redeemed(world)
        (claim,), created = _claim(world, case)
        assert created is True
        assert (claim.vendor_ref, claim.currency, claim.amount, claim.orders, claim.author_email) == (
            "BOOTMAKER-LTD",
            "USD",
            D("19.00"),
            5,
            "finance@acme.test",
        )
        (again,), created_again = _claim(world, case)
        assert (again.pk, created_again, VendorClaim.objects.count()) == (claim.pk, False, 1)
        assert AuditEvent.objects.filter(action="promotion.claim").count() == 1
        with pytest.raises(ValidationError, match="overlaps the claim of 2026-03-14 to 2026-03-16"):
            _claim(world, case, start=16, end=20)


def test_claims_refuse_an_empty_period_an_open_period_and_a_merchant_funded_promotion(world, channels):
    with tenant_context(world.acme):
        case = redeemed(world)
        with pytest.raises(ValidationError, match="No vendor-funded redemptions"):
            _claim(world, case, start=1, end=13)
        today = dt.datetime.now(tenant_zone()).date()
        with pytest.raises(ValidationError, match="has ended"):
            vendor_claim_create(promotion=case.promotion, period_start=_day(17), period_end=today, tz=tenant_zone())
        with pytest.raises(ValidationError, match="ends before it starts"):
            _claim(world, case, start=16, end=14)
        with pytest.raises(ValidationError, match="A period from 2000-01-01 on"):
            vendor_claim_create(
                promotion=case.promotion, period_start=dt.date(1, 1, 1), period_end=dt.date(1, 1, 2), tz=tenant_zone()
            )
        merchant = promotion(key="house-10", author=world.acme_admin, channels=[case.web])  # merchant-funded
        with pytest.raises(ValidationError, match="Only a vendor-funded promotion"):
            vendor_claim_create(promotion=merchant, period_start=_day(14), period_end=_day(16), tz=tenant_zone())
        assert VendorClaim.objects.count() == 0


def test_the_claim_export_is_one_row_per_order_and_records_the_export(world, channels):
    with tenant_context(world.acme):
        case = redeemed(world)
        (claim,), _ = _claim(world, case)
        text = vendor_claim_export(claim=claim, tz=tenant_zone())
        assert text.splitlines() == [
            "order,placed_on,channel,promotion,version,skus,units,discount,vendor_funded,currency",
            "W1,2026-03-14,Web store,boots-10,1,BOOT-BRN,1,10.0000,3.0000,USD",
            "O1,2026-03-14,Outlet store,boots-10,1,BOOT-BRN,1,10.0000,3.0000,USD",
            "W2,2026-03-14,Web store,boots-10,1,BOOT-BRN,1,10.0000,3.0000,USD",
            "W3,2026-03-16,Web store,boots-10,2,BOOT-BRN,2,10.0000,5.0000,USD",
            "O2,2026-03-16,Outlet store,boots-10,2,BOOT-BRN,1,10.0000,5.0000,USD",
        ]
        claim.refresh_from_db()
        first = claim.exported_at
        assert first is not None
        vendor_claim_export(claim=claim, tz=tenant_zone())
        claim.refresh_from_db()
        assert claim.exported_at == first


def test_receipts_reduce_the_outstanding_amount_and_never_exceed_it(world, channels):
    with tenant_context(world.acme):
        case = redeemed(world)
        (claim,), _ = _claim(world, case)
        claim_receipt_record(
            claim=claim, amount=D("12.50"), received_on=_day(30), reference="BM-1", actor=world.acme_admin
        )
        (state,) = claim_states(promotion=case.promotion)
        assert (state.claim.amount, state.received, state.outstanding, state.settled) == (
            D("19.00"),
            D("12.50"),
            D("6.50"),
            False,
        )
        assert claim_totals(states=claim_states(promotion=case.promotion)) == [
            {"currency": "USD", "claimed": D("19.00"), "received": D("12.50"), "outstanding": D("6.50")}
        ]
        with pytest.raises(ValidationError, match=r"More than the 6\.50 USD outstanding"):
            claim_receipt_record(claim=claim, amount=D("6.51"), received_on=_day(30))
        with pytest.raises(ValidationError, match="minor unit"):
            claim_receipt_record(claim=claim, amount=D("0.001"), received_on=_day(30))
        with pytest.raises(ValidationError, match="above zero"):
            claim_receipt_record(claim=claim, amount=D("0"), received_on=_day(30))
        claim_receipt_record(claim=claim, amount=D("6.50"), received_on=_day(31))
        assert claim_states(promotion=case.promotion)[0].settled is True
        assert AuditEvent.objects.filter(action="promotion.claim_receipt").count() == 2


def test_an_underpaid_claim_is_raised_once_after_the_policys_days(world, channels):
    with tenant_context(world.acme):
        case = redeemed(world)
        (claim,), _ = _claim(world, case)
        claim_receipt_record(claim=claim, amount=D("4.00"), received_on=_day(30))
        due = claims_overdue_next_due(claim.created_at)
        assert due == claim.created_at + dt.timedelta(days=30)
        assert vendor_claims_overdue_raise(now=due - dt.timedelta(seconds=1)) == 0
        assert TriageException.objects.filter(cause="vendor_claim_underpaid").count() == 0
        assert vendor_claims_overdue_raise(now=due) == 1
        raised = TriageException.objects.get(cause="vendor_claim_underpaid")
        assert (raised.kind, raised.title) == (
            "reconciliation",
            "boots-10: vendor claim 2026-03-14 to 2026-03-16 underpaid by 15.00 USD",
        )
        assert vendor_claims_overdue_raise(now=due + dt.timedelta(days=5)) == 0  # once per claim
        assert claims_overdue_next_due(due) is None
        assert TriageException.objects.get(cause="vendor_claim_underpaid").count == 1


def test_the_overdue_days_come_from_the_policy_and_a_settled_claim_is_never_due(world, channels):
    with tenant_context(world.acme):
        PromotionPolicy.objects.create(claim_overdue_days=10)
        case = redeemed(world)
        (claim,), _ = _claim(world, case)
        assert claims_overdue_next_due(claim.created_at) == claim.created_at + dt.timedelta(days=10)
        claim_receipt_record(claim=claim, amount=D("19.00"), received_on=_day(30))
        assert claims_overdue_next_due(claim.created_at) is None
        assert vendor_claims_overdue_raise(now=claim.created_at + dt.timedelta(days=90)) == 0


def test_the_periodic_job_declares_its_next_due_time(world, channels):
    from core.periodic import periodic_job_specs

    spec = next(spec for spec in periodic_job_specs() if spec.name == "promotions.claims_overdue")
    assert spec.next_due is claims_overdue_next_due
    assert spec.run is tasks.promotions_claims_overdue
    with tenant_context(world.acme):
        assert spec.next_due(dt.datetime.now(dt.UTC)) is None
        assert tasks.promotions_claims_overdue() == 0
