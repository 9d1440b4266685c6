"""Partner API (partner console domain, public schema) and the tenant-domain `tenant/` endpoint.

Thin views: serializers check shape, services in tenants/ do the work and write the audit log with
the caller as actor (`api-key:<prefix>` for keys). Every POST/PATCH honours Idempotency-Key."""

from __future__ import annotations

import calendar

import django_filters
from django.http import HttpResponse
from django.urls import path
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_field
from rest_framework import exceptions, serializers, status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.auth import api_actor, principal_scopes, request_api_key
from core.api.errors import CreatedCursorPagination, StrictSerializer, error_responses
from core.api.views import IDEMPOTENCY_PARAMETER, READ_ERRORS, WRITE_ERRORS, ApiView, PartnerApiView
from tenants import selectors, services
from tenants.api_keys import api_key_create, api_key_revoke, api_keys_for_partner, api_keys_for_tenant
from tenants.domains import (
    challenge_name,
    challenge_value,
    domain_verification_check,
    domain_verification_create,
    domain_verifications_for_partner,
)
from tenants.invitations import member_invite
from tenants.models import (
    ApiKey,
    AuditEvent,
    DomainVerification,
    Membership,
    Tenant,
    UsageRecord,
    WebhookDelivery,
    WebhookSubscription,
)
from tenants.usage import usage_csv, usage_for_partner
from tenants.webhooks import (
    EVENTS,
    webhook_deliveries_for_partner,
    webhook_delivery_redeliver,
    webhook_subscription_create,
    webhook_subscription_deactivate,
    webhook_subscriptions_for_partner,
)

# ---- tenants -------------------------------------------------------------------------------


class TenantOutput(serializers.Serializer):
    slug = serializers.SlugField()
    name = serializers.CharField()
    status = serializers.ChoiceField(choices=Tenant.Status.choices)
    plan = serializers.ChoiceField(choices=Tenant.Plan.choices)
    timezone = serializers.CharField()
    base_currency = serializers.CharField()
    domain = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()

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
    status = django_filters.ChoiceFilter(choices=Tenant.Status.choices)
    plan = django_filters.ChoiceFilter(choices=Tenant.Plan.choices)

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


class TenantListCreateApi(PartnerApiView):
    serializer_class = TenantOutput
    filterset_class = TenantFilter
    session_roles = (Membership.Role.PARTNER_ADMIN,)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Tenant.objects.none()
        return selectors.partner_tenants(partner=self.request.partner)

    @extend_schema(operation_id="tenants_list", responses={200: TenantOutput(many=True), **READ_ERRORS})
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(TenantOutput(page, many=True).data)

    @extend_schema(
        operation_id="tenants_create",
        request=TenantCreateInput,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={201: TenantOutput, **WRITE_ERRORS},
        examples=[
            OpenApiExample("Create", value={"slug": "acme", "name": "Acme Outfitters"}, request_only=True),
            TENANT_EXAMPLE,
        ],
    )
    def post(self, request: Request) -> Response:
        data = TenantCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        actor, actor_label = api_actor(request)
        created = services.tenant_create(
            partner=request.partner, actor=actor, actor_label=actor_label, **data.validated_data
        )
        tenant = selectors.partner_tenants(partner=request.partner).get(pk=created.tenant.pk)
        return Response(TenantOutput(tenant).data, status=status.HTTP_201_CREATED)


def _partner_tenant(request: Request, slug: str) -> Tenant:
    tenant = selectors.partner_tenants(partner=request.partner).filter(slug=slug).first()
    if tenant is None:
        raise exceptions.NotFound("No such tenant.")
    return tenant


class TenantDetailApi(PartnerApiView):
    serializer_class = TenantOutput

    @extend_schema(
        operation_id="tenants_retrieve", responses={200: TenantOutput, **READ_ERRORS}, examples=[TENANT_EXAMPLE]
    )
    def get(self, request: Request, slug: str) -> Response:
        return Response(TenantOutput(_partner_tenant(request, slug)).data)


