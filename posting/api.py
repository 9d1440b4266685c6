"""Tenant API of the built-in ledger: journals, batches, trial balance and the posting policy.
Reads go through posting.selectors; the one write (the policy) through posting.services."""

from __future__ import annotations

import datetime as dt

import django_filters
from django.db.models import Q
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema_field, extend_schema_view
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from commerce.models import Payout, PayoutLine
from core.api.errors import StrictSerializer, found
from core.api.filters import updated_since_filter
from core.api.serializers import ModelOutput
from core.api.views import ListMixin, TenantApiView, read_operation, write_operation
from core.money import quantize
from posting.models import JournalEntry, JournalLine, PeriodClose, PostingBatch, PostingPolicy, Reconciliation
from posting.periods import period_close, period_close_get, period_reopen
from posting.selectors import (
    batch_summary,
    batch_summary_entry,
    batches_list,
    journal_detail,
    journals_list,
    payout_reconciliation,
    payouts_list,
    policy_read,
    reconciliations_list,
    trial_balance,
)
from posting.services import policy_update
from tenants.models import Membership


class JournalLineOutput(ModelOutput):
    account = serializers.CharField(source="account.code")
    account_name = serializers.CharField(source="account.name")
    debit = serializers.SerializerMethodField()
    credit = serializers.SerializerMethodField()
    dimensions = serializers.DictField(child=serializers.CharField())
    sources = serializers.ListField(child=serializers.DictField())

    class Meta:
        model = JournalLine
        fields = (
            "position",
            "account",
            "account_name",
            "role",
            "debit",
            "credit",
            "dimensions",
            "description",
            "sources",
        )

    def get_debit(self, line) -> str:
        return str(quantize(line.debit, line.entry.currency))

    def get_credit(self, line) -> str:
        return str(quantize(line.credit, line.entry.currency))


class JournalOutput(ModelOutput):
    total = serializers.SerializerMethodField()

    class Meta:
        model = JournalEntry
        fields = (
            "id",
            "source_key",
            "date",
            "currency",
            "memo",
            "status",
            "total",
            "reverses",
            "batch",
            "external_ref",
            "created_at",
            "updated_at",
        )
        extra_kwargs = {"updated_at": {"help_text": "Last change of the entry (its status, its ERP reference)."}}

    def get_total(self, entry) -> str:
        total = getattr(entry, "total", None)
        if total is None:
            total = sum((line.debit for line in entry.lines.all()), 0)
        return str(quantize(total, entry.currency))


class JournalDetailOutput(JournalOutput):
    lines = JournalLineOutput(many=True, source="lines.all")


class JournalFilter(django_filters.FilterSet):
    date_from = django_filters.DateFilter(field_name="date", lookup_expr="gte")
    date_to = django_filters.DateFilter(field_name="date", lookup_expr="lte")
    source_key = django_filters.CharFilter(field_name="source_key", lookup_expr="startswith", max_length=200)
    updated_since = updated_since_filter()

    class Meta:
        model = JournalEntry
        fields = ["status", "date_from", "date_to", "source_key", "updated_since"]


JOURNAL_EXAMPLE = OpenApiExample(
    "Order journal",
    value={
        "id": 1042,
        "source_key": "order:381:v2",
        "date": "2026-03-14",
        "currency": "EUR",
        "memo": "Shopify order #1001",
        "status": "pushed",
        "total": "119.00",
        "reverses": None,
        "batch": None,
        "external_ref": "JE-2026-0314-17",
        "created_at": "2026-03-14T15:30:04Z",
        "updated_at": "2026-03-14T15:30:09Z",
    },
    response_only=True,
)


@extend_schema_view(get=read_operation("journals_list", JournalOutput(many=True), examples=[JOURNAL_EXAMPLE]))
class JournalListApi(ListMixin, TenantApiView):
    """List the journal entries, newest first, with their totals and ERP status."""

    serializer_class = JournalOutput
    filterset_class = JournalFilter

    schema_model = JournalEntry

    def rows(self):
        return journals_list()


class JournalDetailApi(TenantApiView):
    serializer_class = JournalDetailOutput

    @read_operation("journals_retrieve", JournalDetailOutput)
    def get(self, request: Request, pk: int) -> Response:
        """Read one journal entry with its debit and credit lines and its source document."""
        entry = found(journal_detail(entry_id=pk), "No such journal entry.")
        return Response(JournalDetailOutput(entry).data)


