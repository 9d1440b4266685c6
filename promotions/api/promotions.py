"""Promotions API: promotions, their versions, lifecycle actions, deployments and KPIs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.core.exceptions import PermissionDenied
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema_field, extend_schema_view
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from connectors.models import Connection
from core.api.auth import api_who
from core.api.errors import StrictSerializer, found, refused
from core.api.serializers import ModelOutput
from core.api.views import ListMixin, TenantApiView, read_operation, write_operation
from core.models import MONEY
from core.tenancy import tenant_zone
from promotions import deployment, launch, lifecycle, selectors
from promotions.models import (
    SALES_CHANNEL_VENDORS,
    ChannelDeployment,
    Fallback,
    Funding,
    Kind,
    Promotion,
    Stacking,
)

MAX_INT = 2**31 - 1
MAX_ID = 2**63 - 1


# ---- serializers --------------------------------------------------------------------------------


class TenantDateTimeField(serializers.DateTimeField):
    """Times without an offset are wall-clock times in the tenant's timezone, and times are shown there."""

    def default_timezone(self):
        return tenant_zone()

    def to_internal_value(self, value):
        try:
            parsed = super().to_internal_value(value)
            parsed.astimezone(dt.UTC)
        except (OverflowError, ValueError):
            raise serializers.ValidationError("A date and time between the years 2000 and 2100.") from None
        if not 2000 <= parsed.year <= 2100:
            raise serializers.ValidationError("A date and time between the years 2000 and 2100.")
        return parsed


class EligibilitySerializer(StrictSerializer):
    skus = serializers.ListField(child=serializers.CharField(max_length=120), required=False, default=list)
    categories = serializers.ListField(child=serializers.CharField(max_length=120), required=False, default=list)
    collections = serializers.ListField(child=serializers.CharField(max_length=120), required=False, default=list)
    customer_segment = serializers.CharField(max_length=120, required=False, allow_blank=True, default="")
    min_spend = serializers.DecimalField(**MONEY, required=False, allow_null=True)
    coupon_codes = serializers.ListField(child=serializers.CharField(max_length=80), required=False, default=list)
    locations = serializers.ListField(child=serializers.CharField(max_length=120), required=False, default=list)


class ExclusionsSerializer(StrictSerializer):
    skus = serializers.ListField(child=serializers.CharField(max_length=120), required=False, default=list)
    categories = serializers.ListField(child=serializers.CharField(max_length=120), required=False, default=list)
    collections = serializers.ListField(child=serializers.CharField(max_length=120), required=False, default=list)


class PricingEntrySerializer(StrictSerializer):
    price = serializers.DecimalField(**MONEY, required=False, allow_null=True)
    cost = serializers.DecimalField(**MONEY, required=False, allow_null=True)


class VersionFields(StrictSerializer):
    kind = serializers.ChoiceField(choices=Kind.choices)
    value = serializers.DecimalField(**MONEY)
    currency = serializers.CharField(max_length=3, required=False)
    buy_quantity = serializers.IntegerField(min_value=1, max_value=MAX_INT, required=False, allow_null=True)
    get_quantity = serializers.IntegerField(min_value=1, max_value=MAX_INT, required=False, allow_null=True)
    eligibility = EligibilitySerializer(required=False)
    exclusions = ExclusionsSerializer(required=False)
    stacking = serializers.ChoiceField(choices=Stacking.choices, required=False)
    stackable_with = serializers.ListField(child=serializers.SlugField(max_length=60), required=False)
    priority = serializers.IntegerField(required=False, min_value=-1000, max_value=1000)
    starts_at = TenantDateTimeField(help_text="ISO 8601; without an offset it is read in the tenant timezone.")
    ends_at = TenantDateTimeField(required=False, allow_null=True)
    channels = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        help_text="Connection ids of sales channels (Shopify, ...).",
    )
    funding = serializers.ChoiceField(choices=Funding.choices, required=False)
    funding_vendor_ref = serializers.CharField(max_length=120, required=False, allow_blank=True)
    funding_share = serializers.DecimalField(max_digits=5, decimal_places=2, required=False)
    budget = serializers.DecimalField(**MONEY, required=False, allow_null=True)
    usage_limit = serializers.IntegerField(min_value=1, max_value=MAX_INT, required=False, allow_null=True)
    stock_threshold = serializers.IntegerField(min_value=0, max_value=MAX_INT, required=False, allow_null=True)
    pricing = serializers.DictField(child=PricingEntrySerializer(), required=False)
    fallback = serializers.ChoiceField(
        choices=Fallback.choices, required=False, help_text="What to do when a channel rejects an update."
    )
    waves = serializers.ListField(
        child=serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=MAX_ID), min_length=1),
        required=False,
        help_text="Staged launch: ordered groups of channel ids, e.g. [[owned store], [marketplaces]].",
    )
    wave_hold_minutes = serializers.IntegerField(
        min_value=0, max_value=43200, required=False, help_text="The hold between two waves."
    )