class _TenantStatusApi(PartnerApiView):
    serializer_class = TenantOutput
    session_roles = (Membership.Role.PARTNER_ADMIN,)
    target_status = ""

    def status_set(self, request: Request, slug: str) -> Response:
        tenant = _partner_tenant(request, slug)
        actor, actor_label = api_actor(request)
        services.tenant_status_set(tenant=tenant, status=self.target_status, actor=actor, actor_label=actor_label)
        return Response(TenantOutput(_partner_tenant(request, slug)).data)


class TenantSuspendApi(_TenantStatusApi):
    target_status = Tenant.Status.SUSPENDED

    @extend_schema(
        operation_id="tenants_suspend",
        request=None,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={200: TenantOutput, **WRITE_ERRORS},
    )
    def post(self, request: Request, slug: str) -> Response:
        return self.status_set(request, slug)


class TenantResumeApi(_TenantStatusApi):
    target_status = Tenant.Status.ACTIVE

    @extend_schema(
        operation_id="tenants_resume",
        request=None,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={200: TenantOutput, **WRITE_ERRORS},
    )
    def post(self, request: Request, slug: str) -> Response:
        return self.status_set(request, slug)


# ---- brand ---------------------------------------------------------------------------------


class BrandSerializer(StrictSerializer):
    name = serializers.CharField(max_length=120, required=False)
    primary_colour = serializers.RegexField(r"^#[0-9A-Fa-f]{6}$", required=False)
    accent_colour = serializers.RegexField(r"^#[0-9A-Fa-f]{6}$", required=False)
    support_email = serializers.EmailField(required=False, allow_blank=True)
    sender_name = serializers.CharField(max_length=120, required=False, allow_blank=True)
    logo_url = serializers.SerializerMethodField()

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_logo_url(self, partner) -> str | None:
        return partner.logo.url if partner.logo else None


class BrandApi(PartnerApiView):
    serializer_class = BrandSerializer
    session_roles = (Membership.Role.PARTNER_ADMIN,)

    @extend_schema(operation_id="brand_retrieve", responses={200: BrandSerializer, **READ_ERRORS})
    def get(self, request: Request) -> Response:
        return Response(BrandSerializer(request.partner).data)

    @extend_schema(
        operation_id="brand_update",
        request=BrandSerializer,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={200: BrandSerializer, **WRITE_ERRORS},
        examples=[OpenApiExample("Colours", value={"primary_colour": "#0E5E6F"}, request_only=True)],
    )
    def patch(self, request: Request) -> Response:
        data = BrandSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        actor, actor_label = api_actor(request)
        partner = services.partner_brand_update(
            partner=request.partner, actor=actor, actor_label=actor_label, **data.validated_data
        )
        return Response(BrandSerializer(partner).data)


# ---- members -------------------------------------------------------------------------------


class MemberOutput(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField(source="user.email")
    name = serializers.CharField(source="user.name")
    role = serializers.ChoiceField(choices=Membership.Role.choices)
    tenant = serializers.SlugField(source="tenant.slug", allow_null=True, default=None)
    created_at = serializers.DateTimeField()


class MemberInviteInput(StrictSerializer):
    email = serializers.EmailField()
    name = serializers.CharField(max_length=150, required=False, default="", allow_blank=True)
    role = serializers.ChoiceField(choices=Membership.Role.choices)
    tenant = serializers.SlugField(required=False, help_text="Invite into this tenant (tenant roles) instead.")


class MemberAddedOutput(serializers.Serializer):
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=Membership.Role.choices)
    tenant = serializers.SlugField(source="tenant.slug", allow_null=True, default=None)
    status = serializers.CharField(
        help_text="Always 'invited': a new person gets a set-your-password mail, a person who already has "
        "an account elsewhere gets an invitation to accept. The answer is the same either way, so it "
        "does not tell whether the address has an account; see the members list for who joined."
    )


