"""ERP API on the tenant domain (/api/v1/erp/...): posting target, push status and re-push, and
chart of accounts import (fetch → diff → apply). Thin views: services in posting.erp do the work."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.urls import path
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.errors import ApiError, StrictSerializer, found
from core.api.serializers import ModelOutput
from core.api.views import TenantApiView, read_operation, write_operation
from posting.erp import connections, selectors, services
from posting.erp.base import ErpError
from posting.erp.chart import chart_import_apply, chart_import_preview
from posting.erp.models import ChartImport, ErpPush
from posting.erp.tasks import erp_push_dispatch
from tenants.models import Membership


def _erp_connection(pk: int):
    return found(connections.erp_connection_get(pk=pk), "No such ERP connection.")


# ---- target ---------------------------------------------------------------------------------


class TargetOutput(serializers.Serializer):
    connection_id = serializers.IntegerField(allow_null=True)
    vendor = serializers.CharField()
    name = serializers.CharField()
    since = serializers.DateField(allow_null=True)


class TargetInput(StrictSerializer):
    connection_id = serializers.IntegerField(allow_null=True)
    since = serializers.DateField(required=False, allow_null=True)


def _target_data(target) -> dict:
    return {
        "connection_id": target.connection_id,
        "vendor": target.connection.vendor if target.connection_id else "builtin_ledger",
        "name": str(target.connection) if target.connection_id else "Built-in ledger",
        "since": target.since,
    }


class TargetApi(TenantApiView):
    session_roles = Membership.WRITER_ROLES
    serializer_class = TargetOutput

    @read_operation("erp_target_retrieve", TargetOutput)
    def get(self, request: Request) -> Response:
        """Read where journals are pushed: the built-in ledger or an ERP connection, and since when."""
        return Response(TargetOutput(_target_data(services.erp_target_get())).data)

    @write_operation("erp_target_update", TargetInput, TargetOutput, idempotent=False)
    def put(self, request: Request) -> Response:
        """Set where journals are pushed: an ERP connection (ready to post) or none for the built-in ledger."""
        data = self.validated(TargetInput)
        connection = None if data["connection_id"] is None else _erp_connection(data["connection_id"])
        try:
            target = services.erp_target_set(connection=connection, since=data.get("since"), **self.who())
        except ValidationError as error:
            raise ApiError(status_code=422, code="connection_not_ready", message=" ".join(error.messages)) from error
        return Response(TargetOutput(_target_data(target)).data)


# ---- pushes ---------------------------------------------------------------------------------


class PushOutput(ModelOutput):
    entry_id = serializers.IntegerField()
    source_key = serializers.CharField(source="entry.source_key")
    date = serializers.DateField(source="entry.date")
    connection_id = serializers.IntegerField(allow_null=True)

    class Meta:
        model = ErpPush
        fields = (
            "entry_id",
            "source_key",
            "date",
            "vendor",
            "connection_id",
            "reference",
            "status",
            "external_id",
            "erp_number",
            "erp_state",
            "attempts",
            "error_kind",
            "error_message",
            "updated_at",
            "acked_at",
        )


class PushListApi(TenantApiView):
    session_roles = Membership.WRITER_ROLES
    serializer_class = PushOutput
    queryset = ErpPush.objects.none()  # the schema's model; get() reads through the selector

    @read_operation("erp_pushes_list", PushOutput(many=True))
    def get(self, request: Request) -> Response:
        """List the ERP pushes of journal entries, filterable by `status`, with attempts and errors."""
        wanted = request.query_params.get("status") or None
        if wanted is not None and wanted not in ErpPush.Status.values:
            raise ApiError(status_code=400, code="invalid", message=f"status must be one of {ErpPush.Status.values}.")
        return self.page_of(PushOutput, selectors.pushes_list(status=wanted))


class RepushOutput(serializers.Serializer):
    entry_id = serializers.IntegerField()
    queued = serializers.BooleanField()


class RepushApi(TenantApiView):
    session_roles = Membership.WRITER_ROLES
    serializer_class = RepushOutput

    @write_operation("erp_push_retry", None, RepushOutput, status=202)
    def post(self, request: Request, entry_id: int) -> Response:
        """Queue one journal entry's ERP push again, whatever its last attempt said (202)."""
        if not selectors.entry_exists(entry_id=entry_id):
            raise ApiError(status_code=404, code="not_found", message="No such journal entry.")
        erp_push_dispatch(entry_id=entry_id, force=True)
        return Response({"entry_id": entry_id, "queued": True}, status=status.HTTP_202_ACCEPTED)


