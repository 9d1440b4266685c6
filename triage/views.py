"""The tenant's exception inbox pages: list with filters and bulk actions, detail with actions.

Thin: forms check shape, triage.services does the work; a service's ValidationError comes back as
form errors with status 400 and nothing changed. Viewers read but may not act (403)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from core.forms import form_apply, form_errors_add
from core.redirects import redirect_next
from tenants.middleware import may_write
from triage import selectors, services
from triage.forms import (
    AssignForm,
    BulkForm,
    CommentForm,
    InboxFilterForm,
    PayloadForm,
    ReasonForm,
    SnoozeForm,
)
from triage.models import Exception as TriageException

PAGE_SIZE = 50


def _inbox_context(request: HttpRequest, bulk_form: BulkForm | None = None) -> dict:
    filter_form = InboxFilterForm(request.GET or None)
    filters = filter_form.filters()
    page = Paginator(selectors.exceptions_list(filters=filters, user=request.user), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    query = request.GET.copy()
    query.pop("page", None)
    return {
        "filter_form": filter_form,
        "filters": filters,
        "page": page,
        "query": query.urlencode(),
        "counts": selectors.exception_counts(),
        "bulk_form": bulk_form or BulkForm(initial={"next": request.get_full_path()}),
        "assignable": selectors.assignable_users(),
        "can_act": may_write(request),
        "now": timezone.now(),
    }


@require_GET
def inbox(request: HttpRequest) -> HttpResponse:
    return render(request, "triage/inbox.html", _inbox_context(request))


@require_POST
def bulk(request: HttpRequest) -> HttpResponse:
    if not may_write(request):
        return HttpResponseForbidden("Viewers cannot act on exceptions.")
    form = BulkForm(request.POST)
    assignee = None
    if form.is_valid() and form.cleaned_data["action"] == "assign" and form.cleaned_data["assignee"]:
        assignee = selectors.assignable_user_get(email=form.cleaned_data["assignee"])
        if assignee is None:
            form.add_error("assignee", selectors.ASSIGNEE_REFUSED)
    if not form.is_valid():
        return render(request, "triage/inbox.html", _inbox_context(request, bulk_form=form), status=400)
    data = form.cleaned_data
    try:
        result = services.exceptions_bulk(
            action=data["action"],
            exception_ids=data["ids"],
            actor=request.user,
            reason=data["reason"],
            assignee=assignee,
        )
    except ValidationError as error:
        form_errors_add(form, error)
        return render(request, "triage/inbox.html", _inbox_context(request, bulk_form=form), status=400)
    if result["done"]:
        messages.success(request, f"{data['action'].title()}: {len(result['done'])} exception(s) done.")
    for exception_id, message in result["errors"].items():
        messages.error(request, f"#{exception_id}: {message}")
    return redirect_next(request, data["next"], default="triage_inbox")


def _detail_or_404(exception_id: int) -> selectors.ExceptionDetail:
    detail = selectors.exception_detail(exception_id=exception_id)
    if detail is None:
        raise Http404("No such exception.")
    return detail


def _detail_context(request: HttpRequest, detail: selectors.ExceptionDetail, **forms) -> dict:
    payload_occurrence = next((o for o in detail.occurrences if o.payload is not None and o.resolved_at is None), None)
    payload_form = forms.pop("payload_form", None)
    if payload_form is None and payload_occurrence is not None:
        payload_form = PayloadForm(
            initial={
                "occurrence": payload_occurrence.pk,
                "payload": _json(
                    payload_occurrence.edited_payload
                    if payload_occurrence.edited_payload is not None
                    else payload_occurrence.payload
                ),
            }
        )
    return {
        "detail": detail,
        "exception": detail.exception,
        "assign_form": forms.pop("assign_form", None)
        or AssignForm(initial={"assignee": detail.exception.assignee_email}),
        "comment_form": forms.pop("comment_form", None) or CommentForm(),
        "resolve_form": forms.pop("resolve_form", None) or ReasonForm(),
        "ignore_form": forms.pop("ignore_form", None) or ReasonForm(),
        "snooze_form": forms.pop("snooze_form", None) or SnoozeForm(),
        "retry_errors": forms.pop("retry_errors", None),
        "payload_form": payload_form,
        "payload_occurrence": payload_occurrence,
        "assignable": selectors.assignable_users(),
        "can_act": may_write(request),
        "reason_required": detail.exception.kind in services.REASON_REQUIRED_KINDS,
        "now": timezone.now(),
    }


def _json(value: object) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)


@require_GET
def detail(request: HttpRequest, exception_id: int) -> HttpResponse:
    return render(request, "triage/detail.html", _detail_context(request, _detail_or_404(exception_id)))


ACTIONS = ("assign", "comment", "snooze", "resolve", "ignore", "retry", "payload")


@require_POST
def action(request: HttpRequest, exception_id: int, name: str) -> HttpResponse:
    """One person's action on one exception. Unknown actions are 404; refused ones re-render with
    the reason (400) and change nothing."""
    if name not in ACTIONS:
        raise Http404("No such action.")
    exception = selectors.exception_get(exception_id=exception_id)
    if exception is None:
        raise Http404("No such exception.")
    if not may_write(request):
        return HttpResponseForbidden("Viewers cannot act on exceptions.")
    handler = {
        "assign": _assign,
        "comment": _comment,
        "snooze": _snooze,
        "resolve": _resolve,
        "ignore": _ignore,
        "retry": _retry,
        "payload": _payload,
    }[name]
    return handler(request, exception)


def _refused(request: HttpRequest, exception: TriageException, **forms) -> HttpResponse:
    detail = _detail_or_404(exception.pk)
    return render(request, "triage/detail.html", _detail_context(request, detail, **forms), status=400)


def _done(request: HttpRequest, exception: TriageException, message: str) -> HttpResponse:
    messages.success(request, message)
    return redirect("triage_detail", exception_id=exception.pk)


def _assign(request: HttpRequest, exception: TriageException) -> HttpResponse:
    def act(data: dict) -> str:
        email = data["assignee"].strip()
        assignee = selectors.assignable_user_get(email=email) if email else None
        if email and assignee is None:
            raise ValidationError({"assignee": selectors.ASSIGNEE_REFUSED})
        services.exception_assign(exception=exception, assignee=assignee, actor=request.user)
        return f"Assigned to {email}." if email else "Unassigned."

    return _form_action(request, exception, AssignForm(request.POST), "assign_form", act)


def _form_action(
    request: HttpRequest,
    exception: TriageException,
    form: Form,
    form_key: str,
    act: Callable[[dict], str],
) -> HttpResponse:
    """Validate `form`, run `act(cleaned_data)` (the service call, returning the success message)
    and redirect; a refused form or service re-renders the page with the reason."""
    done, message = form_apply(form, act)
    if done:
        return _done(request, exception, message)
    return _refused(request, exception, **{form_key: form})


def _comment(request: HttpRequest, exception: TriageException) -> HttpResponse:
    def act(data: dict) -> str:
        services.exception_comment(exception=exception, body=data["body"], actor=request.user)
        return "Comment added."

    return _form_action(request, exception, CommentForm(request.POST), "comment_form", act)


def _snooze(request: HttpRequest, exception: TriageException) -> HttpResponse:
    def act(data: dict) -> str:
        until = timezone.now() + dt.timedelta(hours=data["hours"])
        services.exception_snooze(exception=exception, until=until, actor=request.user)
        return f"Snoozed until {until:%Y-%m-%d %H:%M} UTC."

    return _form_action(request, exception, SnoozeForm(request.POST), "snooze_form", act)


def _resolve(request: HttpRequest, exception: TriageException) -> HttpResponse:
    return _close_action(request, exception, services.exception_resolve, "resolve_form", "Resolved.")


def _ignore(request: HttpRequest, exception: TriageException) -> HttpResponse:
    return _close_action(request, exception, services.exception_ignore, "ignore_form", "Ignored.")


def _close_action(
    request: HttpRequest, exception: TriageException, close: Callable[..., object], form_key: str, message: str
) -> HttpResponse:
    def act(data: dict) -> str:
        close(exception=exception, reason=data["reason"], actor=request.user)
        return message

    return _form_action(request, exception, ReasonForm(request.POST), form_key, act)


def _retry_requested(request: HttpRequest, exception: TriageException) -> HttpResponse:
    after = selectors.exception_last_activity_id(exception=exception)
    services.exception_retry(exception=exception, actor=request.user)
    status_url = reverse("triage_retry_status", args=[exception.pk]) + "?" + urlencode({"after": after})
    if request.headers.get("HX-Request") == "true":
        return render(request, "triage/_retry_status.html", {"exception": exception, "status_url": status_url})
    messages.success(request, "Retry queued: the result appears in the activity below.")
    return redirect("triage_detail", exception_id=exception.pk)


def _retry(request: HttpRequest, exception: TriageException) -> HttpResponse:
    try:
        return _retry_requested(request, exception)
    except ValidationError as error:
        errors = error.messages
    if request.headers.get("HX-Request") == "true":
        return render(request, "triage/_retry_status.html", {"exception": exception, "errors": errors}, status=400)
    return _refused(request, exception, retry_errors=errors)


def _payload(request: HttpRequest, exception: TriageException) -> HttpResponse:
    """Edit and retry: keep the correction beside the original, then queue the retry."""
    form = PayloadForm(request.POST)
    if form.is_valid():
        occurrence = exception.occurrences.filter(pk=form.cleaned_data["occurrence"]).first()
        if occurrence is None:
            form.add_error("occurrence", "No such object in this exception.")
        else:
            try:
                with transaction.atomic():
                    services.occurrence_payload_edit(
                        occurrence=occurrence, payload=form.cleaned_data["payload"], actor=request.user
                    )
                    return _retry_requested(request, exception)
            except ValidationError as error:
                form_errors_add(form, error)
    return _refused(request, exception, payload_form=form)


@require_GET
def retry_status(request: HttpRequest, exception_id: int) -> HttpResponse:
    """Polled by htmx after a retry: 'running' until the worker records the outcome."""
    exception = selectors.exception_get(exception_id=exception_id)
    if exception is None:
        raise Http404("No such exception.")
    try:
        after = int(request.GET.get("after", "0"))
    except ValueError:
        after = 0
    result = selectors.exception_retry_result(exception=exception, after_activity_id=after)
    status_url = reverse("triage_retry_status", args=[exception.pk]) + "?" + urlencode({"after": after})
    return render(
        request,
        "triage/_retry_status.html",
        {"exception": exception, "result": result, "status_url": None if result else status_url},
    )
