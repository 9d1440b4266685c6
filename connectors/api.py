"""Tenant API for connectors: connections (credentials write-only), sync runs (list, start, cancel),
inbound events (list, detail, replay; the raw body only for the `admin` scope), the SKU map. Thin
views over services/selectors."""

from __future__ import annotations

import json

import django_filters
from django.urls import path
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_field, extend_schema_view
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from commerce.models import ChannelSku
from connectors import selectors, services
from connectors.inbox import event_replay
from connectors.models import Connection, InboundEvent, SyncRun
from connectors.sync import sync_run_cancel, sync_run_start
from connectors.vendors.skus import sku_map_refresh
from core.api.auth import ADMIN, principal_scopes
from core.api.errors import ApiError, StrictSerializer, error_responses, found
from core.api.filters import updated_since_filter
from core.api.serializers import ModelOutput
from core.api.views import (
    IDEMPOTENCY_PARAMETER,
    WRITE_ERRORS,
    ListMixin,
    TenantApiView,
    read_operation,
    write_operation,
)
from core.http.client import ConnectorError
from tenants.models import Membership

SECRET_FIELD = serializers.DictField(
    child=serializers.CharField(max_length=4000, allow_blank=True),
    required=False,
    write_only=True,
    help_text="Write-only. Stored encrypted; never returned.",
)


# ---- connections ---------------------------------------------------------------------------


class ConnectionOutput(ModelOutput):
    config = serializers.DictField()
    has_credentials = serializers.BooleanField()
    credential_keys = serializers.SerializerMethodField()
    webhook_url = serializers.SerializerMethodField()
    cursor = serializers.DictField()

    class Meta:
        model = Connection
        fields = (
            "id",
            "vendor",
            "direction",
            "name",
            "config",
            "status",
            "sync_interval_minutes",
            "has_credentials",
            "credential_keys",
            "webhook_url",
            "cursor",
            "next_sync_at",
            "last_success_at",
            "last_failure_at",
            "last_message",
            "token_expires_at",
            "created_at",
        )

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_credential_keys(self, connection: Connection) -> list[str]:
        """Which credentials are stored (names only, never values)."""
        return sorted(connection.credentials)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_webhook_url(self, connection: Connection) -> str | None:
        request = self.context.get("request")
        if connection.direction != Connection.Direction.SOURCE or connection.vendor == Connection.Vendor.CSV:
            return None
        url = f"/hooks/{connection.vendor}/{connection.pk}/"
        return request.build_absolute_uri(url) if request is not None else url


class ConnectionCreateInput(StrictSerializer):
    vendor = serializers.ChoiceField(choices=Connection.Vendor.choices)
    direction = serializers.ChoiceField(choices=Connection.Direction.choices, default=Connection.Direction.SOURCE)
    name = serializers.CharField(max_length=120)
    config = serializers.DictField(required=False, default=dict)
    credentials = SECRET_FIELD
    webhook_secret = serializers.CharField(max_length=500, required=False, write_only=True)
    sync_interval_minutes = serializers.IntegerField(min_value=1, max_value=1440, default=15)


CONNECTION_EXAMPLE = OpenApiExample(
    "Shopify store",
    value={
        "id": 7,
        "vendor": "shopify",
        "direction": "source",
        "name": "Main store",
        "config": {"shop_domain": "acme-store.myshopify.com"},
        "status": "active",
        "sync_interval_minutes": 15,
        "has_credentials": True,
        "credential_keys": ["access_token"],
        "webhook_url": "https://acme.northwind.example/hooks/shopify/7/",
        "cursor": {},
        "next_sync_at": "2026-03-14T15:45:00Z",
        "last_success_at": "2026-03-14T15:30:02Z",
        "last_failure_at": None,
        "last_message": "",
        "token_expires_at": None,
        "created_at": "2026-03-01T09:12:00Z",
    },
    response_only=True,
)
CONNECTION_CREATE_EXAMPLE = OpenApiExample(
    "Connect a Shopify store",
    value={
        "vendor": "shopify",
        "name": "Main store",
        "config": {"shop_domain": "acme-store.myshopify.com"},
        "credentials": {"access_token": "shpat_0123456789abcdef"},
        "sync_interval_minutes": 15,
    },
    request_only=True,
)


class ConnectionUpdateInput(StrictSerializer):
    name = serializers.CharField(max_length=120, required=False)
    config = serializers.DictField(required=False)
    credentials = SECRET_FIELD
    webhook_secret = serializers.CharField(max_length=500, required=False, write_only=True)
    sync_interval_minutes = serializers.IntegerField(min_value=1, max_value=1440, required=False)
    status = serializers.ChoiceField(choices=[("active", "Active"), ("paused", "Paused")], required=False)