class BatchOutput(ModelOutput):
    entry_count = serializers.IntegerField()

    class Meta:
        model = PostingBatch
        fields = ("id", "window_start", "window_end", "currency", "status", "closed_at", "entry_count")


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


@extend_schema_view(get=read_operation("batches_list", BatchOutput(many=True)))
class BatchListApi(ListMixin, TenantApiView):
    """List the posting batches (windows of summarised entries), newest first, with their status."""

    serializer_class = BatchOutput
    filterset_fields = ["status"]
    ordering = ("-window_start", "-id")

    schema_model = PostingBatch

    def rows(self):
        return batches_list()


class BatchDetailApi(TenantApiView):
    serializer_class = BatchDetailOutput

    @read_operation("batches_retrieve", BatchDetailOutput)
    def get(self, request: Request, pk: int) -> Response:
        """Read one posting batch with its summarised lines and the entries behind them."""
        batch = found(batches_list().filter(pk=pk).first(), "No such batch.")
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

    @read_operation(
        "trial_balance_retrieve",
        TrialBalanceOutput,
        parameters=[OpenApiParameter("as_of", OpenApiTypes.DATE, required=False)],
        summary="Trial balance of the built-in ledger as of a date",
        description="Per account and currency, posted (non-draft) entries up to and including `as_of`.",
    )
    def get(self, request: Request) -> Response:
        query = self.validated(TrialBalanceQuery, data=request.query_params)
        as_of = query.get("as_of")
        return Response(TrialBalanceOutput({"as_of": as_of, "rows": trial_balance(as_of=as_of)}).data)


class PolicySerializer(StrictSerializer):
    recognise_on = serializers.ChoiceField(choices=PostingPolicy.Recognise.choices, required=False)
    discounts = serializers.ChoiceField(choices=PostingPolicy.Discounts.choices, required=False)
    allocation = serializers.ChoiceField(choices=PostingPolicy.Allocation.choices, required=False)
    mode = serializers.ChoiceField(choices=PostingPolicy.Mode.choices, required=False)
    batch_window = serializers.ChoiceField(choices=PostingPolicy.Window.choices, required=False)
    cutoff_hour = serializers.IntegerField(min_value=0, max_value=23, required=False)
    unallocated_refunds = serializers.ChoiceField(choices=PostingPolicy.UnallocatedRefunds.choices, required=False)


class PolicyApi(TenantApiView):
    serializer_class = PolicySerializer

    @read_operation("posting_policy_retrieve", PolicySerializer)
    def get(self, request: Request) -> Response:
        """Read the tenant's posting policy: when orders post, batching window, discount presentation."""
        return Response(PolicySerializer(policy_read()).data)

    @write_operation("posting_policy_update", PolicySerializer, PolicySerializer)
    def patch(self, request: Request) -> Response:
        """Change the posting policy; entries already posted keep the policy they were posted under."""
        data = self.validated(PolicySerializer)
        policy = policy_update(**data, **self.who())
        return Response(PolicySerializer(policy).data)


# --- payouts and their reconciliation (issue 14 item 12) ----------------------------------------

LINE_MATCH_STATES = [("matched", "Matched"), ("unmatched", "Unmatched"), ("suspense", "In payout suspense")]


class PayoutOutput(ModelOutput):
    amount = serializers.SerializerMethodField()
    line_count = serializers.IntegerField()
    reconciliation_status = serializers.ChoiceField(
        choices=Reconciliation.Status.choices, help_text="`unmatched` also when the payout was never checked."
    )
    matched_lines = serializers.SerializerMethodField()
    difference = serializers.SerializerMethodField(help_text="Sum over the lines not matched, in the payout currency.")
    checked_at = serializers.SerializerMethodField()

    class Meta:
        model = Payout
        fields = (
            "id",
            "external_id",
            "source",
            "gateway",
            "currency",
            "arrival_date",
            "amount",
            "line_count",
            "reconciliation_status",
            "matched_lines",
            "difference",
            "checked_at",
            "updated_at",
        )
        extra_kwargs = {"updated_at": {"help_text": "Last change of the payout as received (not its reconciliation)."}}

    def _reconciliation(self, payout) -> Reconciliation | None:
        return getattr(payout, "reconciliation", None)

    def get_amount(self, payout) -> str:
        return str(quantize(payout.amount, payout.currency))

    def get_matched_lines(self, payout) -> int:
        reconciliation = self._reconciliation(payout)
        return reconciliation.matched if reconciliation is not None else 0

    def get_difference(self, payout) -> str:
        reconciliation = self._reconciliation(payout)
        if reconciliation is None:
            return str(quantize(payout.amount, payout.currency))
        return str(quantize(reconciliation.difference, payout.currency))

    @extend_schema_field(OpenApiTypes.DATETIME)
    def get_checked_at(self, payout) -> str | None:
        reconciliation = self._reconciliation(payout)
        return serializers.DateTimeField().to_representation(reconciliation.checked_at) if reconciliation else None