# ---- chart imports --------------------------------------------------------------------------


class ChartImportOutput(ModelOutput):
    connection_id = serializers.IntegerField()
    tax_codes = serializers.JSONField(source="chart.tax_codes")
    dimensions = serializers.JSONField(source="chart.dimensions")

    class Meta:
        model = ChartImport
        fields = (
            "id",
            "connection_id",
            "vendor",
            "status",
            "diff",
            "tax_codes",
            "dimensions",
            "created_at",
            "applied_at",
        )


class ChartImportCreateApi(TenantApiView):
    session_roles = Membership.WRITER_ROLES
    serializer_class = ChartImportOutput

    @write_operation("erp_chart_import_create", None, ChartImportOutput, status=201)
    def post(self, request: Request, pk: int) -> Response:
        """Fetch the chart of accounts from an ERP connection now and keep it as an import to review (201)."""
        connection = _erp_connection(pk)
        try:
            with connections.adapter_for(connection) as adapter:
                chart = adapter.fetch_chart()
        except ErpError as error:
            raise ApiError(
                status_code=422, code=f"erp_{error.kind.value}", message=error.message, details={"erp_code": error.code}
            ) from error
        chart_import = chart_import_preview(connection=connection, chart=chart)
        return Response(ChartImportOutput(chart_import).data, status=status.HTTP_201_CREATED)


class ChartImportDetailApi(TenantApiView):
    session_roles = Membership.WRITER_ROLES
    serializer_class = ChartImportOutput

    def _get(self, pk: int) -> ChartImport:
        return found(ChartImport.objects.filter(pk=pk).first(), "No such chart import.")

    @read_operation("erp_chart_import_retrieve", ChartImportOutput)
    def get(self, request: Request, pk: int) -> Response:
        """Read one chart-of-accounts import from the ERP: its status and the accounts it found."""
        return Response(ChartImportOutput(self._get(pk)).data)


class ChartImportApplyApi(ChartImportDetailApi):
    http_method_names = ["post", "options"]  # applying is a write; reading is ChartImportDetailApi's

    @write_operation("erp_chart_import_apply", None, ChartImportOutput)
    def post(self, request: Request, pk: int) -> Response:
        """Apply a finished chart import: add and update the accounts it found."""
        chart_import = self._get(pk)
        try:
            chart_import_apply(chart_import=chart_import, **self.who())
        except ValueError as error:
            raise ApiError(status_code=409, code="not_applicable", message=str(error)) from error
        chart_import.refresh_from_db()
        return Response(ChartImportOutput(chart_import).data)


urlpatterns = [
    path("erp/target/", TargetApi.as_view(), name="api-erp-target"),
    path("erp/pushes/", PushListApi.as_view(), name="api-erp-pushes"),
    path("erp/pushes/<int:entry_id>/repush/", RepushApi.as_view(), name="api-erp-repush"),
    path("erp/connections/<int:pk>/chart-imports/", ChartImportCreateApi.as_view(), name="api-erp-chart-imports"),
    path("erp/chart-imports/<int:pk>/", ChartImportDetailApi.as_view(), name="api-erp-chart-import"),
    path("erp/chart-imports/<int:pk>/apply/", ChartImportApplyApi.as_view(), name="api-erp-chart-import-apply"),
]
