import datetime as dt
from collections.abc import Callable
from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import models
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from commerce.models import Payout
from core.spreadsheet import csv_writer
from core.views import attachment, found_or_404
from mappings.models import Account
from posting.exports import FORMATS, ledger_file
from posting.forms import PeriodCloseForm, PeriodReopenForm, PolicyForm
from posting.models import JournalEntry, PeriodClose, PostingBatch, Reconciliation
from posting.periods import period_close, period_close_get, period_reopen
from posting.reconciliation import payout_reconcile
from posting.selectors import (
    account_ledger,
    batch_summary,
    batch_summary_entry,
    batches_list,
    captured_not_paid_out,
    entries_for_source,
    journal_detail,
    journals_list,
    partner_payouts,
    payout_reconciliation,
    payouts_list,
    policy_read,
    source_document,
    trial_balance,
)
from posting.services import POLICY_FIELDS, policy_update
from tenants.middleware import may_write
from tenants.models import Membership
from tenants.selectors import partner_tenants


def _date(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _filtered_list(request: HttpRequest, *, template: str, statuses: type[models.TextChoices], rows) -> HttpResponse:
    """A list page filtered by one of `statuses` and a search text, 50 rows a page."""
    status = request.GET.get("status", "")
    if status not in statuses.values:
        status = ""
    search = request.GET.get("q", "").strip()[:100]
    page = Paginator(rows(status=status or None, search=search), 50).get_page(request.GET.get("page"))
    return render(request, template, {"page": page, "status": status, "search": search, "statuses": statuses.choices})


def journals(request: HttpRequest) -> HttpResponse:
    return _filtered_list(request, template="posting/journals.html", statuses=JournalEntry.Status, rows=journals_list)


def journal(request: HttpRequest, entry_id: int) -> HttpResponse:
    entry = found_or_404(journal_detail(entry_id=entry_id), "No such journal entry.")
    return render(request, "posting/journal_detail.html", {"entry": entry})


def trial_balance_page(request: HttpRequest) -> HttpResponse:
    as_of = _date(request.GET.get("as_of"))
    rows = trial_balance(as_of=as_of)
    totals: dict[str, dict] = {}
    for row in rows:
        total = totals.setdefault(row.currency, {"currency": row.currency, "debit": 0, "credit": 0})
        total["debit"] += row.debit
        total["credit"] += row.credit
    return render(
        request, "posting/trial_balance.html", {"rows": rows, "totals": list(totals.values()), "as_of": as_of}
    )


def ledger_export(request: HttpRequest, fmt: str) -> HttpResponse:
    if fmt not in FORMATS:
        raise Http404("Exports are csv or beancount.")
    start, end = _date(request.GET.get("from")), _date(request.GET.get("to"))
    body, filename, content_type = ledger_file(fmt=fmt, tenant_slug=request.tenant.slug, start=start, end=end)
    return attachment(body, filename=filename, content_type=content_type)


def policy(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _policy_render(request)
    if not may_write(request):
        return HttpResponse("Viewers cannot change the posting policy.", status=403)
    form = PolicyForm(request.POST)
    if form.is_valid():
        try:
            policy_update(**form.cleaned_data, actor=request.user)
        except ValidationError as error:
            form.add_error(None, error.messages)
        else:
            messages.success(request, "Posting policy saved. It applies to documents posted from now on.")
            return redirect("posting_policy")
    return _policy_render(request, form=form, status=400)


def _can_close(request: HttpRequest) -> bool:
    return request.membership_role in (Membership.Role.TENANT_ADMIN, Membership.Role.PARTNER_ADMIN)


def _policy_render(
    request: HttpRequest,
    *,
    form: PolicyForm | None = None,
    close_form: PeriodCloseForm | None = None,
    reopen_form: PeriodReopenForm | None = None,
    status: int = 200,
) -> HttpResponse:
    if form is None:
        current = policy_read()
        form = PolicyForm(initial={name: getattr(current, name) for name in POLICY_FIELDS})
    period = period_close_get()
    return render(
        request,
        "posting/policy.html",
        {
            "form": form,
            "can_edit": may_write(request),
            "can_close": _can_close(request),
            "timezone": request.tenant.timezone,
            "period": period,
            "first_open": period.closed_through + dt.timedelta(days=1) if period.closed_through else None,
            "close_form": close_form or PeriodCloseForm(),
            "reopen_form": reopen_form or PeriodReopenForm(),
        },
        status=status,
    )


def _period_change(
    request: HttpRequest,
    *,
    form_name: str,
    form_class: type[PeriodCloseForm | PeriodReopenForm],
    change: Callable[..., PeriodClose],
    done: Callable[[PeriodClose], str],
) -> HttpResponse:
    """Close or reopen ledger periods from the policy page's form `form_name` (POST only; tenant admins)."""
    if request.method != "POST":
        return redirect("posting_policy")
    if not _can_close(request):
        return HttpResponse("Only a tenant admin can close or reopen ledger periods.", status=403)
    form = form_class(request.POST)
    if form.is_valid():
        try:
            period = change(through=form.cleaned_data["closed_through"], actor=request.user)
        except ValidationError as error:
            form.add_error(None, error.messages)
        else:
            messages.success(request, done(period))
            return redirect("posting_policy")
    return _policy_render(request, **{form_name: form}, status=400)


def period_close_page(request: HttpRequest) -> HttpResponse:
    """Close the built-in ledger through a month end."""
    return _period_change(
        request,
        form_name="close_form",
        form_class=PeriodCloseForm,
        change=period_close,
        done=lambda period: f"Ledger closed through {period.closed_through:%Y-%m-%d}.",
    )


def period_reopen_page(request: HttpRequest) -> HttpResponse:
    """Reopen ledger periods back to an earlier month end, or all of them."""
    return _period_change(
        request, form_name="reopen_form", form_class=PeriodReopenForm, change=period_reopen, done=_reopened_message
    )


def _reopened_message(period: PeriodClose) -> str:
    closed = f"closed through {period.closed_through:%Y-%m-%d}" if period.closed_through else "fully open"
    return f"Ledger reopened: now {closed}."


def batches(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    if status not in PostingBatch.Status.values:
        status = ""
    page = Paginator(batches_list(status=status or None), 50).get_page(request.GET.get("page"))
    return render(
        request, "posting/batches.html", {"page": page, "status": status, "statuses": PostingBatch.Status.choices}
    )


def batch(request: HttpRequest, pk: int) -> HttpResponse:
    found = found_or_404(PostingBatch.objects.filter(pk=pk).first(), "No such batch.")
    entries = journals_list().filter(batch=found).order_by("date", "pk")
    return render(
        request,
        "posting/batch_detail.html",
        {
            "batch": found,
            "summary": batch_summary(batch=found),
            "summary_entry": batch_summary_entry(batch=found),
            "entries": entries,
        },
    )


def account_ledger_page(request: HttpRequest, pk: int) -> HttpResponse:
    account = found_or_404(Account.objects.filter(pk=pk).first(), "No such account.")
    start, end = _date(request.GET.get("from")), _date(request.GET.get("to"))
    opening, rows = account_ledger(account=account, start=start, end=end)
    return render(
        request,
        "posting/account_ledger.html",
        {"account": account, "opening": opening, "rows": rows, "start": start, "end": end},
    )


def source_document_page(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    document = found_or_404(source_document(kind=kind, pk=pk), "No such document.")
    return render(
        request,
        "posting/source_document.html",
        {"kind": kind, "document": document, "entries": entries_for_source(kind=kind, pk=pk)},
    )


def payouts(request: HttpRequest) -> HttpResponse:
    return _filtered_list(request, template="posting/payouts.html", statuses=Reconciliation.Status, rows=payouts_list)


def payout(request: HttpRequest, pk: int) -> HttpResponse:
    view = found_or_404(payout_reconciliation(payout_id=pk), "No such payout.")
    return render(
        request,
        "posting/payout_detail.html",
        {"view": view, "payout": view.payout, "can_edit": may_write(request)},
    )


@require_POST
def payout_recheck(request: HttpRequest, pk: int) -> HttpResponse:
    """Check the payout again (after the orders or refunds it settles were posted, say)."""
    found = found_or_404(Payout.objects.filter(pk=pk).first(), "No such payout.")
    if not may_write(request):
        return HttpResponse("Viewers cannot re-check a payout.", status=403)
    reconciliation = payout_reconcile(payout=found)
    messages.success(request, f"Payout checked again: {reconciliation.get_status_display().lower()}.")
    return redirect("posting_payout", pk=found.pk)


UNSETTLED_DAYS_MAX = 3650


def _unsettled_days(request: HttpRequest) -> int | None:
    raw = request.GET.get("days", "7").strip() or "7"
    try:
        days = int(raw)
    except ValueError:
        return None
    return days if 0 <= days <= UNSETTLED_DAYS_MAX else None


def unsettled_report(request: HttpRequest, fmt: str = "html") -> HttpResponse:
    """Payments captured on orders whose settlement has appeared in no payout after N days."""
    days = _unsettled_days(request)
    if days is None:
        return HttpResponse(
            f"days must be a whole number from 0 to {UNSETTLED_DAYS_MAX}.", status=400, content_type="text/plain"
        )
    rows = captured_not_paid_out(days=days)
    if fmt == "csv":
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        writer = csv_writer(response)
        writer.writerow(["order", "order_id", "gateway", "currency", "amount", "paid_at", "days_since_paid"])
        for row in rows:
            writer.writerow(
                [row.order, row.order_id, row.gateway, row.currency, row.amount, row.paid_at.isoformat(), row.days]
            )
        response["Content-Disposition"] = f'attachment; filename="unsettled-{request.tenant.slug}-{days}d.csv"'
        return response
    totals: dict[str, Decimal] = {}
    for row in rows:
        totals[row.currency] = totals.get(row.currency, Decimal(0)) + row.amount
    return render(
        request,
        "posting/unsettled.html",
        {"rows": rows, "days": days, "totals": sorted(totals.items())},
    )


def partner_payouts_page(request: HttpRequest) -> HttpResponse:
    """Partner console: the payouts of every tenant of this partner, with their reconciliation."""
    if request.portal_area != "partner":
        raise Http404("Not found")

    status = request.GET.get("status", "")
    if status not in Reconciliation.Status.values:
        status = ""
    search = request.GET.get("q", "").strip()[:100]
    try:
        number = int(request.GET.get("page", "1"))
    except ValueError:
        number = 1
    page = partner_payouts(
        tenants=partner_tenants(partner=request.partner), status=status or None, search=search, page=number
    )
    return render(
        request,
        "posting/partner_payouts.html",
        {"page": page, "status": status, "search": search, "statuses": Reconciliation.Status.choices},
    )
