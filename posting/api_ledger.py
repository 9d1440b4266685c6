"""Tenant API of the built-in ledger's export: every posted line between two dates as CSV or as a
Beancount file (posting/exports.py, the same text the ledger page's export links download)."""

from __future__ import annotations

from django.http import HttpResponse
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request

from core.api.views import READ_ERRORS, FileFormatNegotiation, TenantApiView
from core.views import attachment
from posting.exports import FORMATS, ledger_file


class LedgerExportQuery(serializers.Serializer):
    format = serializers.ChoiceField(choices=sorted(FORMATS), default="csv")
    start = serializers.DateField(required=False, help_text="First day included (entry date).")
    end = serializers.DateField(required=False, help_text="Last day included (entry date).")

    def validate(self, attrs: dict) -> dict:
        if attrs.get("start") and attrs.get("end") and attrs["start"] > attrs["end"]:
            raise serializers.ValidationError({"end": ["The end is before the start."]})
        return attrs


class LedgerExportApi(TenantApiView):
    serializer_class = LedgerExportQuery
    pagination_class = None
    content_negotiation_class = FileFormatNegotiation

    @extend_schema(
        operation_id="ledger_export",
        summary="Export the ledger as CSV or Beancount",
        description="Every posted (non-draft) journal line whose entry is dated from `start` to `end` (both "
        "included; open-ended when left out), as CSV (one row per line, `format=csv`) or as a Beancount file "
        "with its accounts opened (`format=beancount`). The body is the file, sent as an attachment.",
        parameters=[
            OpenApiParameter("format", OpenApiTypes.STR, enum=sorted(FORMATS), default="csv"),
            OpenApiParameter("start", OpenApiTypes.DATE),
            OpenApiParameter("end", OpenApiTypes.DATE),
        ],
        responses={(200, "text/csv"): OpenApiTypes.STR, (200, "text/plain"): OpenApiTypes.STR, **READ_ERRORS},
    )
    def get(self, request: Request) -> HttpResponse:
        query = self.validated(LedgerExportQuery, data=request.query_params)
        body, filename, content_type = ledger_file(
            fmt=query["format"], tenant_slug=request.tenant.slug, start=query.get("start"), end=query.get("end")
        )
        return attachment(body, filename=filename, content_type=content_type)


urlpatterns = [path("ledger/export/", LedgerExportApi.as_view(), name="api-ledger-export")]
