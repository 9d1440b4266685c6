"""Partner console: usage per tenant and metric for one month, with a CSV export."""

from __future__ import annotations

import calendar
import io
from datetime import date, timedelta

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from portal.spreadsheet import csv_writer
from tenants.models import UsageRecord
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
        response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="usage-{request.partner.slug}-{month}.csv"'
        return response
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
