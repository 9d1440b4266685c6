"""Tenant API of the built-in ledger: journals, batches, trial balance and the posting policy.
Reads go through posting.selectors; the one write (the policy) through posting.services."""

from __future__ import annotations

import django_filters
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from portal.api_auth import api_actor
from portal.api_errors import CreatedCursorPagination, StrictSerializer
from posting.models import JournalEntry, PostingBatch, PostingPolicy
from posting.money import quantize
from posting.selectors import (
    batch_summary,
    batch_summary_entry,
    batches_list,
    journal_detail,
    journals_list,
    policy_read,
    trial_balance,
)
from posting.services import policy_update
from tenants.api import IDEMPOTENCY_PARAMETER, READ_ERRORS, WRITE_ERRORS, ApiView


class TenantApiView(ApiView):
    api_area = "tenant"


class JournalLineOutput(serializers.Serializer):
    position = serializers.IntegerField()
    account = serializers.CharField(source="account.code")
    account_name = serializers.CharField(source="account.name")
    role = serializers.CharField()
    debit = serializers.SerializerMethodField()
    credit = serializers.SerializerMethodField()
    dimensions = serializers.DictField(child=serializers.CharField())
    description = serializers.CharField()
    sources = serializers.ListField(child=serializers.DictField())

    def get_debit(self, line) -> str:
        return str(quantize(line.debit, line.entry.currency))

    def get_credit(self, line) -> str:
        return str(quantize(line.credit, line.entry.currency))


class JournalOutput(serializers.Serializer):
    id = serializers.IntegerField()
    source_key = serializers.CharField()
    date = serializers.DateField()
    currency = serializers.CharField()
    memo = serializers.CharField()
    status = serializers.ChoiceField(choices=JournalEntry.Status.choices)
    total = serializers.SerializerMethodField()
    reverses = serializers.IntegerField(source="reverses_id", allow_null=True)
    batch = serializers.IntegerField(source="batch_id", allow_null=True)
    external_ref = serializers.CharField()
    created_at = serializers.DateTimeField()

    def get_total(self, entry) -> str:
        total = getattr(entry, "total", None)
        if total is None:
            total = sum((line.debit for line in entry.lines.all()), 0)
        return str(quantize(total, entry.currency))


class JournalDetailOutput(JournalOutput):
    lines = JournalLineOutput(many=True, source="lines.all")


class JournalFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=JournalEntry.Status.choices)
    date_from = django_filters.DateFilter(field_name="date", lookup_expr="gte")
    date_to = django_filters.DateFilter(field_name="date", lookup_expr="lte")
    source_key = django_filters.CharFilter(field_name="source_key", lookup_expr="startswith", max_length=200)

    class Meta:
        model = JournalEntry
        fields = ["status", "date_from", "date_to", "source_key"]


class JournalListApi(TenantApiView):
    serializer_class = JournalOutput
    filterset_class = JournalFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return JournalEntry.objects.none()
        return journals_list()

    @extend_schema(operation_id="journals_list", responses={200: JournalOutput(many=True), **READ_ERRORS})
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(JournalOutput(page, many=True).data)


class JournalDetailApi(TenantApiView):
    serializer_class = JournalDetailOutput

    @extend_schema(operation_id="journals_retrieve", responses={200: JournalDetailOutput, **READ_ERRORS})
    def get(self, request: Request, pk: int) -> Response:
        entry = journal_detail(entry_id=pk)
        if entry is None:
            raise exceptions.NotFound("No such journal entry.")
        return Response(JournalDetailOutput(entry).data)


class BatchOutput(serializers.Serializer):
    id = serializers.IntegerField()
    window_start = serializers.DateTimeField()
    window_end = serializers.DateTimeField()
    currency = serializers.CharField()
    status = serializers.ChoiceField(choices=PostingBatch.Status.choices)
    closed_at = serializers.DateTimeField(allow_null=True)
    entry_count = serializers.IntegerField()


class BatchSummaryOutput(serializers.Serializer):
    account = serializers.CharField(source="account.code")
    role = serializers.CharField()
    dimensions = serializers.DictField(child=serializers.CharField())
    debit = serializers.CharField()
    credit = serializers.CharField()


class BatchDetailOutput(BatchOutput):
    summary = BatchSummaryOutput(many=True)
    summary_entry = serializers.IntegerField(allow_null=True)
    entries = serializers.ListField(child=serializers.IntegerField(), help_text="Ids of the documents' entries")


class BatchFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=PostingBatch.Status.choices)

    class Meta:
        model = PostingBatch
        fields = ["status"]


class BatchPagination(CreatedCursorPagination):
    ordering = ("-window_start", "-id")


class BatchListApi(TenantApiView):
    serializer_class = BatchOutput
    filterset_class = BatchFilter
    pagination_class = BatchPagination

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return PostingBatch.objects.none()
        return batches_list()

    @extend_schema(operation_id="batches_list", responses={200: BatchOutput(many=True), **READ_ERRORS})
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(BatchOutput(page, many=True).data)


class BatchDetailApi(TenantApiView):
    serializer_class = BatchDetailOutput

    @extend_schema(operation_id="batches_retrieve", responses={200: BatchDetailOutput, **READ_ERRORS})
    def get(self, request: Request, pk: int) -> Response:
        batch = batches_list().filter(pk=pk).first()
        if batch is None:
            raise exceptions.NotFound("No such batch.")
        summary_entry = batch_summary_entry(batch=batch)
        data = {
            **BatchOutput(batch).data,
            "summary": batch_summary(batch=batch),
            "summary_entry": summary_entry.pk if summary_entry is not None else None,
            "entries": list(batch.entries.order_by("pk").values_list("pk", flat=True)),
        }
        return Response(BatchDetailOutput(data).data)


class TrialBalanceRowOutput(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    type = serializers.CharField()
    currency = serializers.CharField()
    debit = serializers.CharField()
    credit = serializers.CharField()
    balance = serializers.CharField()


class TrialBalanceOutput(serializers.Serializer):
    as_of = serializers.DateField(allow_null=True)
    rows = TrialBalanceRowOutput(many=True)


class TrialBalanceQuery(serializers.Serializer):
    as_of = serializers.DateField(required=False)


class TrialBalanceApi(TenantApiView):
    serializer_class = TrialBalanceOutput
    pagination_class = None

    @extend_schema(
        operation_id="trial_balance_retrieve",
        parameters=[OpenApiParameter("as_of", OpenApiTypes.DATE, required=False)],
        responses={200: TrialBalanceOutput, **READ_ERRORS},
        description="Per account and currency, posted (non-draft) entries up to and including `as_of`.",
    )
    def get(self, request: Request) -> Response:
        query = TrialBalanceQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        as_of = query.validated_data.get("as_of")
        return Response(TrialBalanceOutput({"as_of": as_of, "rows": trial_balance(as_of=as_of)}).data)


class PolicySerializer(StrictSerializer):
    recognise_on = serializers.ChoiceField(choices=PostingPolicy.Recognise.choices, required=False)
    discounts = serializers.ChoiceField(choices=PostingPolicy.Discounts.choices, required=False)
    allocation = serializers.ChoiceField(choices=PostingPolicy.Allocation.choices, required=False)
    mode = serializers.ChoiceField(choices=PostingPolicy.Mode.choices, required=False)
    batch_window = serializers.ChoiceField(choices=PostingPolicy.Window.choices, required=False)
    cutoff_hour = serializers.IntegerField(min_value=0, max_value=23, required=False)


class PolicyApi(TenantApiView):
    serializer_class = PolicySerializer

    @extend_schema(operation_id="posting_policy_retrieve", responses={200: PolicySerializer, **READ_ERRORS})
    def get(self, request: Request) -> Response:
        return Response(PolicySerializer(policy_read()).data)

    @extend_schema(
        operation_id="posting_policy_update",
        request=PolicySerializer,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={200: PolicySerializer, **WRITE_ERRORS},
    )
    def patch(self, request: Request) -> Response:
        data = PolicySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        actor, actor_label = api_actor(request)
        policy = policy_update(**data.validated_data, actor=actor, actor_label=actor_label)
        return Response(PolicySerializer(policy).data)


urlpatterns = [
    path("journals/", JournalListApi.as_view(), name="api-journals"),
    path("journals/<int:pk>/", JournalDetailApi.as_view(), name="api-journal-detail"),
    path("batches/", BatchListApi.as_view(), name="api-batches"),
    path("batches/<int:pk>/", BatchDetailApi.as_view(), name="api-batch-detail"),
    path("trial-balance/", TrialBalanceApi.as_view(), name="api-trial-balance"),
    path("posting-policy/", PolicyApi.as_view(), name="api-posting-policy"),
]
