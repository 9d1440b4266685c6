"""Routing by host name and membership enforcement.

A host is one of three areas: the operator console (public domain), a partner console (a
partner's domain, public schema) or a tenant portal (a tenant's domain, its schema). On a partner
or tenant host a signed-in user without a membership there gets 404 for every URL: the portal
never confirms that a tenant it will not show exists.
"""

from __future__ import annotations

import re

from django.contrib.auth.views import redirect_to_login
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django_tenants.middleware.main import TenantMainMiddleware
from django_tenants.utils import get_public_schema_name

from tenants.due import tenant_due_bump
from tenants.models import Domain, Membership, Partner, Tenant
from tenants.selectors import membership_role_for_area

# Reachable by anyone on any host: health and metrics, static files, webhooks (signed per vendor).
# Vendors' signed webhooks: no session or user (portal/middleware.py skips browser middleware there).
WEBHOOK_PREFIX = "/hooks/"
OPEN_PREFIXES = ("/healthz", "/metrics", "/static/", "/media/", WEBHOOK_PREFIX)
# Reachable while signed out, so a person can sign in.
AUTH_PREFIXES = ("/accounts/",)
LOGOUT_PATH = "/accounts/logout/"
# An invitation is answered by the invited user on any host: the view shows it only to that user.
INVITATION_PREFIX = "/accounts/invitations/"
# On a partner console, `/api/v1/tenants/<slug>/<resource>` acts on one of the partner's tenants as
# if called on that tenant's domain. The partner's own tenant endpoints (detail, suspend, resume)
# stay on the console.
TENANT_API_ON_PARTNER = re.compile(r"^/api/v1/tenants/(?P<slug>[-a-zA-Z0-9_]+)/(?P<rest>.+)$")
PARTNER_TENANT_ENDPOINTS = frozenset({"suspend/", "resume/"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


class DomainRoutingMiddleware(TenantMainMiddleware):
    def process_request(self, request: HttpRequest) -> HttpResponse | None:
        connection.set_schema_to_public()
        hostname = self.hostname_from_request(request)
        domain = (
            Domain.objects.select_related("tenant", "tenant__partner", "partner", "verification")
            .filter(domain=hostname)
            .first()
        )
        if domain is None or (domain.verification is not None and not domain.verification.is_verified):
            # A host on a custom domain routes only while the partner's claim to it is verified.
            raise Http404(f"No portal at {hostname}")
        tenant = domain.tenant
        tenant.domain_url = hostname
        request.tenant = tenant
        if tenant.schema_name == get_public_schema_name():
            request.partner = domain.partner
            request.portal_area = "partner" if domain.partner is not None else "operator"
            if domain.partner is not None:
                routed = _partner_tenant_api_target(request, domain.partner)
                if routed is not None:
                    tenant, request.path_info = routed
                    tenant.domain_url = hostname
                    request.tenant = tenant
                    request.portal_area = "tenant"
        else:
            request.partner = tenant.partner
            request.portal_area = "tenant"
        connection.set_tenant(tenant)
        self.setup_url_routing(request)
        return None


def _partner_tenant_api_target(request: HttpRequest, partner: Partner) -> tuple[Tenant, str] | None:
    """(tenant, path on the tenant) for `/api/v1/tenants/<slug>/<resource>` on a partner console.

    A slug the partner does not own answers 404, exactly like an unknown one."""
    match = TENANT_API_ON_PARTNER.match(request.path_info)
    if match is None or match["rest"] in PARTNER_TENANT_ENDPOINTS:
        return None
    tenant = Tenant.objects.select_related("partner").filter(slug=match["slug"], partner=partner).first()
    if tenant is None:
        raise Http404("Not found")
    return tenant, f"/api/v1/{match['rest']}"


def may_write(request: HttpRequest) -> bool:
    """Whether the member behind a tenant page may change what it shows: every role but the tenant
    viewer (`Membership.WRITER_ROLES`, the same roles the tenant API's session writes take). Reads the
    role this middleware set; no role (a page outside any tenant) may not write."""
    return request.membership_role in Membership.WRITER_ROLES


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


class MembershipMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self._check(request)
        return response if response is not None else self.get_response(request)

    def _check(self, request: HttpRequest) -> HttpResponse | None:
        request.membership_role = None
        path = request.path
        if path.startswith(OPEN_PREFIXES):
            return None
        user = request.user
        if not user.is_authenticated:
            if path.startswith(AUTH_PREFIXES):
                return None
            if _is_api(request):
                # API keys authenticate in DRF itself; a request with no credentials is refused there.
                return None
            return redirect_to_login(request.get_full_path())
        area = getattr(request, "portal_area", None)
        role = membership_role_for_area(
            user=user,
            tenant=request.tenant if area == "tenant" else None,
            partner=request.partner if area == "partner" else None,
        )
        if role is None:
            if path == LOGOUT_PATH or path.startswith(INVITATION_PREFIX):
                return None
            raise Http404("Not found")
        request.membership_role = role
        if area == "tenant" and not request.tenant.is_active and not path.startswith(AUTH_PREFIXES):
            if _is_api(request):
                return JsonResponse(
                    {"error": {"code": "tenant_suspended", "message": "This tenant is suspended.", "details": {}}},
                    status=403,
                )
            return render(request, "portal/suspended.html", status=403)
        return None


class TenantDueMiddleware:
    """A write through the portal or the API (an unsafe method answered below 400 on a tenant) may
    give the tenant periodic work: a promotion's window, a snooze, a routing rule, a policy. It marks
    the tenant due at the next beat (tenants/due.py), one statement that changes nothing while the
    tenant is already marked. Webhooks mark their tenant when they store the event."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            request.method not in SAFE_METHODS
            and response.status_code < 400
            and not request.path.startswith(OPEN_PREFIXES)
            and connection.schema_name != get_public_schema_name()
        ):
            tenant_due_bump()
        return response
