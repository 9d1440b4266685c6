"""Partner console: usage per tenant and metric for one month, the rate card per plan and the
monthly statements a partner re-bills from (CSV exports of both)."""

from __future__ import annotations

import calendar
import io
from datetime import date, timedelta

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from core.forms import form_apply
from core.spreadsheet import csv_writer
from core.views import attachment
from tenants.billing import month_bounds, rate_card_set, rate_cards_for_partner, statements_csv, statements_for_month
from tenants.models import Membership, Tenant, UsageRecord
from tenants.usage import METRICS, usage_month_table


def _month(value: str | None) -> date:
    today = timezone.now().date()
    if not value:
        return today.replace(day=1)
    try:
        year, month = (int(part) for part in value.split("-", 1))
        return date(year, month, 1)
    except ValueError as exc:
        raise Http404("No such month") from exc


@require_GET
def partner_usage(request: HttpRequest) -> HttpResponse:
    if request.portal_area != "partner":
        raise Http404("Not found")
    start = _month(request.GET.get("month"))
    end = start.replace(day=calendar.monthrange(start.year, start.month)[1])
    rows = usage_month_table(partner=request.partner, start=start, end=end)
    month = start.strftime("%Y-%m")
    if request.GET.get("format") == "csv":
        out = io.StringIO()
        writer = csv_writer(out)
        writer.writerow(["month", "tenant", *METRICS])
        for row in rows:
            writer.writerow([month, row.slug, *(row.counts[metric] for metric in METRICS)])
        return attachment(out.getvalue(), filename=f"usage-{request.partner.slug}-{month}.csv")
    previous = (start.replace(day=1) - timedelta(days=1)).replace(day=1)
    following = end + timedelta(days=1)
    labels = dict(UsageRecord.Metric.choices)
    return render(
        request,
        "tenants/partner_usage.html",
        {
            "month": start,
            "month_value": month,
            "previous": previous.strftime("%Y-%m"),
            "following": following.strftime("%Y-%m"),
            "metrics": [(metric, labels[metric]) for metric in METRICS],
            "rows": [(row, [row.counts[metric] for metric in METRICS]) for row in rows],
        },
    )


class RateCardForm(forms.Form):
    """One plan's card: currency, base fee and, per metric, the included volume and unit price."""

    currency = forms.CharField(max_length=3, min_length=3)
    monthly_fee = forms.DecimalField(min_value=0, max_digits=12, decimal_places=4)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        labels = dict(UsageRecord.Metric.choices)
        for metric in METRICS:
            self.fields[f"{metric}_included"] = forms.IntegerField(min_value=0, label=f"{labels[metric]} included")
            self.fields[f"{metric}_unit_price"] = forms.DecimalField(
                min_value=0, max_digits=12, decimal_places=4, label=f"{labels[metric]} unit price"
            )

    def metric_rows(self) -> list[tuple[str, forms.BoundField, forms.BoundField]]:
        labels = dict(UsageRecord.Metric.choices)
        return [(labels[metric], self[f"{metric}_included"], self[f"{metric}_unit_price"]) for metric in METRICS]


def _rate_card_initial(card) -> dict[str, object]:
    lines = {line.metric: line for line in card.lines.all()} if card.pk else {}
    initial: dict[str, object] = {"currency": card.currency, "monthly_fee": card.monthly_fee}
    for metric in METRICS:
        line = lines.get(metric)
        initial[f"{metric}_included"] = line.included if line else 0
        initial[f"{metric}_unit_price"] = line.unit_price if line else 0
    return initial


@require_http_methods(["GET", "POST"])
def partner_rates(request: HttpRequest) -> HttpResponse:
    """The partner's rate card per plan (partner admins): what its statements charge."""
    if request.portal_area != "partner" or request.membership_role != Membership.Role.PARTNER_ADMIN:
        raise Http404("Not found")
    cards = rate_cards_for_partner(partner=request.partner)
    posted_plan = request.POST.get("plan") if request.method == "POST" else None
    forms_by_plan = {
        plan: RateCardForm(request.POST if plan == posted_plan else None, prefix=plan, initial=_rate_card_initial(card))
        for plan, card in cards.items()
    }
    if posted_plan is not None:
        form = forms_by_plan.get(posted_plan)
        if form is None:
            raise Http404("No such plan")
        saved, _ = form_apply(
            form,
            lambda data: rate_card_set(
                partner=request.partner,
                plan=posted_plan,
                currency=data["currency"].upper(),
                monthly_fee=data["monthly_fee"],
                lines={metric: (data[f"{metric}_included"], data[f"{metric}_unit_price"]) for metric in METRICS},
                actor=request.user,
            ),
        )
        if saved:
            messages.success(request, f"{Tenant.Plan(posted_plan).label} rate card saved.")
            return redirect("partner_rates")
    return render(
        request,
        "tenants/partner_rates.html",
        {"plans": [(Tenant.Plan(plan).label, plan, form) for plan, form in forms_by_plan.items()]},
    )


@require_GET
def partner_statements(request: HttpRequest) -> HttpResponse:
    """Each tenant's statement for a month from the rate card; `?format=csv` for a billing import."""
    if request.portal_area != "partner":
        raise Http404("Not found")
    start = _month(request.GET.get("month"))
    tenant = None
    if request.GET.get("tenant"):
        tenant = Tenant.objects.filter(partner=request.partner, slug=request.GET["tenant"]).first()
        if tenant is None:
            raise Http404("No such tenant")
    statements = statements_for_month(partner=request.partner, month=start, tenant=tenant)
    month = start.strftime("%Y-%m")
    if request.GET.get("format") == "csv":
        suffix = f"-{tenant.slug}" if tenant else ""
        filename = f"statements-{request.partner.slug}-{month}{suffix}.csv"
        return attachment(statements_csv(statements=statements), filename=filename)
    return render(
        request,
        "tenants/partner_statements.html",
        {
            "month": start,
            "month_value": month,
            "previous": (start - timedelta(days=1)).replace(day=1).strftime("%Y-%m"),
            "following": (month_bounds(start)[1] + timedelta(days=1)).strftime("%Y-%m"),
            "statements": statements,
            "tenant": tenant,
        },
    )
