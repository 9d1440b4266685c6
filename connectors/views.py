"""Connector screens: thin views over connectors.services / selectors / sync / inbox."""

from __future__ import annotations

import datetime as dt
import json

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from connectors import oauth, selectors, services
from connectors.files import file_ingest
from connectors.forms import SOURCE_VENDOR_CHOICES, BackfillForm, ConnectionForm, UploadForm
from connectors.inbox import event_replay
from connectors.models import Connection, InboundEvent, SyncRun
from connectors.sync import pollable, sync_run_cancel, sync_run_start
from connectors.vendors import adapters
from core.http.client import ConnectorError
from core.views import found_or_404
from tenants.middleware import may_write


def _editor(request: HttpRequest) -> None:
    if not may_write(request):
        raise PermissionDenied("Viewers cannot change connections.")


def _connection(connection_id: int) -> Connection:
    return found_or_404(selectors.connection_get(connection_id=connection_id), "No such connection.")


def _errors(error: ValidationError) -> str:
    return "; ".join(error.messages)


def _connection_form_page(
    request: HttpRequest, form, *, vendor: str, connection: Connection | None = None
) -> HttpResponse:
    """The add and edit form of a source connection (the same page)."""
    label = Connection.Vendor(vendor).label
    context = {"form": form, "vendor": vendor, "vendor_label": label, "connection": connection}
    return render(request, "connectors/connection_form.html", context)


def connections(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "connectors/connections.html",
        {
            "connections": selectors.connections_list(),
            "can_edit": may_write(request),
        },
    )


def connection_add(request: HttpRequest) -> HttpResponse:
    _editor(request)
    vendor = request.GET.get("vendor") or request.POST.get("vendor") or ""
    if vendor not in dict(SOURCE_VENDOR_CHOICES):
        return render(request, "connectors/connection_vendor.html", {"vendors": SOURCE_VENDOR_CHOICES})
    form = ConnectionForm(request.POST or None, vendor=vendor)
    if request.method == "POST" and form.is_valid():
        try:
            connection = services.connection_create(
                vendor=vendor,
                direction=Connection.Direction.SOURCE,
                name=form.cleaned_data["name"],
                config=form.config(),
                credentials={k: v for k, v in form.credentials().items() if v},
                webhook_secret=form.cleaned_data.get("webhook_secret") or None,
                sync_interval_minutes=form.cleaned_data["sync_interval_minutes"],
                actor=request.user,
            )
        except ValidationError as error:
            form.add_error(None, _errors(error))
        else:
            messages.success(request, f"{connection.name} was added.")
            return redirect("connectors_connection", connection_id=connection.pk)
    return _connection_form_page(request, form, vendor=vendor)


def _tokened_hook(request: HttpRequest, connection: Connection) -> str:
    """The hook URL with its secret token, shown to those who may edit the connection only."""
    if not may_write(request) or not connection.webhook_secret:
        return ""
    kwargs = {"vendor": connection.vendor, "connection_id": connection.pk, "token": connection.webhook_secret}
    return reverse("connectors_webhook_token", kwargs=kwargs)


def connection_detail(request: HttpRequest, connection_id: int) -> HttpResponse:
    connection = _connection(connection_id)
    adapter = adapters().get(connection.vendor)
    hook = reverse("connectors_webhook", kwargs={"vendor": connection.vendor, "connection_id": connection.pk})
    if connection.vendor == Connection.Vendor.SHIPSTATION:  # unsigned hooks: the URL carries the secret token
        hook = _tokened_hook(request, connection)
    return render(
        request,
        "connectors/connection_detail.html",
        {
            "connection": connection,
            "runs": selectors.sync_runs_list(connection=connection)[:10],
            "events": selectors.events_list(connection=connection)[:10],
            "event_counts": selectors.event_counts(connection=connection),
            "webhook_url": request.build_absolute_uri(hook) if hook and adapter and adapter.supports_webhooks else "",
            "pollable": pollable(connection),
            "oauth": oauth.oauth_available(connection.vendor),
            "can_edit": may_write(request),
            "backfill_form": BackfillForm(),
            "upload_form": UploadForm() if connection.vendor == Connection.Vendor.CSV else None,
            "topics": adapter.topics if adapter else (),
        },
    )


def connection_edit(request: HttpRequest, connection_id: int) -> HttpResponse:
    _editor(request)
    connection = _connection(connection_id)
    if connection.vendor not in dict(SOURCE_VENDOR_CHOICES):
        raise Http404("ERP connections are edited on the ERP page.")
    form = ConnectionForm(request.POST or None, vendor=connection.vendor, connection=connection)
    if request.method == "POST" and form.is_valid():
        try:
            services.connection_update(
                connection=connection,
                name=form.cleaned_data["name"],
                config=form.config(),
                sync_interval_minutes=form.cleaned_data["sync_interval_minutes"],
                actor=request.user,
            )
            services.connection_credentials_set(
                connection=connection,
                credentials=form.credentials(),
                webhook_secret=form.cleaned_data.get("webhook_secret") or None,
                actor=request.user,
            )
        except ValidationError as error:
            form.add_error(None, _errors(error))
        else:
            messages.success(request, "Saved.")
            return redirect("connectors_connection", connection_id=connection.pk)
    return _connection_form_page(request, form, vendor=connection.vendor, connection=connection)


