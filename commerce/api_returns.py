"""Tenant API for returns: list (filter by status), create (portal-style returns for channels
without their own, e.g. WooCommerce), detail with lines and timeline, and the actions approve,
reject, receive and inspect. Writes take an `Idempotency-Key` like every API write; an action the
lifecycle does not allow answers 409, an approval by the wrong person 403 with the reason."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from commerce.models import Order, Return, ReturnEvent, ReturnLine
from commerce.returns import (
    IllegalTransition,
    LineRequest,
    return_approve,
    return_create,
    return_inspect,
    return_receive,
    return_reject,
)
from commerce.returns_selectors import return_get, returns_list
from core.api.errors import ApiError, OffsetPagination, StrictSerializer, found, refused
from core.api.serializers import ModelOutput
from core.api.views import TenantApiView, read_operation, write_operation

MAX_ID = 2**62


class ReturnLineOutput(ModelOutput):
    order_line = serializers.CharField(source="order_line.external_id")
    sku = serializers.CharField(source="order_line.sku")

    class Meta:
        model = ReturnLine
        fields = ("id", "order_line", "sku", "quantity", "reason", "condition", "disposition", "restocked")


class ReturnEventOutput(ModelOutput):
    actor = serializers.CharField(source="actor_label")
    detail = serializers.DictField()

    class Meta:
        model = ReturnEvent
        fields = ("at", "action", "status", "actor", "detail")


class ReturnOutput(ModelOutput):
    order = serializers.CharField(source="order.external_id")
    approvals = serializers.ListField(child=serializers.DictField())
    refunds = serializers.SerializerMethodField()

    class Meta:
        model = Return
        fields = (
            "id",
            "name",
            "order",
            "origin",
            "source",
            "external_id",
            "status",
            "currency",
            "value",
            "reason",
            "restocking_fee",
            "shipping_cost",
            "shipping_paid_by",
            "approvals",
            "refunds",
            "requested_at",
            "received_at",
            "refunded_at",
        )

    def get_refunds(self, ret: Return) -> list[str]:
        # refunds.all(): the list's prefetch answers it (Refund's ordering: processed_at, pk)
        return [refund.external_id for refund in ret.refunds.all()]


class ReturnDetailOutput(ReturnOutput):
    lines = ReturnLineOutput(many=True, source="lines.all")
    timeline = ReturnEventOutput(many=True, source="events.all")


class ReturnLineInput(StrictSerializer):
    order_line = serializers.CharField(max_length=120, help_text="The order line's external id.")
    quantity = serializers.IntegerField(min_value=1, max_value=100000)
    reason = serializers.CharField(max_length=255, required=False, default="")
    disposition = serializers.ChoiceField(choices=ReturnLine.Disposition.choices, default="restock")


class ReturnCreateInput(StrictSerializer):
    order = serializers.IntegerField(min_value=1, max_value=MAX_ID, help_text="The order's id.")
    lines = ReturnLineInput(many=True)
    reason = serializers.CharField(max_length=255, required=False, default="")
    restocking_fee = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0, default=0)
    shipping_cost = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0, default=0)
    shipping_paid_by = serializers.ChoiceField(choices=Return.ShippingPaidBy.choices, default="merchant")
    exchange_order = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False, allow_null=True)


class LineDecisionInput(StrictSerializer):
    id = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    disposition = serializers.ChoiceField(choices=ReturnLine.Disposition.choices, required=False)
    condition = serializers.ChoiceField(choices=ReturnLine.Condition.choices, required=False)


class ReturnActionInput(StrictSerializer):
    reason = serializers.CharField(max_length=255, required=False, default="", help_text="Why (reject).")
    lines = LineDecisionInput(many=True, required=False, help_text="Dispositions and conditions (receive, inspect).")


def _return(pk: int) -> Return:
    return found(return_get(return_id=pk))


def _order(pk: int | None) -> Order | None:
    return None if pk is None else found(Order.objects.filter(pk=pk).first())


@extend_schema(parameters=[OpenApiParameter("status", OpenApiTypes.STR, enum=Return.Status.values)])
class ReturnListApi(TenantApiView):
    serializer_class = ReturnOutput
    queryset = Return.objects.none()  # for the schema only: rows come from returns_list
    pagination_class = OffsetPagination

    @read_operation(
        "returns_list",
        ReturnOutput(many=True),
        summary="List returns",
        description="Returns (RMA) of the tenant's orders, newest first, from the channels (Shopify, Square) "
        "and from the portal or this API; filter by `status`.",
    )
    def get(self, request: Request) -> Response:
        status = request.query_params.get("status") or None
        if status is not None and status not in Return.Status.values:
            raise ApiError(status_code=400, code="invalid", message=f"{status!r} is not a return status.")
        return self.page_of(ReturnOutput, returns_list(status=status).prefetch_related("refunds"))

    @write_operation(
        "returns_create",
        ReturnCreateInput,
        ReturnDetailOutput,
        status=201,
        summary="Create a return",
        description="Request a return for lines of an order (for channels without returns of their own, "
        "such as WooCommerce): reason, disposition, restocking fee, return shipping, an exchange order.",
    )
    def post(self, request: Request) -> Response:
        values = dict(self.validated(ReturnCreateInput))
        order = _order(values.pop("order"))
        by_id = {line.external_id: line for line in order.lines.all()}
        unknown = [line["order_line"] for line in values["lines"] if line["order_line"] not in by_id]
        if unknown:
            raise ApiError(status_code=400, code="invalid", message=f"Order has no line {', '.join(unknown)}.")
        lines = [
            LineRequest(by_id[line["order_line"]], line["quantity"], line["reason"], line["disposition"])
            for line in values.pop("lines")
        ]
        ret = return_create(
            order=order,
            lines=lines,
            origin=Return.Origin.API,
            exchange_order=_order(values.pop("exchange_order", None)),
            **self.who(),
            **values,
        )
        return Response(ReturnDetailOutput(_return(ret.pk)).data, status=201)


class ReturnDetailApi(TenantApiView):
    serializer_class = ReturnDetailOutput

    @read_operation(
        "returns_retrieve",
        ReturnDetailOutput,
        summary="One return",
        description="A return with its lines, linked refunds and timeline.",
    )
    def get(self, request: Request, pk: int) -> Response:
        return Response(ReturnDetailOutput(_return(pk)).data)


def _run(action: str, ret: Return, data: dict, who: dict) -> None:
    decisions = {
        line["id"]: {key: line.get(key, "") for key in ("disposition", "condition")} for line in data.get("lines") or []
    }
    if action == "approve":
        return_approve(ret=ret, **who)
    elif action == "reject":
        return_reject(ret=ret, **who, reason=data.get("reason", ""))
    elif action == "receive":
        return_receive(ret=ret, **who, lines=decisions)
    else:
        return_inspect(ret=ret, **who, lines=decisions)


ACTION_HELP = {
    "approve": "Approve (a person; above the tenant's limit, a second different person completes it).",
    "reject": "Reject the request; `reason` says why.",
    "receive": "The goods are back: restock by disposition (`lines` may set each line's disposition).",
    "inspect": "Record condition and final disposition; refunded at once when a refund is linked.",
}


def _action_view(action: str) -> type[TenantApiView]:
    class ReturnActionApi(TenantApiView):
        serializer_class = ReturnDetailOutput

        @write_operation(
            f"returns_{action}",
            ReturnActionInput,
            ReturnDetailOutput,
            summary=f"{action.title()} a return",
            description=ACTION_HELP[action],
        )
        def post(self, request: Request, pk: int) -> Response:
            ret = _return(pk)
            data = self.validated(ReturnActionInput)
            try:
                _run(action, ret, data, self.who())
            except IllegalTransition as error:
                raise ApiError(status_code=409, code="conflict", message=error.messages[0]) from None
            except PermissionDenied as error:
                raise refused(error) from None
            return Response(ReturnDetailOutput(_return(pk)).data)

    ReturnActionApi.__name__ = ReturnActionApi.__qualname__ = f"Return{action.title()}Api"
    return ReturnActionApi


urlpatterns = [
    path("returns/", ReturnListApi.as_view(), name="api-returns"),
    path("returns/<int:pk>/", ReturnDetailApi.as_view(), name="api-return-detail"),
    *[
        path(f"returns/<int:pk>/{action}/", _action_view(action).as_view(), name=f"api-return-{action}")
        for action in ACTION_HELP
    ],
]
