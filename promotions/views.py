"""Promotion pages: list with KPIs, month calendar, editor with validation results, approval
queue, and the per-channel deployment board (htmx polls it while channels are in flight).

Thin: forms check shape, the lifecycle and deployment services do the work; a refused transition comes back as a
message and nothing changed. Viewers read but may not act (403)."""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.forms import error_messages
from core.spreadsheet import RowsInvalid
from core.tenancy import tenant_zone
from core.views import found_or_404
from promotions import deployment, launch, lifecycle, policy, price_changes, prices, redemption, selectors
from promotions.forms import (
    ActionForm,
    PriceListForm,
    PriceListImportForm,
    PromotionForm,
    PromotionPolicyForm,
    form_initial,
)
from promotions.models import ChannelDeployment, ChannelPrice, PriceList, Promotion
from promotions.transitions import FINANCE_ROLES
from tenants.middleware import may_write

T = TypeVar("T")
ACTIONS = ("validate", "submit", "approve", "reject", "publish", "pause", "resume", "rollback", "continue")


def _promotion_or_404(pk: int) -> Promotion:
    return found_or_404(selectors.promotion_get(pk=pk), "No such promotion.")


def _form_saved(form: Form, save: Callable[[], T]) -> T | None:
    """What `save()` returns, or None with the service's refusal shown on the form."""
    try:
        return save()
    except ValidationError as error:
        for message in error_messages(error):
            form.add_error(None, message)
        return None


@contextmanager
def _refusals_shown(request: HttpRequest) -> Iterator[None]:
    """A refused transition comes back as a message, and nothing changed."""
    try:
        yield
    except ValidationError as error:
        for message in error_messages(error):
            messages.error(request, message)
    except PermissionDenied as error:
        messages.error(request, str(error))


def _kpi_chart(kpis: selectors.PromotionKpis) -> dict:
    vendors = sorted(set(kpis.approval_to_live_median_minutes) | set(kpis.approval_to_live_p95_minutes))
    return {
        "labels": vendors,
        "datasets": [
            {
                "label": "Median minutes, approval → live",
                "data": [kpis.approval_to_live_median_minutes.get(v) for v in vendors],
            },
            {"label": "p95 minutes", "data": [kpis.approval_to_live_p95_minutes.get(v) for v in vendors]},
        ],
    }


@require_GET
def promotion_list(request: HttpRequest) -> HttpResponse:
    wanted = request.GET.get("status") or None
    if wanted not in (None, *Promotion.Status.values):
        wanted = None
    kpis = selectors.promotion_kpis()
    return render(
        request,
        "promotions/list.html",
        {
            "promotions": selectors.promotions_list(status=wanted)[:200],
            "statuses": Promotion.Status.choices,
            "status": wanted,
            "kpis": kpis,
            "accuracy_percent": round(kpis.activation_accuracy * 100, 1)
            if kpis.activation_accuracy is not None
            else None,
            "kpi_chart": _kpi_chart(kpis),
            "can_act": may_write(request),
        },
    )


@require_GET
def promotion_calendar(request: HttpRequest) -> HttpResponse:
    zone = tenant_zone()
    today = timezone.now().astimezone(zone).date()
    try:
        year, month = (int(part) for part in request.GET.get("month", "").split("-"))
        dt.date(year, month, 1)
    except ValueError:
        year, month = today.year, today.month
    rows = selectors.promotions_in_month(year=year, month=month, tz=zone)
    weeks = []
    for week in calendar.Calendar(firstweekday=0).monthdatescalendar(year, month):
        days = []
        for day in week:
            start = dt.datetime.combine(day, dt.time.min, tzinfo=zone)
            end = start + dt.timedelta(days=1)
            running = [
                promotion
                for promotion, version in rows
                if version.starts_at < end and (version.ends_at is None or version.ends_at > start)
            ]
            days.append({"date": day, "in_month": day.month == month, "today": day == today, "promotions": running})
        weeks.append(days)
    first = dt.date(year, month, 1)
    previous = (first - dt.timedelta(days=1)).strftime("%Y-%m")
    following = (first + dt.timedelta(days=32)).strftime("%Y-%m")
    return render(
        request,
        "promotions/calendar.html",
        {"weeks": weeks, "month": first, "previous": previous, "following": following, "zone": zone},
    )


@require_http_methods(["GET", "POST"])
def promotion_new(request: HttpRequest) -> HttpResponse:
    if not may_write(request):
        return HttpResponseForbidden("Viewers cannot create promotions.")
    with timezone.override(tenant_zone()):
        form = PromotionForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            promotion = _form_saved(
                form,
                lambda: lifecycle.promotion_create(
                    key=form.cleaned_data["key"],
                    name=form.cleaned_data["name"],
                    actor=request.user,
                    **form.version_values(),
                ),
            )
            if promotion is not None:
                messages.success(request, f"Created {promotion.key} as a draft (version 1).")
                return redirect("promotions_detail", pk=promotion.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "promotions/edit.html", {"form": form, "promotion": None}, status=status)