class PromotionCreateInput(VersionFields):
    key = serializers.SlugField(max_length=60)
    name = serializers.CharField(max_length=200)


class PromotionEditInput(VersionFields):
    name = serializers.CharField(max_length=200, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required = False


def _plain_json(value):
    """Decimals in nested JSON fields are stored as strings."""
    if isinstance(value, dict):
        return {key: _plain_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain_json(item) for item in value]
    if value is None or isinstance(value, str | int | bool):
        return value
    return str(value)


def _version_values(data: dict) -> dict:
    values = dict(data)
    if "channels" in values:
        ids = values.pop("channels")
        channels = {c.pk: c for c in Connection.objects.filter(pk__in=ids, vendor__in=SALES_CHANNEL_VENDORS)}
        missing = [pk for pk in ids if pk not in channels]
        if missing:
            raise exceptions.ValidationError({"channels": [f"No sales channel with id {pk}." for pk in missing]})
        values["channels"] = [channels[pk] for pk in ids]
    for field in ("eligibility", "exclusions", "pricing"):
        if field in values:
            values[field] = _plain_json(values[field])
    return values


# Fields whose model has choices but that the API has always shown as plain strings stay declared
# as CharField, so the schema keeps them as strings rather than gaining an enum.


class ChannelOutput(ModelOutput):
    vendor = serializers.CharField()

    class Meta:
        model = Connection
        fields = ("id", "name", "vendor")


class VersionOutput(serializers.Serializer):
    number = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=Kind.choices)
    value = serializers.DecimalField(**MONEY)
    currency = serializers.CharField()
    buy_quantity = serializers.IntegerField(allow_null=True)
    get_quantity = serializers.IntegerField(allow_null=True)
    eligibility = serializers.JSONField()
    exclusions = serializers.JSONField()
    stacking = serializers.CharField()
    stackable_with = serializers.JSONField()
    priority = serializers.IntegerField()
    starts_at = TenantDateTimeField()
    ends_at = TenantDateTimeField(allow_null=True)
    channels = ChannelOutput(many=True, source="channels.all")
    funding = serializers.CharField()
    funding_vendor_ref = serializers.CharField()
    funding_share = serializers.DecimalField(max_digits=5, decimal_places=2)
    budget = serializers.DecimalField(**MONEY, allow_null=True)
    usage_limit = serializers.IntegerField(allow_null=True)
    stock_threshold = serializers.IntegerField(allow_null=True)
    pricing = serializers.JSONField()
    fallback = serializers.ChoiceField(choices=Fallback.choices)
    waves = serializers.JSONField()
    wave_hold_minutes = serializers.IntegerField()
    margin = serializers.JSONField(help_text="The margin check made at submit; needs_finance: a finance approver.")
    validation = serializers.JSONField()
    author = serializers.CharField(source="author_email")
    submitted_at = serializers.DateTimeField(allow_null=True)
    approved_by = serializers.CharField(source="approved_by_email")
    approved_at = serializers.DateTimeField(allow_null=True)
    rejected_reason = serializers.CharField()
    created_at = serializers.DateTimeField()


