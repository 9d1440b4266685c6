"""Inventory page (tenant domain): available-to-sell by SKU x location with filters, oversell
highlights, each channel's last sync, a chart of ATS by location, and the safety stock editor."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from commerce.forms import SafetyStockForm
from commerce.inventory import safety_stock_set
from commerce.models import InventoryLocation
from commerce.selectors import available_to_sell, channel_stock_status
from connectors.models import Connection
from tenants.models import Membership


def _chart(rows) -> dict:
    on_hand: dict[str, Decimal] = defaultdict(Decimal)
    ats: dict[str, Decimal] = defaultdict(Decimal)
    for row in rows:
        on_hand[row.location_name] += row.on_hand
        ats[row.location_name] += row.pushable
    labels = sorted(on_hand)
    return {
        "labels": labels,
        "datasets": [
            {"label": "On hand", "data": [float(on_hand[label]) for label in labels]},
            {"label": "Available to sell", "data": [float(ats[label]) for label in labels]},
        ],
    }


def inventory(request: HttpRequest) -> HttpResponse:
    can_edit = request.membership_role != Membership.Role.TENANT_VIEWER
    form = SafetyStockForm()
    status = 200
    if request.method == "POST":
        if not can_edit:
            return HttpResponse("Viewers cannot change safety stock.", status=403)
        form = SafetyStockForm(request.POST)
        if form.is_valid():
            values = form.cleaned_data
            try:
                safety_stock_set(
                    location=values["location"], sku=values["sku"], quantity=values["quantity"], actor=request.user
                )
            except ValidationError as error:
                for field, errors in error.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                messages.success(request, f"Safety stock for {values['sku']} at {values['location']} saved.")
                return redirect(request.get_full_path())
        status = 400
    search = request.GET.get("q", "").strip()[:120]
    location_id = request.GET.get("location", "")
    location_ids = [int(location_id)] if location_id.isdigit() else None
    oversold_only = request.GET.get("oversold") == "1"
    rows = available_to_sell(sku_search=search or None, location_ids=location_ids).rows
    oversold = sum(1 for row in rows if row.oversold)
    shown = [row for row in rows if row.oversold] if oversold_only else rows
    names = dict(Connection.objects.values_list("pk", "name"))
    sync = [
        {**entry, "name": names.get(entry["channel_connection_id"], "(removed)")} for entry in channel_stock_status()
    ]
    return render(
        request,
        "commerce/inventory.html",
        {
            "page": Paginator(shown, 100).get_page(request.GET.get("page")),
            "locations": InventoryLocation.objects.order_by("name", "external_id"),
            "search": search,
            "location_id": location_id,
            "oversold_only": oversold_only,
            "oversold": oversold,
            "sync": sync,
            "chart": _chart(rows),
            "form": form,
            "can_edit": can_edit,
        },
        status=status,
    )