@require_http_methods(["GET", "POST"])
def promotion_edit(request: HttpRequest, pk: int) -> HttpResponse:
    promotion = _promotion_or_404(pk)
    if not may_write(request):
        return HttpResponseForbidden("Viewers cannot edit promotions.")
    zone = tenant_zone()
    with timezone.override(zone):
        form = PromotionForm(request.POST or None, initial=form_initial(promotion, zone), editing=True)
        if request.method == "POST" and form.is_valid():
            version = _form_saved(
                form,
                lambda: lifecycle.promotion_edit(
                    promotion=promotion, actor=request.user, name=form.cleaned_data["name"], **form.version_values()
                ),
            )
            if version is not None:
                messages.success(request, f"Saved as version {version.number}; validate it before submitting.")
                return redirect("promotions_detail", pk=promotion.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "promotions/edit.html", {"form": form, "promotion": promotion}, status=status)


def _board_context(promotion: Promotion) -> dict:
    alignment = selectors.version_alignment(promotion=promotion)
    in_flight = any(row.state in (ChannelDeployment.State.PENDING, ChannelDeployment.State.SENT) for row in alignment)
    overview = selectors.promotion_overview(promotion=promotion)
    return {"promotion": promotion, "alignment": alignment, "in_flight": in_flight, "overview": overview}


@require_GET
def promotion_detail(request: HttpRequest, pk: int) -> HttpResponse:
    promotion = _promotion_or_404(pk)
    version = promotion.current_version
    return render(
        request,
        "promotions/detail.html",
        {
            **_board_context(promotion),
            "version": version,
            "versions": selectors.promotion_versions(promotion=promotion),
            "validation": version.validation or {},
            "zone": tenant_zone(),
            "can_act": may_write(request),
            "actions": selectors.promotion_actions(promotion=promotion),
            "timeline": redemption.promotion_timeline(promotion=promotion, tz=tenant_zone()),
        },
    )


@require_GET
def promotion_board_fragment(request: HttpRequest, pk: int) -> HttpResponse:
    promotion = _promotion_or_404(pk)
    return render(request, "promotions/_board.html", {**_board_context(promotion), "can_act": may_write(request)})


@require_POST
def promotion_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    if action not in ACTIONS:
        raise Http404("No such action.")
    promotion = _promotion_or_404(pk)
    if not may_write(request):
        return HttpResponseForbidden("Viewers cannot act on promotions.")
    form = ActionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "The channel must be a channel id.")
        return redirect("promotions_detail", pk=pk)
    channel = form.cleaned_data.get("channel")
    channels = [channel] if channel else None
    who = {"actor": request.user}
    with _refusals_shown(request):
        if action == "validate":
            results = lifecycle.promotion_validate(promotion=promotion, **who)
            if results["ok"]:
                messages.success(request, "Every rule passed; the version can be submitted.")
            else:
                messages.error(request, f"{len(results['errors'])} rule(s) failed; see the validation results.")
        elif action == "submit":
            lifecycle.promotion_submit(promotion=promotion, **who)
            messages.success(request, "Submitted for approval.")
        elif action == "approve":
            lifecycle.promotion_approve(promotion=promotion, **who)
            messages.success(request, "Approved; it can be published.")
        elif action == "reject":
            lifecycle.promotion_reject(promotion=promotion, reason=form.cleaned_data.get("reason", ""), **who)
            messages.success(request, "Rejected.")
        elif action == "publish":
            deployments = deployment.promotion_publish(promotion=promotion, **who)
            messages.success(request, f"Publishing to {len(deployments)} channel(s).")
        elif action == "pause":
            done = deployment.promotion_pause(promotion=promotion, connection_ids=channels, **who)
            messages.success(request, f"Paused on {len(done)} channel(s).")
        elif action == "resume":
            done = deployment.promotion_resume(promotion=promotion, connection_ids=channels, **who)
            messages.success(request, f"Resumed on {len(done)} channel(s).")
        elif action == "continue":
            done = launch.promotion_launch_continue(promotion=promotion, **who)
            messages.success(request, f"Launch continued: {len(done)} held channel(s) sent now.")
        else:
            done = deployment.promotion_rollback(promotion=promotion, connection_ids=channels, **who)
            messages.success(request, f"Rolled back on {len(done)} channel(s).")
    target = request.POST.get("next", "")
    if target == "approvals":
        return redirect(reverse("promotions_approvals"))
    return redirect("promotions_detail", pk=pk)


@require_GET
def approval_queue(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "promotions/approvals.html",
        {"promotions": selectors.approval_queue(), "can_act": may_write(request)},
    )


@require_GET
def deployment_board(request: HttpRequest) -> HttpResponse:
    board = selectors.promotions_board()
    template = "promotions/_board_all.html" if request.htmx else "promotions/board.html"
    in_flight = any(
        row.state in (ChannelDeployment.State.PENDING, ChannelDeployment.State.SENT)
        for _p, rows, _overview in board
        for row in rows
    )
    return render(request, template, {"board": board, "in_flight": in_flight})