class MemberListInviteApi(PartnerApiView):
    serializer_class = MemberOutput
    admin_scope = True

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Membership.objects.none()
        return selectors.partner_members(partner=self.request.partner)

    @extend_schema(operation_id="members_list", responses={200: MemberOutput(many=True), **READ_ERRORS})
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(MemberOutput(page, many=True).data)

    @extend_schema(
        operation_id="members_invite",
        request=MemberInviteInput,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={202: MemberAddedOutput, **WRITE_ERRORS},
        examples=[
            OpenApiExample(
                "Invite",
                value={"email": "ops@acme.example", "role": "tenant_admin", "tenant": "acme"},
                request_only=True,
            )
        ],
    )
    def post(self, request: Request) -> Response:
        data = MemberInviteInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        tenant = _partner_tenant(request, values["tenant"]) if values.get("tenant") else None
        actor, actor_label = api_actor(request)
        added = member_invite(
            partner=request.partner,
            email=values["email"],
            name=values["name"],
            role=values["role"],
            tenant=tenant,
            actor=actor,
            actor_label=actor_label,
            request=request._request,
        )
        body = {"email": added.email, "role": added.role, "tenant": added.tenant, "status": "invited"}
        return Response(MemberAddedOutput(body).data, status=status.HTTP_202_ACCEPTED)


class MemberRevokeApi(PartnerApiView):
    serializer_class = MemberOutput
    admin_scope = True

    @extend_schema(operation_id="members_revoke", responses={204: None, **error_responses(401, 403, 404, 429)})
    def delete(self, request: Request, pk: int) -> Response:
        membership = selectors.partner_members(partner=request.partner).filter(pk=pk).first()
        if membership is None:
            raise exceptions.NotFound("No such member.")
        actor, actor_label = api_actor(request)
        services.membership_revoke(membership=membership, actor=actor, actor_label=actor_label)
        return Response(status=status.HTTP_204_NO_CONTENT)


# ---- API keys (partner console: partner and tenant keys; tenant domain: that tenant's keys) ---


class ApiKeyOutput(serializers.Serializer):
    name = serializers.CharField()
    prefix = serializers.CharField()
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=ApiKey.Scope.choices))
    level = serializers.ChoiceField(choices=[("partner", "partner"), ("tenant", "tenant")])
    tenant = serializers.SlugField(source="tenant.slug", allow_null=True, default=None)
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(allow_null=True)
    last_used_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)


class ApiKeyCreatedOutput(ApiKeyOutput):
    key = serializers.CharField(
        allow_null=True,
        help_text="The full key, shown only in this response: store it now. null in an Idempotency-Key replay.",
    )


class ApiKeyCreateInput(StrictSerializer):
    name = serializers.CharField(max_length=120)
    scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=ApiKey.Scope.choices), min_length=1, max_length=3
    )
    expires_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    tenant = serializers.SlugField(required=False, help_text="Partner console only: make a tenant-level key.")


def _keys_scope(request: Request):
    area = getattr(request, "portal_area", None)
    if area == "partner":
        return api_keys_for_partner(partner=request.partner)
    if area == "tenant":
        return api_keys_for_tenant(tenant=request.tenant)
    raise exceptions.NotFound()


class ApiKeyListCreateApi(ApiView):
    serializer_class = ApiKeyOutput
    admin_scope = True
    idempotency_redact = ("key",)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ApiKey.objects.none()
        return _keys_scope(self.request)

    @extend_schema(operation_id="api_keys_list", responses={200: ApiKeyOutput(many=True), **READ_ERRORS})
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(ApiKeyOutput(page, many=True).data)

    @extend_schema(
        operation_id="api_keys_create",
        request=ApiKeyCreateInput,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={201: ApiKeyCreatedOutput, **WRITE_ERRORS},
        examples=[OpenApiExample("Read-only key", value={"name": "BI export", "scopes": ["read"]}, request_only=True)],
    )
    def post(self, request: Request) -> Response:
        _keys_scope(request)
        data = ApiKeyCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        beyond = sorted(set(values["scopes"]) - principal_scopes(request))
        if beyond:
            raise exceptions.ValidationError({"scopes": [f"You cannot grant scopes you do not hold: {beyond}."]})
        actor, actor_label = api_actor(request)
        owner: dict = {}
        if request.portal_area == "tenant":
            if values.get("tenant"):
                raise exceptions.ValidationError({"tenant": ["Keys made on a tenant domain belong to that tenant."]})
            owner["tenant"] = request.tenant
        elif values.get("tenant"):
            owner["tenant"] = _partner_tenant(request, values["tenant"])
        else:
            owner["partner"] = request.partner
        created = api_key_create(
            name=values["name"],
            scopes=values["scopes"],
            expires_at=values["expires_at"],
            actor=actor if actor is not None and actor.is_authenticated else None,
            actor_label=actor_label,
            **owner,
        )
        body = {**ApiKeyOutput(created.api_key).data, "key": created.raw_key}
        return Response(body, status=status.HTTP_201_CREATED)


