"""Tenant API of one order's journey: the data the order trace page shows (portal/trace.py), as JSON.
It reads every app's selectors, so it lives in the shell, next to the page."""

from __future__ import annotations

import dataclasses
import json

from django.urls import path
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from commerce.api_orders import OrderOutput
from commerce.models import Order, PayoutLine
from connectors.api import EventOutput
from core.api.errors import found
from core.api.serializers import ModelOutput
from core.api.views import TenantApiView, read_operation
from portal.trace import OrderTrace, order_trace
from posting.api import JournalDetailOutput
from posting.erp.api import PushOutput
from triage.models import Occurrence, Status


class TracePayoutLineOutput(ModelOutput):
    payout = serializers.IntegerField(source="payout_id")
    payout_external_id = serializers.CharField(source="payout.external_id")
    arrival_date = serializers.DateField(source="payout.arrival_date")
    type = serializers.CharField()  # shown as a plain string, not the model's enum

    class Meta:
        model = PayoutLine
        fields = ("payout", "payout_external_id", "arrival_date", "position", "type", "amount", "fee", "reference")


class TraceOccurrenceOutput(ModelOutput):
    exception = serializers.IntegerField(source="exception_id")
    kind = serializers.CharField(source="exception.kind")
    cause = serializers.CharField(source="exception.cause")
    title = serializers.CharField(source="exception.title")
    status = serializers.ChoiceField(source="exception.status", choices=Status.choices)

    class Meta:
        model = Occurrence
        fields = (
            "exception",
            "kind",
            "cause",
            "title",
            "status",
            "object_label",
            "detail",
            "count",
            "first_seen",
            "last_seen",
            "resolved_at",
        )


class TraceEntryOutput(JournalDetailOutput):
    erp_pushes = serializers.SerializerMethodField(help_text="The entry's pushes to ERPs, oldest first.")

    @extend_schema_field(PushOutput(many=True))
    def get_erp_pushes(self, entry) -> list:
        return PushOutput(self.context["pushes"].get(entry.pk, []), many=True).data


class OrderTraceOutput(serializers.Serializer):
    order = OrderOutput()
    trace_ids = serializers.ListField(
        child=serializers.CharField(), help_text="The ids the logs carry from the webhook to the ERP ack."
    )
    events = EventOutput(many=True, help_text="The inbound events that brought the order in (no raw bodies).")
    document = serializers.JSONField(help_text="The canonical order the journal builders read.")
    entries = serializers.SerializerMethodField(help_text="Journal entries of the order and its refunds.")
    payout_lines = TracePayoutLineOutput(many=True, help_text="The payout lines that settle the order.")
    exceptions = TraceOccurrenceOutput(many=True, source="occurrences", help_text="Exceptions on any step.")

    @extend_schema_field(TraceEntryOutput(many=True))
    def get_entries(self, trace: dict) -> list:
        return TraceEntryOutput(trace["entries"], many=True, context={"pushes": trace["pushes"]}).data


class OrderTraceApi(TenantApiView):
    serializer_class = OrderTraceOutput
    schema_model = Order

    @read_operation(
        "orders_trace",
        OrderTraceOutput,
        summary="Trace one order from webhook to ERP acknowledgement",
        description="What the order trace page shows: the inbound events, the canonical document, the journal "
        "entries of the order and its refunds with their lines and ERP pushes, the payout lines that settle it, "
        "the exceptions raised on the way, and the trace ids the logs carry.",
    )
    def get(self, request: Request, pk: int) -> Response:
        trace: OrderTrace = found(order_trace(order_id=pk), "No such order.")
        data = {field.name: getattr(trace, field.name) for field in dataclasses.fields(trace)}
        data["document"] = json.loads(trace.document_json)
        return Response(OrderTraceOutput(data).data)


urlpatterns = [path("orders/<int:pk>/trace/", OrderTraceApi.as_view(), name="api-order-trace")]