@require_http_methods(["GET", "POST"])
def price_lists(request: HttpRequest) -> HttpResponse:
    form = None
    if may_write(request):
        with timezone.override(tenant_zone()):
            form = PriceListForm(request.POST or None)
            if request.method == "POST" and form.is_valid():
                data = form.cleaned_data
                price_list = _form_saved(
                    form,
                    lambda: prices.price_list_create(
                        key=data["key"],
                        name=data["name"],
                        prices=data["prices"],
                        starts_at=data["starts_at"],
                        channels=list(data["channels"]),
                        approval_threshold_percent=data["approval_threshold_percent"],
                        costs=data.get("costs") or {},
                        actor=request.user,
                    ),
                )
                if price_list is not None:
                    return redirect("promotions_price_list", pk=price_list.pk)
    elif request.method == "POST":
        return HttpResponseForbidden("Viewers cannot create price lists.")
    lists = PriceList.objects.select_related("current_version", "published_version")
    status = 400 if request.method == "POST" else 200
    return render(request, "promotions/price_lists.html", {"lists": lists, "form": form}, status=status)


PRICE_LIST_ACTIONS = {
    "validate": prices.price_list_validate,
    "submit": prices.price_list_submit,
    "publish": prices.price_list_publish,
    "rollback": price_changes.price_list_rollback,
}


def _price_list_import(request: HttpRequest, price_list: PriceList) -> tuple[PriceListImportForm, list[str]]:
    """The CSV upload: a new draft version, or the form with its row errors (nothing imported)."""
    form = PriceListImportForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            data = form.cleaned_data
            version = price_changes.price_list_import_csv(
                price_list=price_list, file=data["file"], mode=data["mode"], actor=request.user
            )
        except RowsInvalid as error:
            return form, [str(row) for row in error.rows]
        except ValidationError as error:
            return form, error_messages(error)
        messages.success(request, f"Imported as version {version.number} (a draft): validate it next.")
    return form, []


@require_http_methods(["GET", "POST"])
def price_list_detail(request: HttpRequest, pk: int) -> HttpResponse:
    price_list = PriceList.objects.select_related("current_version", "published_version").filter(pk=pk).first()
    if price_list is None:
        raise Http404("No such price list.")
    import_form, row_errors = PriceListImportForm(), []
    if request.method == "POST":
        if not may_write(request):
            return HttpResponseForbidden("Viewers cannot act on price lists.")
        action = request.POST.get("action", "")
        if action == "import":
            import_form, row_errors = _price_list_import(request, price_list)
            if import_form.is_valid() and not row_errors:
                return redirect("promotions_price_list", pk=pk)
        elif action == "approve":
            with _refusals_shown(request):
                prices.price_list_approve(price_list=price_list, actor=request.user)
                messages.success(request, "Approve: done.")
            return redirect("promotions_price_list", pk=pk)
        elif action in PRICE_LIST_ACTIONS:
            with _refusals_shown(request):
                PRICE_LIST_ACTIONS[action](price_list=price_list, actor=request.user)
                messages.success(request, f"{action.title()}: done.")
            return redirect("promotions_price_list", pk=pk)
        else:
            messages.error(request, "Unknown action.")
            return redirect("promotions_price_list", pk=pk)
    version = price_list.current_version
    with timezone.override(tenant_zone()):
        return render(
            request,
            "promotions/price_list.html",
            {
                "price_list": price_list,
                "version": version,
                "zone": tenant_zone(),
                "previous": price_changes.previous_published_version(price_list),
                "deployments": version.deployments.select_related("connection"),
                "shown": ChannelPrice.objects.filter(deployment__version__price_list=price_list).select_related(
                    "connection"
                )[:200],
                "can_act": may_write(request),
                "import_form": import_form,
                "row_errors": row_errors,
            },
            status=400 if request.method == "POST" else 200,  # a good import or any other action redirected
        )


@require_http_methods(["GET", "POST"])
def promotion_policy(request: HttpRequest) -> HttpResponse:
    """The tenant's promotion policy: minimum margin, budget warnings, stock guard hysteresis."""
    current = policy.promotion_policy_get()
    initial = {
        "min_margin_percent": current.min_margin_percent,
        "budget_warn_percents": ", ".join(str(percent) for percent in current.budget_warn_percents or []),
        "stock_hysteresis": current.stock_hysteresis,
        "claim_overdue_days": current.claim_overdue_days,
    }
    if request.method == "POST" and request.membership_role not in FINANCE_ROLES:
        return HttpResponseForbidden("Only a finance approver (a tenant admin) may change the promotion policy.")
    form = PromotionPolicyForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            saved = _form_saved(form, lambda: policy.promotion_policy_update(actor=request.user, **form.cleaned_data))
        except PermissionDenied as error:
            return HttpResponseForbidden(str(error))
        if saved is not None:
            messages.success(request, "Promotion policy saved.")
            return redirect("promotions_policy")
    status = 400 if request.method == "POST" else 200
    return render(request, "promotions/policy.html", {"form": form}, status=status)