class DeploymentOutput(ModelOutput):
    promotion = serializers.CharField(source="promotion.key")
    version = serializers.IntegerField(source="version.number")
    channel = ChannelOutput(source="connection")
    pause_reason = serializers.CharField()
    wave = serializers.IntegerField(help_text="The staged launch's wave (0-based).")

    class Meta:
        model = ChannelDeployment
        fields = (
            "id",
            "promotion",
            "version",
            "channel",
            "state",
            "external_id",
            "acknowledged_version",
            "last_error",
            "pause_reason",
            "wave",
            "attempts",
            "sent_at",
            "acknowledged_at",
            "created_at",
        )


class AlignmentOutput(serializers.Serializer):
    channel = serializers.CharField(source="connection_name")
    vendor = serializers.CharField()
    state = serializers.CharField()
    target_version = serializers.IntegerField()
    acknowledged_version = serializers.IntegerField(allow_null=True)
    published_version = serializers.IntegerField(allow_null=True)
    stale = serializers.BooleanField(help_text="The channel holds an older version than the published one.")
    scheduled_for = serializers.CharField(
        help_text="A draft waiting for the window start on a channel without start dates (WooCommerce): "
        "when it goes live, in the tenant's zone; empty otherwise."
    )


class BudgetOutput(serializers.Serializer):
    spent = serializers.DecimalField(**MONEY, help_text="The funder's share of discounts.")
    discount = serializers.DecimalField(**MONEY)
    vendor_funded = serializers.DecimalField(**MONEY)
    redemptions = serializers.IntegerField(help_text="Posted orders that used the promotion.")
    budget = serializers.DecimalField(**MONEY, allow_null=True)
    usage_limit = serializers.IntegerField(allow_null=True)
    percent = serializers.FloatField(allow_null=True, help_text="The fuller of budget and usage cap, in percent.")
    reached_at = serializers.DateTimeField(allow_null=True)


class LaunchOutput(serializers.Serializer):
    state = serializers.ChoiceField(choices=Promotion.Launch.choices, source="launch_state")
    wave = serializers.IntegerField(source="launch_wave", help_text="The wave sent last (0-based).")
    halted_reason = serializers.CharField(source="launch_halted_reason")


class PromotionOutput(ModelOutput):
    key = serializers.CharField()
    author = serializers.CharField(source="author_email")
    current_version = VersionOutput()
    published_version = serializers.IntegerField(source="published_version.number", allow_null=True, default=None)
    launch = LaunchOutput(source="*")

    class Meta:
        model = Promotion
        fields = (
            "id",
            "key",
            "name",
            "status",
            "author",
            "current_version",
            "published_version",
            "launch",
            "created_at",
            "updated_at",
        )


class PromotionDetailOutput(PromotionOutput):
    versions = serializers.SerializerMethodField()
    alignment = serializers.SerializerMethodField()
    budget = serializers.SerializerMethodField()

    class Meta(PromotionOutput.Meta):
        fields = (*PromotionOutput.Meta.fields, "versions", "alignment", "budget")

    @extend_schema_field(BudgetOutput)
    def get_budget(self, promotion: Promotion) -> dict:
        return BudgetOutput(selectors.promotion_budget_state(promotion=promotion)).data

    @extend_schema_field(VersionOutput(many=True))
    def get_versions(self, promotion: Promotion) -> list:
        return VersionOutput(selectors.promotion_versions(promotion=promotion), many=True).data

    @extend_schema_field(AlignmentOutput(many=True))
    def get_alignment(self, promotion: Promotion) -> list:
        return AlignmentOutput(selectors.version_alignment(promotion=promotion), many=True).data


class ActionInput(StrictSerializer):
    channels = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        required=False,
        allow_null=True,
        help_text="Connection ids to act on (pause, resume, rollback); all channels when omitted.",
    )
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, help_text="Reject only.")


class ActionOutput(serializers.Serializer):
    promotion = PromotionOutput()
    validation = serializers.JSONField(required=False, help_text="Validate only: the rule results.")
    deployments = DeploymentOutput(many=True, required=False, help_text="The deployments the action touched.")


# ---- views --------------------------------------------------------------------------------------


