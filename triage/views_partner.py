"""Partner console: the partner-wide exception inbox (reads only the public TriageIndex) and the
alert rules. Each inbox row opens the exception on its tenant's own domain."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.forms import form_apply
from tenants.models import Membership, Partner
from tenants.selectors import partner_tenants
from triage.forms import AlertRuleForm, PartnerInboxFilterForm
from triage.partner import services as rules
from triage.partner.models import HEALTH_TRIGGERS
from triage.partner.selectors import alert_rules_for_partner, partner_triage_index
from triage.views import PAGE_SIZE


def _partner(request: HttpRequest) -> Partner:
    if request.portal_area != "partner":
        raise Http404("Not found")
    return request.partner


def tenant_exception_url(request: HttpRequest, *, domain: str | None, exception_id: int) -> str:
    """The exception's detail page on its tenant's domain, on this request's scheme and port."""
    if not domain:
        return ""
    port = request.get_port()
    suffix = "" if port in ("80", "443") else f":{port}"
    return f"{request.scheme}://{domain}{suffix}/exceptions/{exception_id}/"


@require_GET
def partner_inbox(request: HttpRequest) -> HttpResponse:
    partner = _partner(request)
    tenants = list(partner_tenants(partner=partner))
    form = PartnerInboxFilterForm(request.GET or None, tenants=tenants)
    page = Paginator(partner_triage_index(partner=partner, **form.filters()), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    for row in page.object_list:
        row.url = tenant_exception_url(request, domain=row.tenant_domain, exception_id=row.exception_id)
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "triage/partner_inbox.html", {"form": form, "page": page, "query": query.urlencode()})


def _is_admin(request: HttpRequest) -> bool:
    return request.membership_role == Membership.Role.PARTNER_ADMIN


@require_http_methods(["GET", "POST"])
def alert_rules(request: HttpRequest) -> HttpResponse:
    partner = _partner(request)
    tenants = list(partner_tenants(partner=partner))
    form = AlertRuleForm(request.POST or None, tenants=tenants)
    status = 200
    if request.method == "POST":
        if not _is_admin(request):
            raise Http404("Not found")
        created, rule = form_apply(
            form, lambda data: rules.alert_rule_create(partner=partner, actor=request.user, **form.service_kwargs())
        )
        if created:
            messages.success(request, f"Alert rule “{rule.name}” created.")
            return redirect("partner_alert_rules")
        status = 400
    return render(
        request,
        "triage/alert_rules.html",
        {
            "form": form,
            "rules": alert_rules_for_partner(partner=partner),
            "can_edit": _is_admin(request),
            "health_triggers": HEALTH_TRIGGERS,
        },
        status=status,
    )


@require_POST
def alert_rule_deactivate(request: HttpRequest, rule_id: int) -> HttpResponse:
    partner = _partner(request)
    if not _is_admin(request):
        raise Http404("Not found")
    rule = alert_rules_for_partner(partner=partner).filter(pk=rule_id).first()
    if rule is None:
        raise Http404("No such rule.")
    rules.alert_rule_deactivate(rule=rule, actor=request.user)
    messages.success(request, f"Alert rule “{rule.name}” deactivated.")
    return redirect("partner_alert_rules")