@extend_schema_view(get=read_operation("connections_list", ConnectionOutput(many=True), examples=[CONNECTION_EXAMPLE]))
class ConnectionListCreateApi(ListMixin, TenantApiView):
    """List the tenant's connections (sales channels, processors, ERPs) with their status."""

    session_roles = Membership.WRITER_ROLES
    serializer_class = ConnectionOutput
    filterset_fields = ["vendor", "status"]

    def get_queryset(self):
        return selectors.connections_list()

    @write_operation(
        "connections_create",
        ConnectionCreateInput,
        ConnectionOutput,
        status=201,
        examples=[CONNECTION_CREATE_EXAMPLE, CONNECTION_EXAMPLE],
    )
    def post(self, request: Request) -> Response:
        """Create a connection to a vendor; credentials are stored encrypted and never returned."""
        data = self.validated(ConnectionCreateInput)
        connection = services.connection_create(**data, **self.who())
        return Response(ConnectionOutput(connection, context={"request": request}).data, status=status.HTTP_201_CREATED)


def _connection(pk: int) -> Connection:
    return found(selectors.connection_get(connection_id=pk))


class ConnectionDetailApi(TenantApiView):
    session_roles = Membership.WRITER_ROLES
    serializer_class = ConnectionOutput

    @read_operation("connections_retrieve", ConnectionOutput)
    def get(self, request: Request, pk: int) -> Response:
        """Read one connection: vendor, direction, status, cursor, credential keys (not values)."""
        return Response(ConnectionOutput(_connection(pk), context={"request": request}).data)

    @write_operation("connections_update", ConnectionUpdateInput, ConnectionOutput)
    def patch(self, request: Request, pk: int) -> Response:
        """Change a connection's name, config, credentials or status (pause or resume)."""
        connection = _connection(pk)
        values = self.validated(ConnectionUpdateInput)
        services.connection_update(
            connection=connection,
            name=values.get("name"),
            config=values.get("config"),
            sync_interval_minutes=values.get("sync_interval_minutes"),
            **self.who(),
        )
        if "credentials" in values or "webhook_secret" in values:
            services.connection_credentials_set(
                connection=connection,
                credentials=values.get("credentials"),
                webhook_secret=values.get("webhook_secret"),
                **self.who(),
            )
        if "status" in values:
            services.connection_status_set(connection=connection, status=values["status"], **self.who())
        return Response(ConnectionOutput(_connection(pk), context={"request": request}).data)

    @write_operation("connections_destroy", request=None, output=None, status=204, idempotent=False)
    def delete(self, request: Request, pk: int) -> Response:
        """Delete a connection (204); one that posted documents still depend on is refused with the reason."""
        services.connection_delete(connection=_connection(pk), **self.who())
        return Response(status=status.HTTP_204_NO_CONTENT)


# ---- sync runs -----------------------------------------------------------------------------


class SyncRunOutput(ModelOutput):
    topics = serializers.ListField(child=serializers.CharField())
    cursor = serializers.DictField()

    class Meta:
        model = SyncRun
        fields = (
            "id",
            "connection",
            "kind",
            "status",
            "since",
            "topics",
            "cursor",
            "pages",
            "records",
            "created",
            "updated",
            "skipped",
            "failed",
            "error",
            "queued_at",
            "started_at",
            "finished_at",
        )


class SyncRunStartInput(StrictSerializer):
    connection = serializers.IntegerField(min_value=1, max_value=2**62)
    kind = serializers.ChoiceField(
        choices=[(SyncRun.Kind.MANUAL, "Sync now"), (SyncRun.Kind.BACKFILL, "Backfill")], default=SyncRun.Kind.MANUAL
    )
    since = serializers.DateTimeField(required=False, help_text="Required for a backfill.")


class SyncRunFilter(django_filters.FilterSet):
    connection = django_filters.NumberFilter(field_name="connection_id")

    class Meta:
        model = SyncRun
        fields = ["connection", "status"]


