"""Exceptions API: the tenant's inbox (`exceptions/…` on a tenant domain, or
`tenants/<slug>/exceptions/…` on the partner console) and the partner-wide list
(`partner-exceptions/` on the partner console, read from the public TriageIndex only).

One module per audience (exceptions: a tenant's inbox; partner: the partner-wide list and alert
rules). Thin views, like tenants/api/: serializers check shape, triage.services checks the business rules
(a refused action is 400 with the reason and changes nothing) and records who acted."""

from __future__ import annotations

from django.urls import path

from triage.api.exceptions import (
    ExceptionAssignApi,
    ExceptionBulkApi,
    ExceptionCommentApi,
    ExceptionDetailApi,
    ExceptionIgnoreApi,
    ExceptionListApi,
    ExceptionResolveApi,
    ExceptionRetryApi,
    ExceptionSnoozeApi,
)
from triage.api.partner import AlertRuleDeactivateApi, AlertRuleListCreateApi, PartnerExceptionListApi

urlpatterns = [
    path("alert-rules/", AlertRuleListCreateApi.as_view(), name="api-alert-rules"),
    path("alert-rules/<int:pk>/", AlertRuleDeactivateApi.as_view(), name="api-alert-rule-detail"),
    path("exceptions/", ExceptionListApi.as_view(), name="api-exceptions"),
    path("exceptions/bulk/", ExceptionBulkApi.as_view(), name="api-exceptions-bulk"),
    path("exceptions/<int:pk>/", ExceptionDetailApi.as_view(), name="api-exception-detail"),
    path("exceptions/<int:pk>/assign/", ExceptionAssignApi.as_view(), name="api-exception-assign"),
    path("exceptions/<int:pk>/comment/", ExceptionCommentApi.as_view(), name="api-exception-comment"),
    path("exceptions/<int:pk>/snooze/", ExceptionSnoozeApi.as_view(), name="api-exception-snooze"),
    path("exceptions/<int:pk>/resolve/", ExceptionResolveApi.as_view(), name="api-exception-resolve"),
    path("exceptions/<int:pk>/ignore/", ExceptionIgnoreApi.as_view(), name="api-exception-ignore"),
    path("exceptions/<int:pk>/retry/", ExceptionRetryApi.as_view(), name="api-exception-retry"),
    path("partner-exceptions/", PartnerExceptionListApi.as_view(), name="api-partner-exceptions"),
]
