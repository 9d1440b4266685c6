import datetime as dt

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from mappings.models import Account
from posting.exports import ledger_beancount, ledger_csv
from posting.forms import PolicyForm
from posting.models import JournalEntry, PostingBatch
from posting.selectors import (
    account_ledger,
    batch_summary,
    batch_summary_entry,
    batches_list,
    entries_for_source,
    journal_detail,
    journals_list,
    policy_read,
    source_document,
    trial_balance,
)
from posting.services import POLICY_FIELDS, policy_update
from tenants.models import Membership


def _date(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


def journals(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    if status not in JournalEntry.Status.values:
        status = ""
    search = request.GET.get("q", "").strip()[:100]
    page = Paginator(journals_list(status=status or None, search=search), 50).get_page(request.GET.get("page"))
    return render(
        request,
        "posting/journals.html",
        {"page": page, "status": status, "search": search, "statuses": JournalEntry.Status.choices},
    )


def journal(request: HttpRequest, entry_id: int) -> HttpResponse:
    entry = journal_detail(entry_id=entry_id)
    if entry is None:
        raise Http404("No such journal entry.")
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
    if fmt not in ("csv", "beancount"):
        raise Http404("Exports are csv or beancount.")
    start, end = _date(request.GET.get("from")), _date(request.GET.get("to"))
    if fmt == "csv":
        response = HttpResponse(ledger_csv(start=start, end=end), content_type="text/csv; charset=utf-8")
    else:
        response = HttpResponse(ledger_beancount(start=start, end=end), content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="ledger-{request.tenant.slug}.{fmt}"'
    return response


def _can_edit(request: HttpRequest) -> bool:
    return request.membership_role != Membership.Role.TENANT_VIEWER


def policy(request: HttpRequest) -> HttpResponse:
    can_edit = _can_edit(request)
    current = policy_read()
    form = PolicyForm(initial={name: getattr(current, name) for name in POLICY_FIELDS})
    status = 200
    if request.method == "POST":
        if not can_edit:
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
        status = 400
    return render(
        request,
        "posting/policy.html",
        {"form": form, "can_edit": can_edit, "timezone": request.tenant.timezone},
        status=status,
    )


def batches(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    if status not in PostingBatch.Status.values:
        status = ""
    page = Paginator(batches_list(status=status or None), 50).get_page(request.GET.get("page"))
    return render(
        request, "posting/batches.html", {"page": page, "status": status, "statuses": PostingBatch.Status.choices}
    )


def batch(request: HttpRequest, pk: int) -> HttpResponse:
    found = PostingBatch.objects.filter(pk=pk).first()
    if found is None:
        raise Http404("No such batch.")
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
    account = Account.objects.filter(pk=pk).first()
    if account is None:
        raise Http404("No such account.")
    start, end = _date(request.GET.get("from")), _date(request.GET.get("to"))
    opening, rows = account_ledger(account=account, start=start, end=end)
    return render(
        request,
        "posting/account_ledger.html",
        {"account": account, "opening": opening, "rows": rows, "start": start, "end": end},
    )


def source_document_page(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    document = source_document(kind=kind, pk=pk)
    if document is None:
        raise Http404("No such document.")
    return render(
        request,
        "posting/source_document.html",
        {"kind": kind, "document": document, "entries": entries_for_source(kind=kind, pk=pk)},
    )
