"""Inventory page (tenant domain): available-to-sell by SKU x location with filters, oversell
highlights, each channel's last sync, a chart of ATS by location, and the safety stock editor."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from urllib.parse import quote

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from commerce.forms import ChannelLocationForm, LocationForm, SafetyStockForm
from commerce.inventory import (
    channel_location_remove,
    channel_location_set,
    inventory_location_update,
    safety_stock_set,
)
from commerce.models import ChannelLocation, InventoryLocation
from commerce.selectors import (
    available_to_sell,
    channel_stock_status,
    inventory_locations_list,
    reservations_unallocated,
)
from connectors.models import Connection
from core.forms import form_errors_add
from core.redirects import redirect_next
from core.views import found_or_404
from tenants.middleware import may_write


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
    can_edit = may_write(request)
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
                form_errors_add(form, error)
            else:
                messages.success(request, f"Safety stock for {values['sku']} at {values['location']} saved.")
                return redirect_next(request, request.get_full_path(), default="inventory")
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
    locations = inventory_locations_list()
    for location in locations:
        location.channel_labels = [names.get(m.channel_connection_id, "(removed)") for m in location.channel_list]
    return render(
        request,
        "commerce/inventory.html",
        {
            "page": Paginator(shown, 100).get_page(request.GET.get("page")),
            "locations": locations,
            "unallocated": reservations_unallocated(),
            "search": search,
            "location_id": location_id,
            "oversold_only": oversold_only,
            "pager_query": f"q={quote(search)}&location={quote(location_id)}"
            + ("&oversold=1" if oversold_only else ""),
            "oversold": oversold,
            "sync": sync,
            "chart": _chart(rows),
            "form": form,
            "can_edit": can_edit,
        },
        status=status,
    )


def location_detail(request: HttpRequest, pk: int) -> HttpResponse:
    location = found_or_404(InventoryLocation.objects.filter(pk=pk).first(), "No such location.")
    can_edit = may_write(request)
    form = LocationForm(
        initial={"name": location.name, "kind": location.kind, "safety_stock_default": location.safety_stock_default}
    )
    channel_form = ChannelLocationForm(initial={"channel_location_id": location.external_id})
    status = 200
    if request.method == "POST":
        if not can_edit:
            return HttpResponse("Viewers cannot change stock locations.", status=403)
        action = request.POST.get("action")
        try:
            if action == "update":
                form = LocationForm(request.POST)
                if form.is_valid():
                    inventory_location_update(location=location, actor=request.user, **form.cleaned_data)
                    messages.success(request, "Location saved.")
                    return redirect("inventory_location", pk=location.pk)
            elif action == "channel":
                channel_form = ChannelLocationForm(request.POST)
                if channel_form.is_valid():
                    channel_location_set(
                        location=location,
                        channel_connection=channel_form.cleaned_data["channel_connection"],
                        channel_location_id=channel_form.cleaned_data["channel_location_id"],
                        actor=request.user,
                    )
                    messages.success(request, "The channel now sells from this location; its stock is sent shortly.")
                    return redirect("inventory_location", pk=location.pk)
            elif action == "remove":
                mapping = found_or_404(
                    ChannelLocation.objects.filter(location=location, pk=request.POST.get("mapping")).first(),
                    "No such channel mapping.",
                )
                channel_location_remove(mapping=mapping, actor=request.user)
                messages.success(request, "The channel no longer gets this location's stock.")
                return redirect("inventory_location", pk=location.pk)
            else:
                return HttpResponse("Unknown action.", status=400)
        except ValidationError as error:
            form_errors_add(form if action == "update" else channel_form, error)
        status = 400
    names = dict(Connection.objects.values_list("pk", "name"))
    mappings = [
        {
            "pk": mapping.pk,
            "name": names.get(mapping.channel_connection_id, "(removed)"),
            "as": mapping.channel_location_id,
        }
        for mapping in location.channels.order_by("channel_connection_id")
    ]
    return render(
        request,
        "commerce/location.html",
        {
            "location": location,
            "form": form,
            "channel_form": channel_form,
            "mappings": mappings,
            "can_edit": can_edit,
        },
        status=status,
    )
