"""Returns pages (tenant domain): the queue with KPIs, a chart and approve/reject buttons; one
return with its lines, links and timeline and the next actions; the portal's create-return form
(channels without returns of their own, e.g. WooCommerce). Viewers read; they never act."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import quote

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from commerce.models import Order, Refund, Return, ReturnLine
from commerce.returns import (
    TRANSITIONS,
    IllegalTransition,
    LineRequest,
    return_approve,
    return_close,
    return_create,
    return_inspect,
    return_policy_get,
    return_policy_update,
    return_receive,
    return_refund_link,
    return_reject,
    return_ship,
    returnable_quantity,
)
from commerce.returns_selectors import (
    return_get,
    return_kpis,
    return_refunds_available,
    returns_by_status,
    returns_chart,
    returns_list,
)
from core.views import found_or_404
from tenants.middleware import may_write


def _messages(request: HttpRequest, error: Exception) -> None:
    if isinstance(error, ValidationError):
        for message in error.messages:
            messages.error(request, message)
    else:
        messages.error(request, str(error) or "You cannot do that.")


def _act(request: HttpRequest, ret: Return, action: str) -> Return:
    """Run one action from a form post on `ret`."""
    user = request.user
    dispositions = {
        line.pk: {
            "disposition": request.POST.get(f"disposition-{line.pk}", ""),
            "condition": request.POST.get(f"condition-{line.pk}", ""),
        }
        for line in ret.lines.all()
    }
    if action == "approve":
        return return_approve(ret=ret, actor=user)
    if action == "reject":
        return return_reject(ret=ret, actor=user, reason=request.POST.get("reason", ""))
    if action == "ship":
        return return_ship(ret=ret, actor=user, tracking_number=request.POST.get("tracking_number", ""))
    if action == "receive":
        return return_receive(ret=ret, actor=user, lines=dispositions)
    if action == "inspect":
        return return_inspect(ret=ret, actor=user, lines=dispositions)
    if action == "close":
        return return_close(ret=ret, actor=user, note=request.POST.get("note", ""))
    if action == "link_refund":
        refund = found_or_404(
            Refund.objects.filter(pk=request.POST.get("refund") or 0, order_id=ret.order_id).first(),
            "No such refund of this order.",
        )
        return return_refund_link(ret=ret, refund=refund, actor=user)
    raise ValidationError(f"Unknown action {action!r}.")


def _post_action(request: HttpRequest, ret: Return) -> HttpResponse | None:
    """Act and redirect (the detail page); None with messages when the action was refused."""
    if not may_write(request):
        return HttpResponse("Viewers cannot act on returns.", status=403)
    action = request.POST.get("action", "")
    try:
        ret = _act(request, ret, action)
    except IllegalTransition as error:
        _messages(request, error)
        return HttpResponse(status=409, content=error.messages[0])
    except (ValidationError, PermissionDenied) as error:
        _messages(request, error)
        return None
    messages.success(request, f"{ret.name}: {ret.get_status_display().lower()}.")
    return None


def returns_queue(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        pk = request.POST.get("return", "")
        ret = found_or_404(return_get(return_id=int(pk)) if pk.isdigit() and len(pk) < 18 else None, "No such return.")
        response = _post_action(request, ret)
        if response is not None and response.status_code == 403:
            return response
        return redirect(f"{request.path}?status={request.GET.get('status', '')}")
    status = request.GET.get("status", "")
    status = status if status in Return.Status.values else ""
    search = request.GET.get("q", "").strip()[:60]
    page = Paginator(returns_list(status=status or None, search=search or None), 50).get_page(request.GET.get("page"))
    return render(
        request,
        "commerce/returns.html",
        {
            "page": page,
            "status": status,
            "search": search,
            "pager_query": f"status={status}&q={quote(search)}",
            "statuses": Return.Status.choices,
            "counts": returns_by_status(),
            "kpis": return_kpis(),
            "chart": returns_chart(),
            "can_act": may_write(request),
        },
    )


def return_detail(request: HttpRequest, return_id: int) -> HttpResponse:
    ret = found_or_404(return_get(return_id=return_id), "No such return.")
    if request.method == "POST":
        response = _post_action(request, ret)
        if response is not None:
            return response
        return redirect("return_detail", return_id=ret.pk)
    return render(
        request,
        "commerce/return_detail.html",
        {
            "ret": ret,
            "lines": ret.lines.select_related("order_line"),
            "events": ret.events.all(),
            "refunds": ret.refunds.all(),
            "available_refunds": return_refunds_available(ret=ret),
            "next": sorted(TRANSITIONS[ret.status]),
            "dispositions": ReturnLine.Disposition.choices,
            "conditions": ReturnLine.Condition.choices,
            "can_act": may_write(request),
        },
    )


class ReturnPolicyForm(forms.Form):
    second_approval_above = forms.DecimalField(
        max_digits=12, decimal_places=2, min_value=0, help_text="Returns worth more need a second, different approver."
    )
    refund_unreceived_days = forms.IntegerField(min_value=1, max_value=365, help_text="Refunded, goods not back.")
    received_unrefunded_days = forms.IntegerField(min_value=1, max_value=365, help_text="Goods back, not refunded.")


def return_policy_view(request: HttpRequest) -> HttpResponse:
    """The tenant's return policy (approval limit, mismatch days); admins and partner staff only."""
    if not may_write(request):
        return HttpResponse("Viewers cannot change the return policy.", status=403)
    policy = return_policy_get()
    form = ReturnPolicyForm(
        request.POST or None,
        initial={name: getattr(policy, name) for name in ReturnPolicyForm.base_fields},
    )
    if request.method == "POST" and form.is_valid():
        return_policy_update(actor=request.user, **form.cleaned_data)
        messages.success(request, "Return policy saved.")
        return redirect("returns")
    return render(
        request, "commerce/return_policy.html", {"form": form}, status=400 if request.method == "POST" else 200
    )


