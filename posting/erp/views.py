"""ERP screens on the tenant domain: target and connections (with the OAuth connect flow), chart
of accounts import with a diff before applying, and push status per journal with re-push."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from core.redirects import redirect_next
from posting.erp import connections, selectors, services
from posting.erp.base import ErpError
from posting.erp.chart import chart_import_apply, chart_import_preview
from posting.erp.models import ChartImport, ErpPush
from posting.erp.oauth import OAuth2Adapter
from posting.erp.registry import ADAPTERS, FIELDS, adapter_class, describe
from posting.erp.tasks import erp_push_dispatch
from tenants.middleware import may_write

SESSION_KEY = "erp_oauth"


def _refuse_viewer(request: HttpRequest) -> HttpResponse | None:
    if not may_write(request):
        return HttpResponse("Viewers cannot change ERP settings.", status=403)
    return None


def _connection(pk: int):
    connection = connections.erp_connection_get(pk=pk)
    if connection is None:
        raise Http404("No such ERP connection.")
    return connection


class TargetForm(forms.Form):
    connection = forms.TypedChoiceField(label="Post journals to", coerce=int, empty_value=None, required=False)
    since = forms.DateField(label="From journal date", required=False, help_text="Default: today.")

    def __init__(self, *args, choices, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["connection"].choices = [("", "Built-in ledger"), *choices]


def erp_home(request: HttpRequest) -> HttpResponse:
    target = services.erp_target_get()
    erp_connections = connections.erp_connections_list()
    choices = [(c.pk, str(c)) for c in erp_connections if connections.erp_connection_ready(c)]
    form = TargetForm(initial={"connection": target.connection_id}, choices=choices)
    status = 200
    if request.method == "POST":
        if refused := _refuse_viewer(request):
            return refused
        form = TargetForm(request.POST, choices=choices)
        if form.is_valid():
            chosen = form.cleaned_data["connection"]
            try:
                services.erp_target_set(
                    connection=_connection(chosen) if chosen else None,
                    since=form.cleaned_data["since"],
                    actor=request.user,
                )
            except ValidationError as error:
                form.add_error("connection", error)
            else:
                messages.success(request, "Posting target saved. Journals already posted keep their history.")
                return redirect("erp_home")
        status = 400
    return render(
        request,
        "posting/erp/home.html",
        {
            "target": target,
            "form": form,
            "connections": [(c, connections.erp_connection_ready(c), describe(c.vendor)) for c in erp_connections],
            "adapters": [describe(vendor) for vendor in ADAPTERS if vendor != "builtin_ledger"],
            "summary": selectors.push_summary(),
            "can_edit": may_write(request),
        },
        status=status,
    )


def _connection_form(vendor: str, data=None) -> forms.Form:
    form = forms.Form(data)
    form.fields["name"] = forms.CharField(label="Name", max_length=100)
    for name, label, secret in FIELDS[vendor]:
        required = "optional" not in label
        widget = forms.PasswordInput(render_value=False) if secret else None
        form.fields[name] = forms.CharField(label=label, required=required, max_length=500, widget=widget)
    return form


def erp_connection_new(request: HttpRequest) -> HttpResponse:
    if refused := _refuse_viewer(request):
        return refused
    vendor = request.GET.get("vendor") or request.POST.get("vendor", "")
    if vendor not in FIELDS:
        raise Http404("Choose an ERP.")
    adapter = adapter_class(vendor)
    form = _connection_form(vendor, request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            values = dict(form.cleaned_data)
            name = values.pop("name")
            secret_names = {field for field, _label, secret in FIELDS[vendor] if secret}
            try:
                connection = connections.erp_connection_create(
                    vendor=vendor,
                    name=name,
                    config={k: v for k, v in values.items() if k not in secret_names and v},
                    credentials={k: v for k, v in values.items() if k in secret_names and v},
                    actor=request.user,
                )
            except ValidationError as error:
                form.add_error(None, error)
            else:
                if issubclass(adapter, OAuth2Adapter):
                    messages.success(request, f"Saved. Now connect to {adapter.label}.")
                else:
                    messages.success(request, f"{adapter.label} connection saved. Import its chart of accounts next.")
                return redirect("erp_chart", pk=connection.pk)
        status = 400
    return render(
        request,
        "posting/erp/connection_new.html",
        {"form": form, "vendor": vendor, "adapter": describe(vendor)},
        status=status,
    )


@require_POST
def erp_oauth_start(request: HttpRequest, pk: int) -> HttpResponse:
    if refused := _refuse_viewer(request):
        return refused
    connection = _connection(pk)
    adapter = adapter_class(connection.vendor)
    if not issubclass(adapter, OAuth2Adapter):
        raise Http404("This ERP does not connect with OAuth.")
    start = adapter.authorization_start(
        client_id=connection.config.get("client_id", ""),
        redirect_uri=request.build_absolute_uri(reverse("erp_oauth_callback")),
    )
    request.session[SESSION_KEY] = {"state": start.state, "verifier": start.code_verifier, "connection": connection.pk}
    return redirect(start.url)


def erp_oauth_callback(request: HttpRequest) -> HttpResponse:
    pending = request.session.pop(SESSION_KEY, None)
    state = request.GET.get("state", "")
    if not pending or not state or state != pending.get("state"):
        return render(
            request,
            "posting/erp/oauth_failed.html",
            {"reason": "The sign-in answer did not match a connection started here. Start again."},
            status=400,
        )
    connection = _connection(pending["connection"])
    if request.GET.get("error"):
        reason = request.GET.get("error_description") or request.GET.get("error")
        return render(request, "posting/erp/oauth_failed.html", {"reason": f"The ERP refused: {reason}"}, status=400)
    code = request.GET.get("code", "")
    if not code:
        return render(
            request, "posting/erp/oauth_failed.html", {"reason": "The ERP sent no authorisation code."}, status=400
        )
    try:
        connections.erp_oauth_complete(
            connection=connection,
            code=code,
            redirect_uri=request.build_absolute_uri(reverse("erp_oauth_callback")),
            code_verifier=pending.get("verifier", ""),
            realm_id=request.GET.get("realmId", ""),
            actor=request.user,
        )
    except ErpError as error:
        return render(request, "posting/erp/oauth_failed.html", {"reason": error.message}, status=400)
    messages.success(request, f"Connected to {connection}. Import its chart of accounts next.")
    return redirect("erp_chart", pk=connection.pk)


def erp_chart(request: HttpRequest, pk: int) -> HttpResponse:
    connection = _connection(pk)
    preview = ChartImport.objects.filter(connection=connection).order_by("-created_at", "-pk").first()
    if request.method == "POST":
        if refused := _refuse_viewer(request):
            return refused
        action = request.POST.get("action")
        if action == "fetch":
            try:
                with connections.adapter_for(connection) as adapter:
                    chart = adapter.fetch_chart()
            except ErpError as error:
                messages.error(request, f"The chart of accounts could not be fetched: {error.message}")
            else:
                chart_import_preview(connection=connection, chart=chart)
                messages.success(request, "Chart fetched. Review the differences, then apply them.")
        elif action == "apply":
            chart_import = ChartImport.objects.filter(connection=connection, pk=request.POST.get("import")).first()
            if chart_import is None:
                raise Http404("No such import.")
            try:
                diff = chart_import_apply(chart_import=chart_import, actor=request.user)
            except ValueError as error:
                messages.error(request, str(error))
            else:
                messages.success(
                    request,
                    f"{len(diff.create)} account(s) created, {len(diff.update)} updated, "
                    f"{len(diff.deactivate)} deactivated.",
                )
        return redirect("erp_chart", pk=connection.pk)
    return render(
        request,
        "posting/erp/chart.html",
        {
            "connection": connection,
            "preview": preview,
            "adapter": describe(connection.vendor),
            "missing": connections.erp_connection_missing(connection),
            "can_edit": may_write(request),
        },
    )


def erp_pushes(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    if status not in ErpPush.Status.values:
        status = ""
    page = Paginator(selectors.pushes_list(status=status or None), 50).get_page(request.GET.get("page"))
    return render(
        request,
        "posting/erp/pushes.html",
        {
            "page": page,
            "status": status,
            "statuses": ErpPush.Status.choices,
            "can_edit": may_write(request),
            "target": services.erp_target_get(),
        },
    )


@require_POST
def erp_repush(request: HttpRequest, entry_id: int) -> HttpResponse:
    if refused := _refuse_viewer(request):
        return refused
    if not selectors.entry_exists(entry_id=entry_id):
        raise Http404("No such journal entry.")
    erp_push_dispatch(entry_id=entry_id, force=True)
    messages.success(request, f"Journal {entry_id} queued for a re-push.")
    return redirect_next(request, request.POST.get("next"), default="erp_pushes")
