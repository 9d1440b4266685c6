"""Fulfilment pages (tenant domain): the board (orders waiting, sent to the warehouse, shipped,
acknowledged by the channel; counts, a chart and the KPIs) and the routing-rule editor (tenant
admins edit; everyone else reads)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from commerce.fulfilment_forms import RoutingRuleForm
from commerce.fulfilment_selectors import (
    STATE_LABELS,
    STATES,
    fulfilment_board,
    order_allocation_exception_rate,
    order_cycle_time,
)
from commerce.kpi_selectors import fulfilment_policy_get
from commerce.models import RoutingRule
from commerce.routing import fulfilment_policy_update, routing_rule_create, routing_rule_delete, routing_rule_update
from connectors.models import Connection
from core.forms import form_apply
from core.views import found_or_404
from tenants.models import Membership

WAREHOUSE_VENDORS = (Connection.Vendor.SHIPSTATION,)


def _can_edit_rules(request: HttpRequest) -> bool:
    return request.membership_role in (Membership.Role.TENANT_ADMIN, Membership.Role.PARTNER_ADMIN)


def _warehouse_systems() -> list[tuple[int, str]]:
    return list(Connection.objects.filter(vendor__in=WAREHOUSE_VENDORS).order_by("name").values_list("pk", "name"))


def fulfilment_board_page(request: HttpRequest) -> HttpResponse:
    board = fulfilment_board()
    labels = [STATE_LABELS[state] for state in STATES]
    chart = {"labels": labels, "datasets": [{"label": "Orders", "data": [board.counts[state] for state in STATES]}]}
    columns = [
        {"state": state, "label": STATE_LABELS[state], "count": board.counts[state], "orders": board.columns[state]}
        for state in STATES
    ]
    return render(
        request,
        "commerce/fulfilment_board.html",
        {
            "columns": columns,
            "chart": chart,
            "cycle": order_cycle_time(),
            "allocation": order_allocation_exception_rate(),
        },
    )


def _rule_values(data: dict) -> dict:
    """The routing-rule services' keyword arguments from a valid RoutingRuleForm's cleaned data."""
    return {
        "name": data["name"],
        "priority": data["priority"],
        "location_id": data["location"].pk,
        "countries": data["countries"],
        "regions": data["regions"],
        "skus": data["skus"],
        "fulfilment_connection_id": data["fulfilment_connection"],
        "active": data["active"],
    }


def _rules_forbidden() -> HttpResponse:
    return HttpResponse("Only tenant admins change routing rules.", status=403)


def routing_rules_page(request: HttpRequest) -> HttpResponse:
    can_edit = _can_edit_rules(request)
    form = RoutingRuleForm(warehouse_systems=_warehouse_systems())
    status = 200
    if request.method == "POST":
        if not can_edit:
            return _rules_forbidden()
        form = RoutingRuleForm(request.POST, warehouse_systems=_warehouse_systems())
        created, rule = form_apply(form, lambda data: routing_rule_create(**_rule_values(data), actor=request.user))
        if created:
            messages.success(request, f"Routing rule “{rule.name}” added.")
            return redirect("fulfilment_rules")
        status = 400
    rules = RoutingRule.objects.select_related("location").order_by("priority", "pk")
    names = dict(Connection.objects.values_list("pk", "name"))
    for rule in rules:
        rule.system_name = names.get(rule.fulfilment_connection_id, "")
    return render(
        request,
        "commerce/routing_rules.html",
        {"rules": rules, "form": form, "can_edit": can_edit, "policy": fulfilment_policy_get()},
        status=status,
    )


def routing_rule_edit_page(request: HttpRequest, pk: int) -> HttpResponse:
    rule = found_or_404(RoutingRule.objects.filter(pk=pk).first(), "No such routing rule.")
    can_edit = _can_edit_rules(request)
    initial = {
        "name": rule.name,
        "priority": rule.priority,
        "location": rule.location_id,
        "countries": ", ".join(rule.countries),
        "regions": ", ".join(rule.regions),
        "skus": ", ".join(rule.skus),
        "fulfilment_connection": rule.fulfilment_connection_id or "",
        "active": rule.active,
    }
    form = RoutingRuleForm(initial=initial, warehouse_systems=_warehouse_systems())
    status = 200
    if request.method == "POST":
        if not can_edit:
            return _rules_forbidden()
        form = RoutingRuleForm(request.POST, warehouse_systems=_warehouse_systems())
        saved, _ = form_apply(
            form, lambda data: routing_rule_update(rule=rule, **_rule_values(data), actor=request.user)
        )
        if saved:
            messages.success(request, "Routing rule saved.")
            return redirect("fulfilment_rules")
        status = 400
    return render(
        request, "commerce/routing_rule_edit.html", {"rule": rule, "form": form, "can_edit": can_edit}, status=status
    )


@require_POST
def routing_rule_delete_page(request: HttpRequest, pk: int) -> HttpResponse:
    rule = found_or_404(RoutingRule.objects.filter(pk=pk).first(), "No such routing rule.")
    if not _can_edit_rules(request):
        return _rules_forbidden()
    routing_rule_delete(rule=rule, actor=request.user)
    messages.success(request, f"Routing rule “{rule.name}” deleted.")
    return redirect("fulfilment_rules")


class ShipTimeForm(forms.Form):
    ship_sla_hours = forms.IntegerField(
        min_value=1, max_value=2000, label="Promised ship time (hours from payment to the first shipment)"
    )


@require_POST
def fulfilment_policy_page(request: HttpRequest) -> HttpResponse:
    """Save the promised ship time (the perfect-order KPI's clock); tenant and partner admins only."""
    if not _can_edit_rules(request):
        return HttpResponse("Only tenant admins change the promised ship time.", status=403)
    form = ShipTimeForm(request.POST)
    if not form.is_valid():
        messages.error(request, "; ".join(error for errors in form.errors.values() for error in errors))
        return redirect("fulfilment_rules")
    fulfilment_policy_update(ship_sla_hours=form.cleaned_data["ship_sla_hours"], actor=request.user)
    messages.success(request, f"Promised ship time saved: {form.cleaned_data['ship_sla_hours']} hours.")
    return redirect("fulfilment_rules")