class ReturnForm(forms.Form):
    reason = forms.CharField(max_length=255, required=False)
    restocking_fee = forms.DecimalField(max_digits=12, decimal_places=2, min_value=0, initial=0)
    shipping_cost = forms.DecimalField(max_digits=12, decimal_places=2, min_value=0, initial=0)
    shipping_paid_by = forms.ChoiceField(choices=Return.ShippingPaidBy.choices)


def return_new(request: HttpRequest) -> HttpResponse:
    """Step 1: the order's number (GET ?order=); step 2: quantities per line (POST)."""
    if not may_write(request):
        return HttpResponse("Viewers cannot create returns.", status=403)
    number = request.GET.get("order", "").strip()[:120]
    order = Order.objects.filter(external_id=number).order_by("-pk").first() if number else None
    lines = [(line, returnable_quantity(order_line=line)) for line in order.lines.all()] if order else []
    form = ReturnForm(request.POST or None)
    if request.method == "POST" and order is not None and form.is_valid():
        wanted = [
            LineRequest(line, int(request.POST.get(f"qty-{line.pk}") or 0), request.POST.get(f"reason-{line.pk}", ""))
            for line, _left in lines
            if (request.POST.get(f"qty-{line.pk}") or "0").isdigit() and int(request.POST.get(f"qty-{line.pk}") or 0)
        ]
        try:
            ret = return_create(order=order, lines=wanted, actor=request.user, **form.cleaned_data)
        except ValidationError as error:
            _messages(request, error)
        else:
            messages.success(request, f"{ret.name} requested.")
            return redirect("return_detail", return_id=ret.pk)
    return render(
        request,
        "commerce/return_form.html",
        {"order": order, "number": number, "lines": lines, "form": form, "zero": Decimal(0)},
        status=400 if request.method == "POST" else (404 if number and order is None else 200),
    )