@require_POST
def connection_action(request: HttpRequest, connection_id: int, action: str) -> HttpResponse:
    _editor(request)
    connection = _connection(connection_id)
    here = redirect("connectors_connection", connection_id=connection.pk)
    try:
        if action == "test":
            ok, message = services.connection_test(connection=connection)
            (messages.success if ok else messages.error)(request, message)
        elif action == "sync":
            run = sync_run_start(connection=connection, kind=SyncRun.Kind.MANUAL)
            return redirect("connectors_run", run_id=run.pk)
        elif action == "backfill":
            form = BackfillForm(request.POST)
            if not form.is_valid():
                messages.error(request, "Choose the date to backfill from.")
                return here
            since = dt.datetime.combine(form.cleaned_data["since"], dt.time(), tzinfo=dt.UTC)
            run = sync_run_start(connection=connection, kind=SyncRun.Kind.BACKFILL, since=since)
            return redirect("connectors_run", run_id=run.pk)
        elif action in ("pause", "resume"):
            status = Connection.Status.PAUSED if action == "pause" else Connection.Status.ACTIVE
            services.connection_status_set(connection=connection, status=status, actor=request.user)
            messages.success(request, f"{connection.name} is {status.label.lower()}.")
        elif action == "delete":
            services.connection_delete(connection=connection, actor=request.user)
            messages.success(request, f"{connection.name} was deleted.")
            return redirect("connectors_connections")
        elif action == "upload":
            form = UploadForm(request.POST, request.FILES)
            if not form.is_valid():
                messages.error(request, "Choose a file and what it holds.")
                return here
            report = file_ingest(
                connection=connection, topic=form.cleaned_data["topic"], content=form.cleaned_data["file"].read()
            )
            messages.success(
                request,
                f"Stored {len(report.stored)} record(s), {len(report.duplicates)} already received; processing.",
            )
        elif action == "connect":
            callback = request.build_absolute_uri(reverse("connectors_oauth_callback"))
            return HttpResponseRedirect(
                oauth.oauth_start(connection=connection, redirect_uri=callback, user_id=request.user.pk)
            )
        else:
            raise Http404("Unknown action.")
    except ValidationError as error:
        messages.error(request, _errors(error))
    except oauth.OAuthError as error:
        messages.error(request, str(error))
    return here


def oauth_callback(request: HttpRequest) -> HttpResponse:
    _editor(request)
    try:
        connection = oauth.oauth_complete(
            state=request.GET.get("state", ""),
            code=request.GET.get("code", ""),
            user_id=request.user.pk,
            query=request.GET.dict(),
        )
    except oauth.OAuthError as error:
        messages.error(request, str(error))
        return redirect("connectors_connections")
    except Exception as error:  # the vendor's token endpoint failed: say so, keep the old tokens
        if not isinstance(error, ConnectorError | KeyError):
            raise
        messages.error(request, f"The vendor did not issue a token: {getattr(error, 'message', error)}")
        return redirect("connectors_connections")
    messages.success(request, f"{connection.name} is connected.")
    return redirect("connectors_connection", connection_id=connection.pk)


def sync_runs(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.sync_runs_list(), 50).get_page(request.GET.get("page"))
    return render(request, "connectors/runs.html", {"page": page})


def sync_run_detail(request: HttpRequest, run_id: int) -> HttpResponse:
    run = found_or_404(selectors.sync_run_get(run_id=run_id), "No such sync run.")
    template = "connectors/_run_progress.html" if request.htmx else "connectors/run_detail.html"
    can_cancel = not run.is_finished and may_write(request)
    return render(request, template, {"run": run, "can_cancel": can_cancel})


@require_POST
def sync_run_cancel_view(request: HttpRequest, run_id: int) -> HttpResponse:
    _editor(request)
    run = found_or_404(selectors.sync_run_get(run_id=run_id), "No such sync run.")
    if run.is_finished:
        messages.info(request, f"Sync run #{run.pk} had already finished ({run.get_status_display().lower()}).")
    else:
        sync_run_cancel(run=run)
        messages.success(request, f"Sync run #{run.pk} is cancelled: it stops before its next page.")
    return redirect("connectors_run", run_id=run.pk)


def events(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    if status not in InboundEvent.Status.values:
        status = ""
    search = request.GET.get("q", "").strip()[:100]
    connection = None
    if request.GET.get("connection", "").isdigit():
        connection = selectors.connection_get(connection_id=int(request.GET["connection"]))
    page = Paginator(selectors.events_list(connection=connection, status=status or None, search=search), 50).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "connectors/events.html",
        {
            "page": page,
            "status": status,
            "search": search,
            "statuses": InboundEvent.Status.choices,
            "connection": connection,
        },
    )


def event_detail(request: HttpRequest, event_id: int) -> HttpResponse:
    event = found_or_404(selectors.event_get(event_id=event_id), "No such event.")
    try:
        pretty = json.dumps(json.loads(event.body), indent=2, sort_keys=True)
    except ValueError:
        pretty = event.body
    return render(
        request,
        "connectors/event_detail.html",
        {"event": event, "pretty": pretty, "can_edit": may_write(request)},
    )


@require_POST
def event_replay_view(request: HttpRequest, event_id: int) -> HttpResponse:
    _editor(request)
    event = found_or_404(selectors.event_get(event_id=event_id), "No such event.")
    event_replay(event=event)
    messages.success(request, "Replaying the event.")
    return redirect("connectors_event", event_id=event.pk)
