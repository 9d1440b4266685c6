"""Promotions API: price lists, their lifecycle actions and the prices per channel."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema_view
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.errors import StrictSerializer, found, rows_refused
from core.api.serializers import ModelOutput
from core.api.views import ListMixin, TenantApiView, read_operation, write_operation
from core.models import MONEY
from core.spreadsheet import RowsInvalid
from promotions import price_changes, prices
from promotions.api.promotions import (
    MAX_ID,
    ChannelOutput,
    TenantDateTimeField,
    _version_values,
    lifecycle_action_view,
)
from promotions.models import ChannelPrice, PriceList

# ---- price lists --------------------------------------------------------------------------------


class PriceListInput(StrictSerializer):
    key = serializers.SlugField(max_length=60)
    name = serializers.CharField(max_length=200)
    currency = serializers.CharField(max_length=3, required=False)
    prices = serializers.DictField(child=serializers.DecimalField(**MONEY), allow_empty=False)
    starts_at = TenantDateTimeField()
    channels = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=MAX_ID))
    approval_threshold_percent = serializers.DecimalField(max_digits=6, decimal_places=2, required=False, min_value=0)
    costs = serializers.DictField(
        child=serializers.DecimalField(**MONEY, min_value=0),
        required=False,
        help_text="Unit cost per SKU of the list (for the promotions' margin check); SKUs may be left out.",
    )


class PriceListEditInput(StrictSerializer):
    prices = serializers.DictField(child=serializers.DecimalField(**MONEY), allow_empty=False, required=False)
    costs = serializers.DictField(
        child=serializers.DecimalField(**MONEY, min_value=0),
        required=False,
        help_text="Unit cost per SKU; omitted: the previous version's costs for the SKUs still listed.",
    )
    starts_at = TenantDateTimeField(required=False)
    channels = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=MAX_ID), required=False)


class PriceListOutput(ModelOutput):
    key = serializers.CharField()
    status = serializers.CharField()
    version = serializers.IntegerField(source="current_version.number")
    starts_at = TenantDateTimeField(source="current_version.starts_at")
    prices = serializers.JSONField(source="current_version.prices")
    costs = serializers.JSONField(source="current_version.costs", help_text="Unit cost per SKU (margin check).")
    channels = ChannelOutput(many=True, source="current_version.channels.all")
    validation = serializers.JSONField(source="current_version.validation")
    requires_approval = serializers.BooleanField(source="current_version.requires_approval")
    published_version = serializers.IntegerField(source="published_version.number", allow_null=True, default=None)

    class Meta:
        model = PriceList
        fields = (
            "id",
            "key",
            "name",
            "currency",
            "status",
            "approval_threshold_percent",
            "version",
            "starts_at",
            "prices",
            "costs",
            "channels",
            "validation",
            "requires_approval",
            "published_version",
        )


class ChannelPriceOutput(ModelOutput):
    channel = serializers.CharField(source="connection.name")

    class Meta:
        model = ChannelPrice
        fields = ("channel", "sku", "price", "expected", "shown_at")


def _price_list(pk: int):
    return found(
        PriceList.objects.select_related("current_version", "published_version").filter(pk=pk).first(),
        "No such price list.",
    )


@extend_schema_view(get=read_operation("price_lists_list", PriceListOutput(many=True)))
class PriceListListCreateApi(ListMixin, TenantApiView):
    """List the price lists with their status and channels, newest first."""

    serializer_class = PriceListOutput

    def get_queryset(self):
        return PriceList.objects.select_related("current_version", "published_version")

    @write_operation("price_lists_create", PriceListInput, PriceListOutput, status=201)
    def post(self, request: Request) -> Response:
        """Create a draft price list: prices per SKU for the chosen channels."""
        data = self.validated(PriceListInput)
        values = _version_values(data)
        price_list = prices.price_list_create(**values, **self.who())
        return Response(PriceListOutput(_price_list(price_list.pk)).data, status=status.HTTP_201_CREATED)


class PriceListDetailApi(TenantApiView):
    serializer_class = PriceListOutput

    @read_operation("price_lists_retrieve", PriceListOutput)
    def get(self, request: Request, pk: int) -> Response:
        """Read one price list with its prices and its deployment per channel."""
        return Response(PriceListOutput(_price_list(pk)).data)

    @write_operation(
        "price_lists_edit",
        PriceListEditInput,
        PriceListOutput,
        summary="Edit a price list as a new version",
        description="A new version; the published one stays on the channels until this one is published.",
    )
    def patch(self, request: Request, pk: int) -> Response:
        price_list = _price_list(pk)
        data = self.validated(PriceListEditInput)
        prices.price_list_edit(price_list=price_list, **_version_values(data), **self.who())
        return Response(PriceListOutput(_price_list(pk)).data)


PRICE_ACTIONS = ("validate", "submit", "approve", "publish", "rollback")
PRICE_ACTION_DOCS = {
    "validate": "Check the price list's prices against the channels' rules before it is submitted.",
    "submit": "Submit the validated price list for approval.",
    "approve": "Approve the submitted price list (a person other than its author).",
    "publish": "Publish the approved price list: its prices are written to each channel in the background. "
    "A version whose `starts_at` is still ahead is scheduled (status `scheduled`) and published at that time.",
    "rollback": "Put the previously published prices back on every channel now: a new version with that version's "
    "prices and channels, published without a second approval (they were approved before). 400 when no earlier "
    "version was published.",
}


def _price_act(action: str, price_list: PriceList, who: dict) -> None:
    if action == "validate":
        prices.price_list_validate(price_list=price_list, **who)
    elif action == "submit":
        prices.price_list_submit(price_list=price_list, **who)
    elif action == "approve":
        prices.price_list_approve(price_list=price_list, actor=who["actor"])
    elif action == "rollback":
        price_changes.price_list_rollback(price_list=price_list, **who)
    else:
        prices.price_list_publish(price_list=price_list, **who)


def _price_action_view(action: str) -> type[TenantApiView]:
    def act(view: TenantApiView, pk: int) -> PriceList:
        _price_act(action, _price_list(pk), view.who())
        return _price_list(pk)

    return lifecycle_action_view(
        f"PriceList{action.title()}Api",
        f"price_lists_{action}",
        input_class=None,
        output=PriceListOutput,
        description=PRICE_ACTION_DOCS[action],
        act=act,
    )


class PriceListImportInput(StrictSerializer):
    csv = serializers.CharField(max_length=2 * 1024 * 1024, trim_whitespace=False, help_text="CSV text: sku,price")
    mode = serializers.ChoiceField(
        choices=["merge", "replace"],
        default="merge",
        help_text="`merge` changes the SKUs in the file and keeps the others; `replace` makes the file the whole list.",
    )


class PriceListImportApi(TenantApiView):
    serializer_class = PriceListOutput

    @write_operation(
        "price_lists_import",
        PriceListImportInput,
        PriceListOutput,
        summary="Import prices from a CSV file as a new version",
        description="All rows or none: every bad row is reported in `details.rows` with its line number. The new "
        "version is a draft: validate, submit, approve and publish it as any other.",
        examples=[OpenApiExample("Two prices", value={"csv": "sku,price\nTEE-RED-M,19.99\nTEE-BLU-M,21.50\n"})],
    )
    def post(self, request: Request, pk: int) -> Response:
        price_list = _price_list(pk)
        data = self.validated(PriceListImportInput)
        try:
            price_changes.price_list_import_csv(
                price_list=price_list, file=data["csv"], mode=data["mode"], **self.who()
            )
        except RowsInvalid as error:
            raise rows_refused(error) from error
        return Response(PriceListOutput(_price_list(pk)).data)


class ChannelPriceListApi(TenantApiView):
    serializer_class = ChannelPriceOutput
    ordering = ("-id",)

    schema_model = ChannelPrice

    def rows(self):
        return ChannelPrice.objects.filter(deployment__version__price_list_id=self.kwargs["pk"]).select_related(
            "connection"
        )

    @read_operation(
        "price_lists_channel_prices",
        ChannelPriceOutput(many=True),
        description="Every price a channel showed for this list after a publish, and when.",
    )
    def get(self, request: Request, pk: int) -> Response:
        """The prices each channel shows for this price list's SKUs, as last read back."""
        _price_list(pk)
        return self.page_of(ChannelPriceOutput, self.get_queryset())