class PayoutLineDocumentOutput(serializers.Serializer):
    type = serializers.CharField(help_text="`order` or `refund`.")
    id = serializers.IntegerField()
    external_id = serializers.CharField()


class PayoutLineMatchOutput(serializers.Serializer):
    line = serializers.IntegerField(help_text="Position of the line in the payout, from 0.")
    type = serializers.ChoiceField(choices=PayoutLine.Type.choices)
    vendor_type = serializers.CharField()
    reference = serializers.CharField()
    description = serializers.CharField()
    amount = serializers.CharField()
    fee = serializers.CharField()
    state = serializers.ChoiceField(choices=LINE_MATCH_STATES)
    role = serializers.CharField(help_text="Posting role the line settles or is booked to.")
    document = PayoutLineDocumentOutput(allow_null=True, help_text="Order or refund a charge or refund settles.")
    journal_entry = serializers.IntegerField(allow_null=True)
    journal_lines = serializers.ListField(child=serializers.IntegerField())
    expected = serializers.CharField(allow_null=True)
    difference = serializers.CharField()
    reason = serializers.CharField()


class PayoutDetailOutput(PayoutOutput):
    lines = PayoutLineMatchOutput(many=True)
    journal_entries = serializers.ListField(child=serializers.IntegerField())
    open_exceptions = serializers.ListField(child=serializers.IntegerField(), help_text="Ids of open exceptions.")


class PayoutFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(field_name="reconciliation_status", choices=Reconciliation.Status.choices)
    arrival_from = django_filters.DateFilter(field_name="arrival_date", lookup_expr="gte")
    arrival_to = django_filters.DateFilter(field_name="arrival_date", lookup_expr="lte")
    gateway = django_filters.CharFilter(max_length=60)
    updated_since = updated_since_filter(method="changed_since")

    class Meta:
        model = Payout
        fields = ["status", "arrival_from", "arrival_to", "gateway", "updated_since"]

    def changed_since(self, queryset, name, value):
        """The payout itself changed, or its reconciliation was checked again."""
        return queryset.filter(Q(updated_at__gte=value) | Q(reconciliation__checked_at__gte=value))


@extend_schema_view(get=read_operation("payouts_list", PayoutOutput(many=True)))
class PayoutListApi(ListMixin, TenantApiView):
    """List the payouts with their reconciliation state and difference, newest first."""

    serializer_class = PayoutOutput
    filterset_class = PayoutFilter
    ordering = ("-arrival_date", "-id")

    schema_model = Payout

    def rows(self):
        return payouts_list()


class PayoutDetailApi(TenantApiView):
    serializer_class = PayoutDetailOutput

    @read_operation("payouts_retrieve", PayoutDetailOutput)
    def get(self, request: Request, pk: int) -> Response:
        """Read one payout with each line's match: the posted document or the role it was booked to."""
        view = found(payout_reconciliation(payout_id=pk), "No such payout.")
        payout = payouts_list().get(pk=pk)
        data = {
            **PayoutOutput(payout).data,
            "lines": PayoutLineMatchOutput(view.lines, many=True).data,
            "journal_entries": [entry.pk for entry in view.entries],
            "open_exceptions": [exception.pk for exception in view.exceptions],
        }
        return Response(data)


class ReconciliationOutput(ModelOutput):
    payout_external_id = serializers.CharField(source="payout.external_id")
    currency = serializers.CharField(source="payout.currency")
    matched_lines = serializers.IntegerField(source="matched")
    line_count = serializers.SerializerMethodField()
    difference = serializers.SerializerMethodField()
    differences = serializers.ListField(child=serializers.DictField(), help_text="The lines that did not match.")

    class Meta:
        model = Reconciliation
        fields = (
            "id",
            "payout",
            "payout_external_id",
            "currency",
            "status",
            "matched_lines",
            "line_count",
            "difference",
            "differences",
            "checked_at",
        )

    def get_line_count(self, reconciliation) -> int:
        return len(reconciliation.lines)

    def get_difference(self, reconciliation) -> str:
        return str(quantize(reconciliation.difference, reconciliation.payout.currency))