class ApiKeyRevokeApi(ApiView):
    serializer_class = ApiKeyOutput
    admin_scope = True

    @extend_schema(
        operation_id="api_keys_revoke",
        request=None,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={200: ApiKeyOutput, **WRITE_ERRORS},
    )
    def post(self, request: Request, prefix: str) -> Response:
        api_key = _keys_scope(request).filter(prefix=prefix).first()
        if api_key is None:
            raise exceptions.NotFound("No such key.")
        actor, actor_label = api_actor(request)
        api_key = api_key_revoke(api_key=api_key, actor=actor, actor_label=actor_label)
        return Response(ApiKeyOutput(api_key).data)


# ---- usage ---------------------------------------------------------------------------------


class UsageOutput(serializers.Serializer):
    day = serializers.DateField()
    tenant = serializers.SlugField(source="tenant.slug", allow_null=True, default=None)
    metric = serializers.ChoiceField(choices=UsageRecord.Metric.choices)
    count = serializers.IntegerField()


class UsageQuery(serializers.Serializer):
    start = serializers.DateField(required=False, help_text="First day (default: first of this month).")
    end = serializers.DateField(required=False, help_text="Last day, inclusive (default: end of this month).")
    tenant = serializers.SlugField(required=False)
    format = serializers.ChoiceField(choices=[("json", "json"), ("csv", "csv")], required=False, default="json")

    def validate(self, attrs: dict) -> dict:
        today = timezone.now().date()
        attrs.setdefault("start", today.replace(day=1))
        attrs.setdefault("end", today.replace(day=calendar.monthrange(today.year, today.month)[1]))
        if attrs["end"] < attrs["start"]:
            raise serializers.ValidationError({"end": ["The end is before the start."]})
        if (attrs["end"] - attrs["start"]).days > 366:
            raise serializers.ValidationError({"end": ["Ask for at most 366 days at a time."]})
        return attrs


class UsagePagination(CreatedCursorPagination):
    ordering = ("-day", "-id")


