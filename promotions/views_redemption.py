"""The redemption page of a promotion (issue 20): the report per channel and version with a chart of
orders per day, the vendor claims with claimed / received / outstanding, a claim per period, its
CSV and the receipts against it. Viewers read; claims and receipts take another role (403)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from core.forms import error_messages
from core.money import quantize
from core.tenancy import tenant_zone
from core.views import attachment, found_or_404
from promotions import claims, redemption, selectors
from promotions.forms_redemption import ClaimForm, RangeForm, ReceiptForm
from promotions.models import Funding, Promotion, VendorClaim
from tenants.middleware import may_write


def _promotion(pk: int) -> Promotion:
    return found_or_404(selectors.promotion_get(pk=pk), "No such promotion.")


def _claim(promotion: Promotion, claim_id: int) -> VendorClaim:
    return found_or_404(claims.vendor_claim_get(promotion=promotion, pk=claim_id), "No such claim.")


def _refusal(request: HttpRequest, error: ValidationError) -> None:
    for text in error_messages(error):
        messages.error(request, text)


@require_GET
def promotion_redemption(request: HttpRequest, pk: int) -> HttpResponse:
    promotion = _promotion(pk)
    zone = tenant_zone()
    today = timezone.now().astimezone(zone).date()
    start, end = RangeForm(request.GET or None).period(today)
    report = redemption.promotion_redemptions(promotion=promotion, start=start, end=end, tz=zone)
    vendor_funded = promotion.versions.filter(funding=Funding.VENDOR).exists()
    states = claims.claim_states(promotion=promotion)
    return render(
        request,
        "promotions/redemption.html",
        {
            "promotion": promotion,
            "report": report,
            "range_form": RangeForm(initial={"start": start, "end": end}),
            "zone": zone,
            "vendor_funded": vendor_funded,
            "claims": states,
            "claim_totals": claims.claim_totals(states=states),
            "claim_form": ClaimForm(initial={"period_start": start, "period_end": min(end, today)}),
            "receipt_form": ReceiptForm(initial={"received_on": today}),
            "can_act": may_write(request),
            "csv_query": f"start={start.isoformat()}&end={end.isoformat()}",
        },
    )


@require_POST
def promotion_claims(request: HttpRequest, pk: int) -> HttpResponse:
    promotion = _promotion(pk)
    if not may_write(request):
        return HttpResponseForbidden("Viewers cannot make claims.")
    form = ClaimForm(request.POST)
    if form.is_valid():
        try:
            made, created = claims.vendor_claim_create(
                promotion=promotion, tz=tenant_zone(), actor=request.user, **form.cleaned_data
            )
        except ValidationError as error:
            _refusal(request, error)
        else:
            verb = "Claimed" if created else "Already claimed"
            amounts = ", ".join(f"{quantize(claim.amount, claim.currency)} {claim.currency}" for claim in made)
            messages.success(request, f"{verb}: {amounts} for {made[0].period_start} to {made[0].period_end}.")
    else:
        messages.error(request, "A claim needs the first and last day of its period.")
    return redirect(reverse("promotions_redemption", args=[pk]))


@require_GET
def promotion_claim_export(request: HttpRequest, pk: int, claim_id: int) -> HttpResponse:
    claim = _claim(_promotion(pk), claim_id)
    return attachment(
        claims.vendor_claim_export(claim=claim, tz=tenant_zone()), filename=claims.vendor_claim_filename(claim)
    )


@require_POST
def promotion_claim_receipt(request: HttpRequest, pk: int, claim_id: int) -> HttpResponse:
    claim = _claim(_promotion(pk), claim_id)
    if not may_write(request):
        return HttpResponseForbidden("Viewers cannot record receipts.")
    form = ReceiptForm(request.POST)
    if form.is_valid():
        try:
            claims.claim_receipt_record(claim=claim, actor=request.user, **form.cleaned_data)
        except ValidationError as error:
            _refusal(request, error)
        else:
            messages.success(request, f"Recorded {form.cleaned_data['amount']} {claim.currency} received.")
    else:
        messages.error(request, "A receipt needs an amount and the day it was received.")
    return redirect(reverse("promotions_redemption", args=[pk]))