class ReconciliationFilter(django_filters.FilterSet):
    updated_since = updated_since_filter("checked_at")

    class Meta:
        model = Reconciliation
        fields = ["status", "updated_since"]


@extend_schema_view(get=read_operation("reconciliations_list", ReconciliationOutput(many=True)))
class ReconciliationListApi(ListMixin, TenantApiView):
    """List the payout reconciliations with their status and difference, newest first."""

    serializer_class = ReconciliationOutput
    filterset_class = ReconciliationFilter
    ordering = ("-checked_at", "-id")

    schema_model = Reconciliation

    def rows(self):
        return reconciliations_list()


class LedgerPeriodOutput(ModelOutput):
    first_open_date = serializers.SerializerMethodField()

    class Meta:
        model = PeriodClose
        fields = ("closed_through", "first_open_date", "changed_at")

    def get_first_open_date(self, period) -> str | None:
        return (period.closed_through + dt.timedelta(days=1)).isoformat() if period.closed_through else None


class LedgerPeriodCloseInput(StrictSerializer):
    closed_through = serializers.DateField(help_text="The last day of the month to close through.")


class LedgerPeriodReopenInput(StrictSerializer):
    closed_through = serializers.DateField(
        allow_null=True, help_text="An earlier month end the ledger stays closed through, or null for none."
    )


class LedgerPeriodApi(TenantApiView):
    """The built-in ledger's closed periods: no entry is dated on or before `closed_through`;
    postings for a closed date move to `first_open_date` with a memo."""

    serializer_class = LedgerPeriodOutput
    pagination_class = None

    @read_operation("ledger_period_retrieve", LedgerPeriodOutput)
    def get(self, request: Request) -> Response:
        return Response(LedgerPeriodOutput(period_close_get()).data)


class _LedgerPeriodWriteApi(TenantApiView):
    serializer_class = LedgerPeriodOutput
    pagination_class = None
    admin_scope = True
    session_roles = (Membership.Role.TENANT_ADMIN, Membership.Role.PARTNER_ADMIN)


class LedgerPeriodCloseApi(_LedgerPeriodWriteApi):
    @write_operation(
        "ledger_period_close",
        LedgerPeriodCloseInput,
        LedgerPeriodOutput,
        description="Close the ledger through a month end (audited; tenant admins only).",
    )
    def post(self, request: Request) -> Response:
        data = self.validated(LedgerPeriodCloseInput)
        period = period_close(through=data["closed_through"], **self.who())
        return Response(LedgerPeriodOutput(period).data)


class LedgerPeriodReopenApi(_LedgerPeriodWriteApi):
    @write_operation(
        "ledger_period_reopen",
        LedgerPeriodReopenInput,
        LedgerPeriodOutput,
        description="Reopen periods back to an earlier month end or to none (audited; tenant admins only).",
    )
    def post(self, request: Request) -> Response:
        data = self.validated(LedgerPeriodReopenInput)
        period = period_reopen(through=data["closed_through"], **self.who())
        return Response(LedgerPeriodOutput(period).data)


urlpatterns = [
    path("journals/", JournalListApi.as_view(), name="api-journals"),
    path("journals/<int:pk>/", JournalDetailApi.as_view(), name="api-journal-detail"),
    path("batches/", BatchListApi.as_view(), name="api-batches"),
    path("batches/<int:pk>/", BatchDetailApi.as_view(), name="api-batch-detail"),
    path("trial-balance/", TrialBalanceApi.as_view(), name="api-trial-balance"),
    path("posting-policy/", PolicyApi.as_view(), name="api-posting-policy"),
    path("payouts/", PayoutListApi.as_view(), name="api-payouts"),
    path("payouts/<int:pk>/", PayoutDetailApi.as_view(), name="api-payout-detail"),
    path("reconciliations/", ReconciliationListApi.as_view(), name="api-reconciliations"),
    path("ledger-period/", LedgerPeriodApi.as_view(), name="api-ledger-period"),
    path("ledger-period/close/", LedgerPeriodCloseApi.as_view(), name="api-ledger-period-close"),
    path("ledger-period/reopen/", LedgerPeriodReopenApi.as_view(), name="api-ledger-period-reopen"),
]
