"""Partner API (partner console domain, public schema) and the tenant-domain `tenant/` endpoint,
one module per resource.

Thin views: serializers check shape, services in tenants/ do the work and write the audit log with
the caller as actor (`api-key:<prefix>` for keys). Every POST/PATCH honours Idempotency-Key."""

from __future__ import annotations

from django.urls import path

from tenants.api.domains import DomainVerificationCheckApi, DomainVerificationDetailApi, DomainVerificationListCreateApi
from tenants.api.keys import ApiKeyListCreateApi, ApiKeyRevokeApi
from tenants.api.members import BrandApi, MemberListInviteApi, MemberRevokeApi
from tenants.api.tenants import TenantDetailApi, TenantListCreateApi, TenantResumeApi, TenantSelfApi, TenantSuspendApi
from tenants.api.usage import AuditEventLegacyListApi, AuditEventListApi, UsageApi
from tenants.api.webhooks import WebhookDeactivateApi, WebhookDeliveryListApi, WebhookListCreateApi, WebhookRedeliverApi

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
    # The first name of the same list, deprecated (Deprecation/Sunset headers; docs/api-changelog.md).
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