def _promotion(pk: int) -> Promotion:
    return found(selectors.promotion_get(pk=pk), "No such promotion.")


STATUS_PARAMETER = OpenApiParameter(
    "status", str, enum=Promotion.Status.values, required=False, description="Only promotions in this status."
)
EXAMPLE = {
    "key": "spring-tees",
    "name": "Spring tees 20% off",
    "kind": "percent_off",
    "value": "20",
    "starts_at": "2030-04-01T09:00:00",
    "ends_at": "2030-04-15T23:59:00",
    "channels": [1],
    "eligibility": {"skus": ["TEE-RED-M"]},
    "pricing": {"TEE-RED-M": {"price": "25.00", "cost": "9.00"}},
}


@extend_schema_view(get=read_operation("promotions_list", PromotionOutput(many=True), parameters=[STATUS_PARAMETER]))
class PromotionListCreateApi(ListMixin, TenantApiView):
    """List the promotions with their status and current version, newest first."""

    serializer_class = PromotionOutput

    def get_queryset(self):
        wanted = self.request.query_params.get("status") or None
        if wanted and wanted not in Promotion.Status.values:
            raise exceptions.ValidationError({"status": [f"Unknown status {wanted!r}."]})
        return selectors.promotions_list(status=wanted).prefetch_related("current_version__channels")

    @write_operation(
        "promotions_create",
        PromotionCreateInput,
        PromotionDetailOutput,
        status=201,
        examples=[OpenApiExample("Percent off two weeks", value=EXAMPLE, request_only=True)],
    )
    def post(self, request: Request) -> Response:
        """Create a draft promotion: type, eligibility, window, channels and funding."""
        data = self.validated(PromotionCreateInput)
        values = _version_values(data)
        promotion = lifecycle.promotion_create(**values, **self.who())
        return Response(PromotionDetailOutput(_promotion(promotion.pk)).data, status=status.HTTP_201_CREATED)


class PromotionDetailApi(TenantApiView):
    serializer_class = PromotionDetailOutput

    @read_operation("promotions_retrieve", PromotionDetailOutput)
    def get(self, request: Request, pk: int) -> Response:
        """Read one promotion with its versions and its deployment per channel."""
        return Response(PromotionDetailOutput(_promotion(pk)).data)

    @write_operation(
        "promotions_edit",
        PromotionEditInput,
        PromotionDetailOutput,
        summary="Edit a promotion as a new version",
        description="Every edit makes a new version; the promotion goes back to draft for review.",
    )
    def patch(self, request: Request, pk: int) -> Response:
        promotion = _promotion(pk)
        data = self.validated(PromotionEditInput)
        if not data:
            raise exceptions.ValidationError({"non_field_errors": ["Nothing to change."]})
        lifecycle.promotion_edit(promotion=promotion, **_version_values(data), **self.who())
        return Response(PromotionDetailOutput(_promotion(pk)).data)


ACTIONS = ("validate", "submit", "approve", "reject", "publish", "pause", "resume", "rollback", "continue")


def _act(action: str, promotion: Promotion, data: dict, request: Request) -> dict:
    who = api_who(request)
    channels = data.get("channels")
    result: dict = {}
    if action == "validate":
        result["validation"] = lifecycle.promotion_validate(promotion=promotion, **who)
    elif action == "submit":
        lifecycle.promotion_submit(promotion=promotion, **who)
    elif action == "approve":
        lifecycle.promotion_approve(promotion=promotion, actor=who["actor"])
    elif action == "reject":
        lifecycle.promotion_reject(promotion=promotion, actor=who["actor"], reason=data.get("reason", ""))
    elif action == "publish":
        result["deployments"] = deployment.promotion_publish(promotion=promotion, **who)
    elif action == "pause":
        result["deployments"] = deployment.promotion_pause(promotion=promotion, connection_ids=channels, **who)
    elif action == "resume":
        result["deployments"] = deployment.promotion_resume(promotion=promotion, connection_ids=channels, **who)
    elif action == "continue":
        result["deployments"] = launch.promotion_launch_continue(promotion=promotion, **who)
    else:
        result["deployments"] = deployment.promotion_rollback(promotion=promotion, connection_ids=channels, **who)
    return result


