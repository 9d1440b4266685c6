"""Partner API: the partner's tenants (list, create, detail, suspend, resume) and, on a tenant's
own domain, `tenant/` (the tenant and the caller's principal)."""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import OpenApiExample, extend_schema_field, extend_schema_view
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.auth import principal_scopes, request_api_key
from core.api.errors import StrictSerializer, found
from core.api.serializers import ModelOutput
from core.api.views import ApiView, ListMixin, PartnerApiView, read_operation, write_operation
from tenants import selectors, services
from tenants.models import (
    Membership,
    Partner,
    Tenant,
)

# ---- tenants -------------------------------------------------------------------------------


class TenantOutput(ModelOutput):
    domain = serializers.SerializerMethodField()

    class Meta:
        model = Tenant
        fields = ("slug", "name", "status", "plan", "timezone", "base_currency", "domain", "created_at")

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_domain(self, tenant: Tenant) -> str | None:
        primary = [domain.domain for domain in tenant.domains.all() if domain.is_primary]
        return primary[0] if primary else None


class TenantCreateInput(StrictSerializer):
    slug = serializers.CharField(max_length=40)
    name = serializers.CharField(max_length=120)
    domain = serializers.CharField(max_length=253, required=False)
    timezone = serializers.CharField(max_length=64, required=False, default="UTC")
    base_currency = serializers.CharField(max_length=3, required=False, default="USD")
    plan = serializers.ChoiceField(choices=Tenant.Plan.choices, required=False, default=Tenant.Plan.STARTER)


class TenantFilter(django_filters.FilterSet):
    class Meta:
        model = Tenant
        fields = ["status", "plan"]


TENANT_EXAMPLE = OpenApiExample(
    "Tenant",
    value={
        "slug": "acme",
        "name": "Acme Outfitters",
        "status": "active",
        "plan": "starter",
        "timezone": "America/New_York",
        "base_currency": "USD",
        "domain": "acme.northwind.example",
        "created_at": "2026-01-05T10:00:00Z",
    },
    response_only=True,
)


@extend_schema_view(get=read_operation("tenants_list", TenantOutput(many=True)))
class TenantListCreateApi(ListMixin, PartnerApiView):
    """List the partner's tenants (retail customers) with their plan, status and domain."""

    serializer_class = TenantOutput
    filterset_class = TenantFilter
    session_roles = (Membership.Role.PARTNER_ADMIN,)

    schema_model = Tenant

    def rows(self):
        return selectors.partner_tenants(partner=self.request.partner)

    @write_operation(
        "tenants_create",
        TenantCreateInput,
        TenantOutput,
        status=201,
        examples=[
            OpenApiExample("Create", value={"slug": "acme", "name": "Acme Outfitters"}, request_only=True),
            TENANT_EXAMPLE,
        ],
    )
    def post(self, request: Request) -> Response:
        """Provision a tenant: its schema, domain and first admin invitation (partner admins only)."""
        data = self.validated(TenantCreateInput)
        created = services.tenant_create(partner=request.partner, **self.who(), **data)
        tenant = selectors.partner_tenants(partner=request.partner).get(pk=created.tenant.pk)
        return Response(TenantOutput(tenant).data, status=status.HTTP_201_CREATED)


def partner_tenant(request: Request, slug: str) -> Tenant:
    return found(selectors.partner_tenants(partner=request.partner).filter(slug=slug).first(), "No such tenant.")


def partner_tenant_or_all(request: Request, slug: str | None) -> Tenant | None:
    """The partner's tenant a query or body names (404 when it has none), or None when it names none."""
    return partner_tenant(request, slug) if slug else None


class TenantDetailApi(PartnerApiView):
    serializer_class = TenantOutput

    @read_operation("tenants_retrieve", TenantOutput, examples=[TENANT_EXAMPLE])
    def get(self, request: Request, slug: str) -> Response:
        """Read one of the partner's tenants by slug."""
        return Response(TenantOutput(partner_tenant(request, slug)).data)


class _TenantStatusApi(PartnerApiView):
    serializer_class = TenantOutput
    session_roles = (Membership.Role.PARTNER_ADMIN,)
    target_status = ""

    def status_set(self, request: Request, slug: str) -> Response:
        tenant = partner_tenant(request, slug)
        services.tenant_status_set(tenant=tenant, status=self.target_status, **self.who())
        return Response(TenantOutput(partner_tenant(request, slug)).data)


class TenantSuspendApi(_TenantStatusApi):
    target_status = Tenant.Status.SUSPENDED

    @write_operation("tenants_suspend", request=None, output=TenantOutput)
    def post(self, request: Request, slug: str) -> Response:
        """Suspend a tenant: its portal and API refuse requests and its syncs stop."""
        return self.status_set(request, slug)


class TenantResumeApi(_TenantStatusApi):
    target_status = Tenant.Status.ACTIVE

    @write_operation("tenants_resume", request=None, output=TenantOutput)
    def post(self, request: Request, slug: str) -> Response:
        """Resume a suspended tenant: its portal, API and syncs work again."""
        return self.status_set(request, slug)


# ---- tenant domain -------------------------------------------------------------------------


class PrincipalOutput(serializers.Serializer):
    type = serializers.ChoiceField(choices=[("api_key", "api_key"), ("user", "user")])
    name = serializers.CharField()
    scopes = serializers.ListField(child=serializers.CharField())


class PartnerSummary(ModelOutput):
    class Meta:
        model = Partner
        fields = ("slug", "name")


class TenantSelfOutput(TenantOutput):
    partner = PartnerSummary()
    principal = PrincipalOutput()


class TenantSelfApi(ApiView):
    """Who am I, and which tenant is this: the first call to make with a tenant key."""

    api_area = "tenant"
    serializer_class = TenantSelfOutput

    @read_operation("tenant_retrieve", TenantSelfOutput)
    def get(self, request: Request) -> Response:
        tenant = Tenant.objects.prefetch_related("domains").select_related("partner").get(pk=request.tenant.pk)
        api_key = request_api_key(request)
        principal = {
            "type": "api_key" if api_key else "user",
            "name": api_key.prefix if api_key else request.user.email,
            "scopes": sorted(principal_scopes(request)),
        }
        tenant.principal = principal
        return Response(TenantSelfOutput(tenant).data)