class JsonOnlyNegotiation(DefaultContentNegotiation):
    """`?format=csv` is this view's own switch, not DRF's renderer override."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class UsageApi(PartnerApiView):
    serializer_class = UsageOutput
    pagination_class = UsagePagination
    content_negotiation_class = JsonOnlyNegotiation
    queryset = UsageRecord.objects.none()

    @extend_schema(
        operation_id="usage_list",
        parameters=[UsageQuery],
        responses={
            (200, "application/json"): UsageOutput(many=True),
            (200, "text/csv"): OpenApiTypes.STR,
            **error_responses(400, 401, 403, 404, 429),
        },
    )
    def get(self, request: Request) -> Response | HttpResponse:
        query = UsageQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        values = query.validated_data
        tenant = _partner_tenant(request, values["tenant"]) if values.get("tenant") else None
        records = usage_for_partner(partner=request.partner, start=values["start"], end=values["end"], tenant=tenant)
        if values["format"] == "csv":
            response = HttpResponse(usage_csv(records=records), content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = (
                f'attachment; filename="usage-{values["start"].isoformat()}-{values["end"].isoformat()}.csv"'
            )
            return response
        page = self.paginate_queryset(records)
        return self.get_paginated_response(UsageOutput(page, many=True).data)


# ---- audit log -----------------------------------------------------------------------------


class AuditEventOutput(serializers.Serializer):
    id = serializers.IntegerField()
    actor = serializers.CharField(source="actor_label")
    action = serializers.CharField()
    target_type = serializers.CharField()
    target_id = serializers.CharField()
    target_label = serializers.CharField()
    tenant = serializers.SlugField(source="tenant.slug", allow_null=True, default=None)
    changes = serializers.DictField(help_text="What changed as {field: [old, new]}; secrets only as 'changed'.")
    request_id = serializers.CharField(help_text="The X-Request-ID of the request that made the change.")
    created_at = serializers.DateTimeField()


class AuditEventFilter(django_filters.FilterSet):
    tenant = django_filters.CharFilter(field_name="tenant__slug")
    action = django_filters.CharFilter(
        method="filter_action", help_text='An action, or every action under a prefix ending in "." (connection.).'
    )
    actor = django_filters.CharFilter(
        field_name="actor_label", lookup_expr="icontains", help_text="Part of an email or an api-key label."
    )
    since = django_filters.DateFilter(field_name="created_at__date", lookup_expr="gte")
    until = django_filters.DateFilter(field_name="created_at__date", lookup_expr="lte")

    class Meta:
        model = AuditEvent
        fields = ["tenant", "action", "actor", "since", "until"]

    def filter_action(self, queryset, name: str, value: str):
        return selectors.audit_events_filter(queryset, action=value)


class AuditEventListApi(PartnerApiView):
    serializer_class = AuditEventOutput
    filterset_class = AuditEventFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return AuditEvent.objects.none()
        return selectors.audit_events_for_partner_qs(partner=self.request.partner)

    @extend_schema(
        operation_id="audit_list",
        responses={200: AuditEventOutput(many=True), **error_responses(400, 401, 403, 404, 429)},
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(AuditEventOutput(page, many=True).data)


class AuditEventLegacyListApi(AuditEventListApi):
    """`audit-events/`, the first name of `audit/`: same answer, left out of the schema."""

    schema = None


# ---- webhooks ------------------------------------------------------------------------------


class WebhookOutput(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.URLField()
    events = serializers.ListField(child=serializers.ChoiceField(choices=[(e, e) for e in EVENTS]))
    active = serializers.BooleanField()
    created_at = serializers.DateTimeField()


class WebhookCreatedOutput(WebhookOutput):
    secret = serializers.CharField(
        allow_null=True, help_text="Signing secret, shown only in this response. null in an Idempotency-Key replay."
    )


class WebhookCreateInput(StrictSerializer):
    url = serializers.URLField(max_length=500)
    events = serializers.ListField(child=serializers.ChoiceField(choices=[(e, e) for e in EVENTS]), min_length=1)


class WebhookListCreateApi(PartnerApiView):
    serializer_class = WebhookOutput
    admin_scope = True
    idempotency_redact = ("secret",)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return WebhookSubscription.objects.none()
        return webhook_subscriptions_for_partner(partner=self.request.partner)

    @extend_schema(operation_id="webhooks_list", responses={200: WebhookOutput(many=True), **READ_ERRORS})
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(WebhookOutput(page, many=True).data)

    @extend_schema(
        operation_id="webhooks_create",
        request=WebhookCreateInput,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={201: WebhookCreatedOutput, **WRITE_ERRORS},
        examples=[
            OpenApiExample(
                "Subscribe",
                value={"url": "https://hooks.partner.example/tillbridge", "events": ["tenant.created"]},
                request_only=True,
            )
        ],
    )
    def post(self, request: Request) -> Response:
        data = WebhookCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        actor, actor_label = api_actor(request)
        subscription = webhook_subscription_create(
            partner=request.partner, actor=actor, actor_label=actor_label, **data.validated_data
        )
        return Response(
            {**WebhookOutput(subscription).data, "secret": subscription.secret}, status=status.HTTP_201_CREATED
        )


class WebhookDeactivateApi(PartnerApiView):
    serializer_class = WebhookOutput
    admin_scope = True

    @extend_schema(
        operation_id="webhooks_deactivate", responses={200: WebhookOutput, **error_responses(401, 403, 404, 429)}
    )
    def delete(self, request: Request, pk: int) -> Response:
        subscription = webhook_subscriptions_for_partner(partner=request.partner).filter(pk=pk).first()
        if subscription is None:
            raise exceptions.NotFound("No such webhook.")
        actor, actor_label = api_actor(request)
        subscription = webhook_subscription_deactivate(subscription=subscription, actor=actor, actor_label=actor_label)
        return Response(WebhookOutput(subscription).data)


class WebhookDeliveryOutput(serializers.Serializer):
    id = serializers.IntegerField()
    webhook = serializers.IntegerField(source="subscription_id")
    event = serializers.CharField()
    status = serializers.ChoiceField(choices=WebhookDelivery.Status.choices)
    attempts = serializers.IntegerField()
    last_status_code = serializers.IntegerField(allow_null=True)
    last_error = serializers.CharField()
    next_attempt_at = serializers.DateTimeField(allow_null=True)
    delivered_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()


class WebhookDeliveryFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=WebhookDelivery.Status.choices)
    event = django_filters.ChoiceFilter(choices=[(e, e) for e in EVENTS])

    class Meta:
        model = WebhookDelivery
        fields = ["status", "event"]


class WebhookDeliveryListApi(PartnerApiView):
    serializer_class = WebhookDeliveryOutput
    filterset_class = WebhookDeliveryFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return WebhookDelivery.objects.none()
        return webhook_deliveries_for_partner(partner=self.request.partner)

    @extend_schema(
        operation_id="webhook_deliveries_list", responses={200: WebhookDeliveryOutput(many=True), **READ_ERRORS}
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(WebhookDeliveryOutput(page, many=True).data)


class WebhookRedeliverApi(PartnerApiView):
    serializer_class = WebhookDeliveryOutput

    @extend_schema(
        operation_id="webhook_deliveries_redeliver",
        request=None,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={202: WebhookDeliveryOutput, **WRITE_ERRORS},
    )
    def post(self, request: Request, pk: int) -> Response:
        delivery = webhook_deliveries_for_partner(partner=request.partner).filter(pk=pk).first()
        if delivery is None:
            raise exceptions.NotFound("No such delivery.")
        actor, actor_label = api_actor(request)
        again = webhook_delivery_redeliver(delivery=delivery, actor=actor, actor_label=actor_label)
        return Response(WebhookDeliveryOutput(again).data, status=status.HTTP_202_ACCEPTED)


# ---- custom domains ------------------------------------------------------------------------


class DomainVerificationOutput(serializers.Serializer):
    id = serializers.IntegerField()
    domain = serializers.CharField()
    status = serializers.ChoiceField(choices=DomainVerification.Status.choices)
    record_type = serializers.SerializerMethodField()
    record_name = serializers.SerializerMethodField()
    record_value = serializers.SerializerMethodField()
    last_error = serializers.CharField()
    created_at = serializers.DateTimeField()
    checked_at = serializers.DateTimeField(allow_null=True)
    verified_at = serializers.DateTimeField(allow_null=True)

    def get_record_type(self, verification: DomainVerification) -> str:
        return "TXT"

    def get_record_name(self, verification: DomainVerification) -> str:
        return challenge_name(verification.domain)

    def get_record_value(self, verification: DomainVerification) -> str:
        return challenge_value(verification.token)


class DomainVerificationCreateInput(StrictSerializer):
    domain = serializers.CharField(max_length=253)


class DomainVerificationListCreateApi(PartnerApiView):
    serializer_class = DomainVerificationOutput
    admin_scope = True

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return DomainVerification.objects.none()
        return domain_verifications_for_partner(partner=self.request.partner)

    @extend_schema(
        operation_id="domain_verifications_list",
        responses={200: DomainVerificationOutput(many=True), **READ_ERRORS},
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(DomainVerificationOutput(page, many=True).data)

    @extend_schema(
        operation_id="domain_verifications_create",
        request=DomainVerificationCreateInput,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={201: DomainVerificationOutput, **WRITE_ERRORS},
        examples=[OpenApiExample("Claim", value={"domain": "shops.partner.example"}, request_only=True)],
    )
    def post(self, request: Request) -> Response:
        data = DomainVerificationCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        actor, actor_label = api_actor(request)
        verification = domain_verification_create(
            partner=request.partner, actor=actor, actor_label=actor_label, **data.validated_data
        )
        return Response(DomainVerificationOutput(verification).data, status=status.HTTP_201_CREATED)


def _partner_verification(request: Request, pk: int) -> DomainVerification:
    verification = domain_verifications_for_partner(partner=request.partner).filter(pk=pk).first()
    if verification is None:
        raise exceptions.NotFound("No such domain.")
    return verification


class DomainVerificationDetailApi(PartnerApiView):
    serializer_class = DomainVerificationOutput
    admin_scope = True

    @extend_schema(
        operation_id="domain_verifications_retrieve", responses={200: DomainVerificationOutput, **READ_ERRORS}
    )
    def get(self, request: Request, pk: int) -> Response:
        return Response(DomainVerificationOutput(_partner_verification(request, pk)).data)


class DomainVerificationCheckApi(PartnerApiView):
    serializer_class = DomainVerificationOutput
    admin_scope = True

    @extend_schema(
        operation_id="domain_verifications_check",
        request=None,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={200: DomainVerificationOutput, **WRITE_ERRORS},
    )
    def post(self, request: Request, pk: int) -> Response:
        verification = _partner_verification(request, pk)
        actor, actor_label = api_actor(request)
        verification = domain_verification_check(verification=verification, actor=actor, actor_label=actor_label)
        return Response(DomainVerificationOutput(verification).data)


# ---- tenant domain -------------------------------------------------------------------------


class PrincipalOutput(serializers.Serializer):
    type = serializers.ChoiceField(choices=[("api_key", "api_key"), ("user", "user")])
    name = serializers.CharField()
    scopes = serializers.ListField(child=serializers.CharField())


class PartnerSummary(serializers.Serializer):
    slug = serializers.SlugField()
    name = serializers.CharField()


class TenantSelfOutput(TenantOutput):
    partner = PartnerSummary()
    principal = PrincipalOutput()


class TenantSelfApi(ApiView):
    """Who am I, and which tenant is this: the first call to make with a tenant key."""

    api_area = "tenant"
    serializer_class = TenantSelfOutput

    @extend_schema(operation_id="tenant_retrieve", responses={200: TenantSelfOutput, **READ_ERRORS})
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


urlpatterns = [
    path("tenants/", TenantListCreateApi.as_view(), name="api-tenants"),
    path("tenants/<slug:slug>/", TenantDetailApi.as_view(), name="api-tenant-detail"),
    path("tenants/<slug:slug>/suspend/", TenantSuspendApi.as_view(), name="api-tenant-suspend"),
    path("tenants/<slug:slug>/resume/", TenantResumeApi.as_view(), name="api-tenant-resume"),
    path("brand/", BrandApi.as_view(), name="api-brand"),
    path("members/", MemberListInviteApi.as_view(), name="api-members"),
    path("members/<int:pk>/", MemberRevokeApi.as_view(), name="api-member-revoke"),
    path("api-keys/", ApiKeyListCreateApi.as_view(), name="api-keys"),
    path("api-keys/<str:prefix>/revoke/", ApiKeyRevokeApi.as_view(), name="api-key-revoke"),
    path("usage/", UsageApi.as_view(), name="api-usage"),
    path("audit/", AuditEventListApi.as_view(), name="api-audit"),
    # The first name of the same list, kept for clients that use it (not in the schema).
    path("audit-events/", AuditEventLegacyListApi.as_view(), name="api-audit-events"),
    path("webhooks/", WebhookListCreateApi.as_view(), name="api-webhooks"),
    path("webhooks/<int:pk>/", WebhookDeactivateApi.as_view(), name="api-webhook-detail"),
    path("webhook-deliveries/", WebhookDeliveryListApi.as_view(), name="api-webhook-deliveries"),
    path("webhook-deliveries/<int:pk>/redeliver/", WebhookRedeliverApi.as_view(), name="api-webhook-redeliver"),
    path("domain-verifications/", DomainVerificationListCreateApi.as_view(), name="api-domain-verifications"),
    path(
        "domain-verifications/<int:pk>/", DomainVerificationDetailApi.as_view(), name="api-domain-verification-detail"
    ),
    path(
        "domain-verifications/<int:pk>/check/",
        DomainVerificationCheckApi.as_view(),
        name="api-domain-verification-check",
    ),
    path("tenant/", TenantSelfApi.as_view(), name="api-tenant-self"),
]