ACTION_DOCS = {
    "validate": "Run the rule checks on the current version.",
    "submit": "Submit the validated version for approval.",
    "approve": "Approve the submitted version (a person other than its author, admin or partner role).",
    "reject": "Reject the submitted version; `reason` is required.",
    "publish": "Publish the approved version: one deployment per channel, sent in the background.",
    "pause": "Pause on the given channels (all when `channels` is omitted).",
    "resume": "Resume on the given channels (all when `channels` is omitted).",
    "rollback": "Roll back on the given channels: remove a first version, re-publish the previous one.",
    "continue": "Continue a halted staged launch: send the held channels, later waves follow the hold.",
}


def lifecycle_action_view(
    name: str,
    operation_id: str,
    *,
    input_class: type[serializers.Serializer] | None,
    output: type[serializers.Serializer],
    description: str,
    act: Callable[[TenantApiView, int], Any],
) -> type[TenantApiView]:
    """The POST view of one lifecycle step of object `pk`: `act(view, pk)` runs it and returns what `output`
    shows; a service's PermissionDenied (four eyes, a role that may not) is a refusal (403)."""

    class LifecycleActionApi(TenantApiView):
        serializer_class = output

        @write_operation(operation_id, input_class, output, description=description)
        def post(self, request: Request, pk: int) -> Response:
            try:
                body = act(self, pk)
            except PermissionDenied as error:
                raise refused(error) from None
            return Response(output(body).data)

    LifecycleActionApi.__name__ = LifecycleActionApi.__qualname__ = name
    return LifecycleActionApi


def _action_view(action: str) -> type[TenantApiView]:
    def act(view: TenantApiView, pk: int) -> dict:
        promotion = _promotion(pk)
        result = _act(action, promotion, view.validated(ActionInput), view.request)
        return {"promotion": _promotion(pk), **result}

    return lifecycle_action_view(
        f"Promotion{action.title()}Api",
        f"promotions_{action}",
        input_class=ActionInput,
        output=ActionOutput,
        description=ACTION_DOCS[action],
        act=act,
    )


@extend_schema_view(
    get=read_operation(
        "promotion_deployments_list",
        DeploymentOutput(many=True),
        parameters=[OpenApiParameter("promotion", int, required=False, description="Only this promotion's.")],
    )
)
class DeploymentListApi(ListMixin, TenantApiView):
    """List the promotion deployments per channel with their state and last error."""

    serializer_class = DeploymentOutput

    def get_queryset(self):
        promotion = self.request.query_params.get("promotion")
        queryset = selectors.deployments_list()
        if promotion:
            if not promotion.isdigit() or int(promotion) > MAX_ID:
                raise exceptions.ValidationError({"promotion": ["A promotion id."]})
            queryset = queryset.filter(promotion_id=int(promotion))
        return queryset


class KpiOutput(serializers.Serializer):
    channels_targeted = serializers.IntegerField()
    acknowledged_on_time = serializers.IntegerField()
    activation_accuracy = serializers.FloatField(
        allow_null=True, help_text="Share (0 to 1) of read-back live offers matching their approved version."
    )
    on_time_minutes = serializers.IntegerField()
    offers_checked = serializers.IntegerField(help_text="Channel deployments whose live offer was read back.")
    offers_matching = serializers.IntegerField(help_text="… whose live offer matched the approved version.")
    approval_to_live_median_minutes = serializers.DictField(child=serializers.FloatField())
    approval_to_live_p95_minutes = serializers.DictField(child=serializers.FloatField())
    pauses_by_stock_guard = serializers.IntegerField()
    rollbacks = serializers.IntegerField()


class KpiApi(TenantApiView):
    serializer_class = KpiOutput

    @read_operation("promotions_kpis", KpiOutput)
    def get(self, request: Request) -> Response:
        """Promotion KPIs: activation accuracy, approval-to-live times per channel, stock-guard pauses and rollbacks."""
        return Response(KpiOutput(selectors.promotion_kpis()).data)