@extend_schema_view(get=read_operation("sync_runs_list", SyncRunOutput(many=True)))
class SyncRunListStartApi(ListMixin, TenantApiView):
    """List the sync runs (polls and backfills), newest first, with progress and counts."""

    session_roles = Membership.WRITER_ROLES
    serializer_class = SyncRunOutput
    ordering = ("-queued_at", "-id")
    filterset_class = SyncRunFilter

    def get_queryset(self):
        return selectors.sync_runs_list()

    @write_operation("sync_runs_start", SyncRunStartInput, SyncRunOutput, status=202)
    def post(self, request: Request) -> Response:
        """Start a sync now or a backfill from `since` on one connection, run in the background."""
        values = self.validated(SyncRunStartInput)
        run = sync_run_start(
            connection=_connection(values["connection"]), kind=values["kind"], since=values.get("since")
        )
        return Response(SyncRunOutput(run).data, status=status.HTTP_202_ACCEPTED)


class SyncRunDetailApi(TenantApiView):
    session_roles = Membership.WRITER_ROLES
    serializer_class = SyncRunOutput

    @read_operation("sync_runs_retrieve", SyncRunOutput)
    def get(self, request: Request, pk: int) -> Response:
        """Read one sync run: progress, counts and errors."""
        return Response(SyncRunOutput(found(selectors.sync_run_get(run_id=pk))).data)


class SyncRunCancelApi(TenantApiView):
    session_roles = Membership.WRITER_ROLES
    serializer_class = SyncRunOutput

    @write_operation("sync_runs_cancel", request=None, output=SyncRunOutput)
    def post(self, request: Request, pk: int) -> Response:
        """Cancel a queued or running sync run: it stops before its next page; a cancelled run
        answers again as it is (200), a run that already succeeded or failed is a 409."""
        run = found(selectors.sync_run_get(run_id=pk))
        if run.is_finished and run.status != SyncRun.Status.CANCELLED:
            raise ApiError(status_code=409, code="sync_run_finished", message=f"This sync run already {run.status}.")
        return Response(SyncRunOutput(sync_run_cancel(run=run)).data)


# ---- inbound events ------------------------------------------------------------------------


class EventOutput(ModelOutput):
    result = serializers.DictField()

    class Meta:
        model = InboundEvent
        fields = (
            "id",
            "connection",
            "source",
            "topic",
            "external_id",
            "payload_hash",
            "status",
            "attempts",
            "next_attempt_at",
            "last_error",
            "result",
            "trace_id",
            "sync_run",
            "received_at",
            "processed_at",
            "updated_at",
        )
        extra_kwargs = {"updated_at": {"help_text": "Last change of the event (status, attempts, result)."}}


class EventDetailOutput(EventOutput):
    """With the raw body only for a principal holding the `admin` scope (context `raw`): a
    vendor's payload carries customers' personal data, which a `read` key has no need of."""

    headers = serializers.SerializerMethodField(help_text="Vendor metadata headers; `admin` scope only, else null.")
    body = serializers.SerializerMethodField(help_text="The raw body as received; `admin` scope only, else null.")
    payload = serializers.SerializerMethodField(help_text="The body parsed as JSON; `admin` scope only, else null.")

    def _raw(self) -> bool:
        return bool(self.context.get("raw"))

    @extend_schema_field(serializers.DictField(child=serializers.CharField(), allow_null=True))
    def get_headers(self, event: InboundEvent) -> dict | None:
        return event.headers if self._raw() else None

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_body(self, event: InboundEvent) -> str | None:
        return event.body if self._raw() else None

    @extend_schema_field(serializers.JSONField(allow_null=True))
    def get_payload(self, event: InboundEvent):
        if not self._raw():
            return None
        try:
            return json.loads(event.body)
        except ValueError:
            return None


class EventFilter(django_filters.FilterSet):
    connection = django_filters.NumberFilter(field_name="connection_id")
    updated_since = updated_since_filter()

    class Meta:
        model = InboundEvent
        fields = ["connection", "status", "topic", "external_id", "updated_since"]


@extend_schema_view(get=read_operation("events_list", EventOutput(many=True)))
class EventListApi(ListMixin, TenantApiView):
    """List the inbound events (webhooks and polled documents), newest first, with their status."""

    session_roles = Membership.WRITER_ROLES
    serializer_class = EventOutput
    ordering = ("-received_at", "-id")
    filterset_class = EventFilter

    def get_queryset(self):
        return selectors.events_list()


def _event(pk: int) -> InboundEvent:
    return found(selectors.event_get(event_id=pk))


class EventDetailApi(TenantApiView):
    session_roles = Membership.WRITER_ROLES
    serializer_class = EventDetailOutput

    @read_operation("events_retrieve", EventDetailOutput)
    def get(self, request: Request, pk: int) -> Response:
        """Read one inbound event: its status, result and the error that stopped it, if any; the
        raw body, headers and parsed payload only with the `admin` scope (else null)."""
        raw = ADMIN in principal_scopes(request)
        return Response(EventDetailOutput(_event(pk), context={"raw": raw}).data)


