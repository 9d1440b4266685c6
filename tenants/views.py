"""Operator console (product domain) and partner console (partner domains). Thin: forms in,
services for writes, selectors for reads."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from core.forms import form_apply, form_errors_add
from core.views import attachment, found_or_404
from tenants import invitations, selectors, services
from tenants.brand import brand_contrast_checks, readable_text_on
from tenants.domains import (
    CHALLENGE_LABEL,
    challenge_name,
    challenge_value,
    domain_verification_check,
    domain_verification_create,
    domain_verifications_for_partner,
)
from tenants.forms import (
    AuditFilterForm,
    BrandForm,
    CustomDomainForm,
    PartnerCreateForm,
    TenantActionForm,
    TenantWizardForm,
)
from tenants.models import Membership, Partner
from tenants.onboarding import tenant_onboard
from tenants.validators import validate_hex_colour


def _require_partner(request: HttpRequest, *, admin: bool = False) -> Partner:
    if request.portal_area != "partner":
        raise Http404("Not found")
    if admin and request.membership_role != Membership.Role.PARTNER_ADMIN:
        raise Http404("Not found")
    return request.partner


def console_home(request: HttpRequest) -> HttpResponse:
    if request.portal_area == "partner":
        return partner_tenant_list(request)
    return render(
        request,
        "tenants/operator_home.html",
        {"partners": selectors.partners_overview(), "plans": Partner.Plan.choices},
    )


@require_http_methods(["GET", "POST"])
def operator_partner_create(request: HttpRequest) -> HttpResponse:
    if request.portal_area != "operator":
        raise Http404("Not found")
    form = PartnerCreateForm(request.POST or None)
    if request.method == "POST":
        created, partner = form_apply(form, lambda data: services.partner_create(actor=request.user, **data))
        if created:
            messages.success(request, f"Partner {partner.name} created.")
            return redirect("home")
    return render(request, "tenants/operator_partner_create.html", {"form": form})


@require_http_methods(["POST"])
def operator_partner_plan(request: HttpRequest, slug: str) -> HttpResponse:
    """The operator switches a partner between the standard and the white-label plan."""
    if request.portal_area != "operator":
        raise Http404("Not found")
    partner = found_or_404(Partner.objects.filter(slug=slug).first(), "No such partner")
    try:
        partner = services.partner_plan_set(partner=partner, plan=request.POST.get("plan", ""), actor=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"{partner.name} is on the {partner.get_plan_display().split(' (')[0]} plan.")
    return redirect("home")


def partner_tenant_list(request: HttpRequest) -> HttpResponse:
    partner = _require_partner(request)
    return render(
        request,
        "tenants/partner_tenants.html",
        {"partner": partner, "tenants": selectors.partner_tenants_health(partner=partner)},
    )


@require_http_methods(["GET", "POST"])
def partner_tenant_create(request: HttpRequest) -> HttpResponse:
    partner = _require_partner(request, admin=True)
    form = TenantWizardForm(request.POST or None)
    if request.method == "POST":
        onboarded, created = form_apply(
            form, lambda data: tenant_onboard(partner=partner, actor=request.user, request=request, **data)
        )
        if onboarded:
            messages.success(
                request, f"{created.tenant.name} is ready at {created.domain} (provisioned in {created.seconds:.2f} s)."
            )
            return redirect("partner_tenant_detail", slug=created.tenant.slug)
    return render(request, "tenants/partner_tenant_create.html", {"form": form})


@require_http_methods(["GET", "POST"])
def partner_tenant_detail(request: HttpRequest, slug: str) -> HttpResponse:
    partner = _require_partner(request)
    tenant = found_or_404(selectors.partner_tenant_get(partner=partner, slug=slug), "Not found")
    form = TenantActionForm(request.POST or None)
    if request.method == "POST":
        if request.membership_role != Membership.Role.PARTNER_ADMIN:
            raise Http404("Not found")
        if form.is_valid():
            action = form.cleaned_data["action"]
            try:
                if action == "delete":
                    services.tenant_delete(
                        tenant=tenant, confirm_slug=form.cleaned_data["confirm_slug"], actor=request.user
                    )
                    messages.success(request, f"{tenant.name} and its data were deleted.")
                    return redirect("partner_tenants")
                status = "suspended" if action == "suspend" else "active"
                services.tenant_status_set(tenant=tenant, status=status, actor=request.user)
                messages.success(request, f"{tenant.name} is now {status}.")
                return redirect("partner_tenant_detail", slug=tenant.slug)
            except ValidationError as error:
                form_errors_add(form, error)
    return render(
        request,
        "tenants/partner_tenant_detail.html",
        {
            "tenant": tenant,
            "domain": selectors.tenant_primary_domain(tenant=tenant),
            "members": selectors.tenant_members(tenant=tenant),
            "audit_events": selectors.audit_events_for_tenant(tenant=tenant, limit=20),
            "form": form,
        },
    )


@require_http_methods(["GET", "POST"])
def partner_brand(request: HttpRequest) -> HttpResponse:
    partner = _require_partner(request, admin=True)
    initial = {
        field: getattr(partner, field)
        for field in ("name", "primary_colour", "accent_colour", "support_email", "sender_name")
    }
    form = BrandForm(request.POST or None, request.FILES or None, initial=initial)
    if request.method == "POST":
        saved, _ = form_apply(
            form, lambda data: services.partner_brand_update(partner=partner, actor=request.user, **data)
        )
        if saved:
            messages.success(request, "Brand saved.")
            return redirect("partner_brand")
    return render(
        request,
        "tenants/partner_brand.html",
        {"form": form, **_brand_preview_context(partner.name, partner.primary_colour, partner.accent_colour)},
    )


def _brand_preview_context(name: str, primary: str, accent: str) -> dict:
    return {
        "preview_name": name,
        "preview_primary": primary,
        "preview_accent": accent,
        "on_primary": readable_text_on(primary),
        "on_accent": readable_text_on(accent),
        "checks": brand_contrast_checks(primary=primary, accent=accent),
    }


@require_http_methods(["GET"])
def partner_brand_preview(request: HttpRequest) -> HttpResponse:
    """The preview panel for colours being edited, before they are saved (htmx swaps it in)."""
    partner = _require_partner(request, admin=True)
    name = request.GET.get("name", "").strip()[:120] or partner.name
    colours = []
    for field, saved in (("primary_colour", partner.primary_colour), ("accent_colour", partner.accent_colour)):
        value = request.GET.get(field, saved)
        try:
            validate_hex_colour(value)
        except ValidationError:
            return render(
                request, "tenants/_brand_preview.html", {"preview_error": f"{value!r} is not a colour like #1F4E79."}
            )
        colours.append(value)
    return render(request, "tenants/_brand_preview.html", _brand_preview_context(name, *colours))


def partner_member_list(request: HttpRequest) -> HttpResponse:
    partner = _require_partner(request)
    return render(
        request,
        "tenants/partner_members.html",
        {
            "members": selectors.partner_members(partner=partner),
            "invitations": selectors.partner_pending_invitations(partner=partner),
        },
    )


AUDIT_PAGE_SIZE = 100


def _audit_page(request: HttpRequest, *, events, tenants, filename: str) -> HttpResponse:
    """The audit list with filters (action, actor, date range, tenant) and `?export=csv`; a bad
    filter answers 400 with the form's errors."""
    form = AuditFilterForm(request.GET or None)
    status = 200
    if request.GET and not form.is_valid():
        status = 400
        events = events.none()
    elif request.GET:
        data = form.cleaned_data
        events = selectors.audit_events_filter(
            events,
            action=data["action"],
            actor=data["actor"],
            since=data["since"],
            until=data["until"],
            tenant_slug=data["tenant"] if tenants is not None else "",
        )
    else:
        events = events.order_by("-created_at", "-id")
    if request.GET.get("export") == "csv" and status == 200:
        return attachment(selectors.audit_events_csv(events=events), filename=filename)
    page = Paginator(events, AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    query.pop("export", None)
    return render(
        request,
        "tenants/audit.html",
        {
            "form": form,
            "page": page,
            "events": page.object_list,
            "tenants": tenants,
            "query": query.urlencode(),
        },
        status=status,
    )


def partner_audit(request: HttpRequest) -> HttpResponse:
    partner = _require_partner(request)
    return _audit_page(
        request,
        events=selectors.audit_events_for_partner_qs(partner=partner),
        tenants=selectors.partner_tenants_for_filter(partner=partner),
        filename=f"audit-{partner.slug}.csv",
    )


def tenant_audit(request: HttpRequest) -> HttpResponse:
    """The tenant console's audit log: changes to this tenant only."""
    if request.portal_area != "tenant":
        raise Http404("Not found")
    tenant = request.tenant
    return _audit_page(
        request,
        events=selectors.audit_events_for_tenant_qs(tenant=tenant),
        tenants=None,
        filename=f"audit-{tenant.slug}.csv",
    )


@require_http_methods(["GET", "POST"])
def partner_domains(request: HttpRequest) -> HttpResponse:
    """Custom domains: add one, see the TXT record to publish, check it now."""
    partner = _require_partner(request, admin=True)
    form = CustomDomainForm(request.POST or None)
    if request.method == "POST":
        added, verification = form_apply(
            form, lambda data: domain_verification_create(partner=partner, domain=data["domain"], actor=request.user)
        )
        if added:
            messages.success(request, f"{verification.domain} added: publish its TXT record, then check it.")
            return redirect("partner_domains")
    rows = [
        {"claim": claim, "record_name": challenge_name(claim.domain), "record_value": challenge_value(claim.token)}
        for claim in domain_verifications_for_partner(partner=partner)
    ]
    return render(
        request,
        "tenants/partner_domains.html",
        {
            "form": form,
            "rows": rows,
            "console_domains": partner.domains.filter(tenant__schema_name="public").values_list("domain", flat=True),
            "challenge_label": CHALLENGE_LABEL,
        },
    )


@require_http_methods(["POST"])
def partner_domain_check(request: HttpRequest, pk: int) -> HttpResponse:
    partner = _require_partner(request, admin=True)
    claim = found_or_404(domain_verifications_for_partner(partner=partner).filter(pk=pk).first(), "Not found")
    claim = domain_verification_check(verification=claim, actor=request.user)
    if claim.is_verified:
        messages.success(request, f"{claim.domain} is verified: tenants can now use it.")
    else:
        messages.error(request, f"{claim.domain} is {claim.get_status_display().lower()}: {claim.last_error}")
    return redirect("partner_domains")


@require_http_methods(["GET", "POST"])
def invitation_respond(request: HttpRequest, key: str) -> HttpResponse:
    """The invited user, signed in, accepts or declines. Anyone else sees 404, as for a bad key."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    invitation = selectors.invitation_for_key(key=key)
    if invitation is None or invitation.user_id != request.user.pk:
        raise Http404("Not found")
    status = 200
    if request.method == "POST":
        action = request.POST.get("action")
        if action not in {"accept", "decline"}:
            return HttpResponseBadRequest("Answer with accept or decline.")
        try:
            if action == "accept":
                invitations.invitation_accept(invitation=invitation, user=request.user)
                host = selectors.area_primary_host(tenant=invitation.tenant, partner=invitation.partner)
                return redirect(invitations.absolute_url_on_host(request=request, host=host, path="/"))
            invitations.invitation_decline(invitation=invitation, user=request.user)
            messages.info(request, "Invitation declined.")
            invitation.refresh_from_db()
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
            status = 400
    return render(
        request,
        "tenants/invitation.html",
        {
            "invitation": invitation,
            "area_name": invitation.tenant.name if invitation.tenant else invitation.partner.name,
            "inviting_partner": invitation.partner,
        },
        status=status,
    )