class EventReplayApi(TenantApiView):
    session_roles = Membership.WRITER_ROLES
    serializer_class = EventOutput

    @write_operation("events_replay", request=None, output=EventOutput, status=202)
    def post(self, request: Request, pk: int) -> Response:
        """Replay a failed or dead inbound event: it is processed again in the background (202)."""
        event = event_replay(event=_event(pk))
        event.refresh_from_db(fields=["updated_at"])  # stamped by the database on the update
        return Response(EventOutput(event).data, status=status.HTTP_202_ACCEPTED)


# ---- the SKU map (issue 20) ----------------------------------------------------------------------


class ChannelSkuOutput(ModelOutput):
    connection = serializers.IntegerField(source="source_connection_id")
    vendor = serializers.CharField(source="source")

    class Meta:
        model = ChannelSku
        fields = ("id", "connection", "vendor", "channel_item_id", "sku", "name", "updated_at")
        extra_kwargs = {"sku": {"help_text": "Blank: the channel's catalog gives this item no SKU."}}


class ChannelSkuFilter(django_filters.FilterSet):
    connection = django_filters.NumberFilter(field_name="source_connection_id")
    unmapped = django_filters.BooleanFilter(method="_unmapped", label="Only items without a SKU")

    class Meta:
        model = ChannelSku
        fields = ["connection", "sku", "unmapped"]

    def _unmapped(self, queryset, name, value):
        return queryset.filter(sku="") if value else queryset.exclude(sku="")


@extend_schema_view(
    get=read_operation(
        "sku_map_list",
        ChannelSkuOutput(many=True),
        summary="List the SKU map",
        description="Each channel item (a Square item variation, a Shopify inventory item) and the tenant's SKU "
        "it stands for. Inbound stock and order lines are stored under the SKU. `unmapped=true` lists the items "
        "whose catalog entry has no SKU (each is also an exception in the inbox).",
    )
)
class SkuMapListApi(ListMixin, TenantApiView):
    serializer_class = ChannelSkuOutput
    ordering = ("-id",)
    filterset_class = ChannelSkuFilter

    def get_queryset(self):
        return ChannelSku.objects.all()


class SkuMapRefreshOutput(serializers.Serializer):
    items = serializers.IntegerField(help_text="Catalog items read.")
    without_sku = serializers.IntegerField(help_text="Of those, items the catalog gives no SKU.")


class SkuMapRefreshApi(TenantApiView):
    session_roles = Membership.WRITER_ROLES
    serializer_class = SkuMapRefreshOutput

    @extend_schema(
        operation_id="sku_map_refresh",
        summary="Read a channel's catalog into the SKU map",
        description="Reads every item of the connection's catalog (Square: item variations) and stores its SKU; "
        "exceptions of items that have a SKU now are resolved. 400 for a vendor without a catalog to read; 502 "
        "when the channel cannot be read.",
        request=None,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={200: SkuMapRefreshOutput, **WRITE_ERRORS, **error_responses(502)},
    )
    def post(self, request: Request, pk: int) -> Response:
        connection = found(Connection.objects.filter(pk=pk).first(), "No such connection.")
        try:
            counts = sku_map_refresh(connection=connection)
        except ConnectorError as error:
            raise ApiError(
                status_code=502,
                code="channel_unavailable",
                message=f"{connection.get_vendor_display()} could not be read: {error.message}",
            ) from error
        return Response(SkuMapRefreshOutput(counts).data)


urlpatterns = [
    path("connections/", ConnectionListCreateApi.as_view(), name="api-connections"),
    path("connections/<int:pk>/", ConnectionDetailApi.as_view(), name="api-connection-detail"),
    path("sync-runs/", SyncRunListStartApi.as_view(), name="api-sync-runs"),
    path("sync-runs/<int:pk>/", SyncRunDetailApi.as_view(), name="api-sync-run-detail"),
    path("sync-runs/<int:pk>/cancel/", SyncRunCancelApi.as_view(), name="api-sync-run-cancel"),
    path("events/", EventListApi.as_view(), name="api-events"),
    path("events/<int:pk>/", EventDetailApi.as_view(), name="api-event-detail"),
    path("events/<int:pk>/replay/", EventReplayApi.as_view(), name="api-event-replay"),
    path("sku-map/", SkuMapListApi.as_view(), name="api-sku-map"),
    path("connections/<int:pk>/sku-map/refresh/", SkuMapRefreshApi.as_view(), name="api-sku-map-refresh"),
]
