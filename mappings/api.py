"""Tenant API of the chart of accounts and the mapping sets (tenant domain, tenant schema).

Thin views on mappings.services; shape checked by serializers, business rules by the services
(their ValidationError answers 400 in the one error format). Writes honour Idempotency-Key."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.auth import api_actor
from core.api.errors import (
    StrictSerializer,
    error_responses,
    found,
    rows_refused,
)
from core.api.serializers import ModelOutput
from core.api.views import ListMixin, TenantApiView, read_operation, write_operation
from core.spreadsheet import RowsInvalid
from mappings import services
from mappings.models import CONDITION_KEYS, Account, AccountRule, MappingSet, PostingRole, ValueMap
from mappings.preview import preview_build, preview_order_get
from mappings.selectors import accounts_list, mapping_sets_list


def _actor(request: Request):
    actor, _label = api_actor(request)
    return actor


# ---- accounts -------------------------------------------------------------------------------


class AccountOutput(ModelOutput):
    parent = serializers.CharField(source="parent.code", allow_null=True, default=None)

    class Meta:
        model = Account
        fields = ("id", "code", "name", "type", "parent", "currency", "active", "external_id")


class AccountInput(StrictSerializer):
    code = serializers.CharField(max_length=40)
    name = serializers.CharField(max_length=200)
    type = serializers.ChoiceField(choices=Account.Type.choices)
    parent = serializers.CharField(max_length=40, required=False, allow_blank=True, help_text="Parent account code")
    currency = serializers.CharField(max_length=3, required=False, allow_blank=True, default="")
    active = serializers.BooleanField(required=False, default=True)
    external_id = serializers.CharField(max_length=120, required=False, allow_blank=True, default="")


class AccountPatchInput(AccountInput):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required = False
            field.default = serializers.empty


def _parent(values: dict) -> dict:
    if "parent" in values:
        code = values.pop("parent")
        parent = Account.objects.filter(code=code).first() if code else None
        if code and parent is None:
            raise exceptions.ValidationError({"parent": [f"No account with code {code!r}."]})
        values["parent"] = parent
    return values


@extend_schema_view(get=read_operation("accounts_list", AccountOutput(many=True)))
class AccountListCreateApi(ListMixin, TenantApiView):
    """List the chart of accounts, imported from the ERP or CSV or added here, ordered by code."""

    serializer_class = AccountOutput
    ordering = ("code",)

    def get_queryset(self):
        return accounts_list()

    @write_operation(
        "accounts_create",
        AccountInput,
        AccountOutput,
        status=201,
        examples=[OpenApiExample("Bank", value={"code": "1010", "name": "Bank", "type": "asset"}, request_only=True)],
    )
    def post(self, request: Request) -> Response:
        """Add one account to the chart (code, name, type, optional parent). A duplicate code is 400."""
        data = self.validated(AccountInput)
        account = services.account_create(**_parent(dict(data)), actor=_actor(request))
        return Response(AccountOutput(account).data, status=status.HTTP_201_CREATED)


def _account(pk: int) -> Account:
    return found(Account.objects.select_related("parent").filter(pk=pk).first(), "No such account.")


class AccountDetailApi(TenantApiView):
    serializer_class = AccountOutput

    @read_operation("accounts_retrieve", AccountOutput)
    def get(self, request: Request, pk: int) -> Response:
        """Read one account of the chart by id."""
        return Response(AccountOutput(_account(pk)).data)

    @write_operation("accounts_update", AccountPatchInput, AccountOutput)
    def patch(self, request: Request, pk: int) -> Response:
        """Change an account's name, type, parent or active flag; its code stays."""
        account = _account(pk)
        data = self.validated(AccountPatchInput)
        services.account_update(account=account, actor=_actor(request), **_parent(dict(data)))
        return Response(AccountOutput(_account(pk)).data)


class AccountsImportInput(StrictSerializer):
    csv = serializers.CharField(
        max_length=2 * 1024 * 1024, trim_whitespace=False, help_text="CSV text: code,name,type[,parent]"
    )


class AccountsImportOutput(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()


class AccountsImportApi(TenantApiView):
    serializer_class = AccountsImportOutput

    @write_operation(
        "accounts_import",
        AccountsImportInput,
        AccountsImportOutput,
        summary="Import accounts from a CSV file",
        description="All rows or none: every bad row is reported in `details.rows` with its line number.",
        examples=[
            OpenApiExample("Two accounts", value={"csv": "code,name,type\n1010,Bank,asset\n4000,Sales,revenue\n"})
        ],
    )
    def post(self, request: Request) -> Response:
        data = self.validated(AccountsImportInput)
        try:
            result = services.accounts_import_csv(file=data["csv"], actor=_actor(request))
        except RowsInvalid as error:
            raise rows_refused(error) from error
        return Response(AccountsImportOutput(result).data)


# ---- mapping sets ---------------------------------------------------------------------------


class RuleOutput(ModelOutput):
    account = serializers.CharField(source="account.code")
    conditions = serializers.DictField(child=serializers.CharField())

    class Meta:
        model = AccountRule
        fields = ("id", "role", "account", "conditions")


class ValueMapOutput(ModelOutput):
    class Meta:
        model = ValueMap
        fields = ("id", "kind", "source_value", "erp_value")


class MappingSetOutput(ModelOutput):
    rule_count = serializers.IntegerField(source="rules.count")

    class Meta:
        model = MappingSet
        fields = ("id", "name", "status", "effective_from", "activated_at", "archived_at", "created_at", "rule_count")


class MappingSetDetailOutput(MappingSetOutput):
    rules = RuleOutput(many=True, source="rules.all")
    value_maps = ValueMapOutput(many=True, source="value_maps.all")


class MappingSetCreateInput(StrictSerializer):
    name = serializers.CharField(max_length=120)
    copy_from = serializers.IntegerField(
        required=False, min_value=1, max_value=2**31 - 1, help_text="Id of a set whose rules and value maps to copy"
    )


@extend_schema_view(get=read_operation("mapping_sets_list", MappingSetOutput(many=True)))
class MappingSetListCreateApi(ListMixin, TenantApiView):
    """List the mapping sets, newest first, with their status (draft, active, archived)."""

    serializer_class = MappingSetOutput

    def get_queryset(self):
        return mapping_sets_list()

    @write_operation("mapping_sets_create", MappingSetCreateInput, MappingSetDetailOutput, status=201)
    def post(self, request: Request) -> Response:
        """Start a draft mapping set, empty or as a copy of another set (`copy_from`)."""
        data = self.validated(MappingSetCreateInput)
        source_id = data.get("copy_from")
        if source_id is not None:
            source = MappingSet.objects.filter(pk=source_id).first()
            if source is None:
                raise exceptions.ValidationError({"copy_from": ["No such mapping set."]})
            draft = services.mapping_set_copy(mapping_set=source, name=data["name"])
        else:
            draft = services.mapping_set_create(name=data["name"])
        return Response(MappingSetDetailOutput(draft).data, status=status.HTTP_201_CREATED)


def _mapping_set(pk: int) -> MappingSet:
    return found(MappingSet.objects.filter(pk=pk).first(), "No such mapping set.")


class MappingSetDetailApi(TenantApiView):
    serializer_class = MappingSetDetailOutput

    @read_operation("mapping_sets_retrieve", MappingSetDetailOutput)
    def get(self, request: Request, pk: int) -> Response:
        """Read one mapping set with its account rules and value maps."""
        return Response(MappingSetDetailOutput(_mapping_set(pk)).data)


class ActivateInput(StrictSerializer):
    effective_from = serializers.DateTimeField(required=False, allow_null=True, default=None)


class MappingSetActivateApi(TenantApiView):
    serializer_class = MappingSetDetailOutput

    @write_operation(
        "mapping_sets_activate",
        ActivateInput,
        MappingSetDetailOutput,
        description="Make a draft active from `effective_from` (default now); the active set is archived.",
    )
    def post(self, request: Request, pk: int) -> Response:
        mapping_set = _mapping_set(pk)
        data = self.validated(ActivateInput)
        services.mapping_set_activate(mapping_set=mapping_set, effective_from=data["effective_from"])
        return Response(MappingSetDetailOutput(_mapping_set(pk)).data)


class PreviewLineOutput(serializers.Serializer):
    role = serializers.CharField()
    description = serializers.CharField()
    dimensions = serializers.DictField(child=serializers.CharField())
    account = serializers.CharField(source="account.code", allow_null=True, default=None)
    debit = serializers.CharField(help_text="Decimal string in the currency's minor units")
    credit = serializers.CharField(help_text="Decimal string in the currency's minor units")


class PreviewOutput(serializers.Serializer):
    order = serializers.CharField()
    currency = serializers.CharField()
    lines = PreviewLineOutput(many=True)
    problems = serializers.ListField(child=serializers.CharField())
    postable = serializers.BooleanField()


class PreviewQuery(serializers.Serializer):
    order = serializers.IntegerField(min_value=1, max_value=2**31 - 1)


class MappingSetPreviewApi(TenantApiView):
    serializer_class = PreviewOutput

    @read_operation(
        "mapping_sets_preview",
        PreviewOutput,
        parameters=[OpenApiParameter("order", int, required=True, description="Order id")],
        summary="Preview the journal of an order under a mapping set",
        description="The journal the order would post under this set and the current policy. Writes nothing.",
    )
    def get(self, request: Request, pk: int) -> Response:
        mapping_set = _mapping_set(pk)
        query = self.validated(PreviewQuery, data=request.query_params)
        order = found(preview_order_get(order_id=query["order"]), "No such order.")
        preview = preview_build(order=order, mapping_set=mapping_set)
        return Response(
            PreviewOutput(
                {
                    "order": order.external_id,
                    "currency": preview.currency,
                    "lines": preview.lines,
                    "problems": preview.problems,
                    "postable": preview.postable,
                }
            ).data
        )


class RuleInput(StrictSerializer):
    role = serializers.ChoiceField(choices=PostingRole.choices)
    account = serializers.CharField(max_length=40, help_text="Account code")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for key in CONDITION_KEYS:
            max_length = AccountRule._meta.get_field(key).max_length
            self.fields[key] = serializers.CharField(max_length=max_length, required=False, allow_blank=True)


class MappingSetRulesApi(TenantApiView):
    serializer_class = RuleOutput
    ordering = ("-id",)

    def get_queryset(self):
        return AccountRule.objects.none()

    @read_operation("mapping_rules_list", RuleOutput(many=True))
    def get(self, request: Request, pk: int) -> Response:
        """List the account rules of one mapping set: posting role and conditions to an account."""
        rules = _mapping_set(pk).rules.select_related("account")
        return self.page_of(RuleOutput, rules)

    @write_operation(
        "mapping_rules_create",
        RuleInput,
        RuleOutput,
        status=201,
        examples=[
            OpenApiExample(
                "Web revenue",
                value={"role": "revenue", "account": "4030", "channel": "web"},
                request_only=True,
            )
        ],
    )
    def post(self, request: Request, pk: int) -> Response:
        """Add an account rule to a draft set; an active or archived set refuses changes."""
        mapping_set = _mapping_set(pk)
        data = self.validated(RuleInput)
        values = dict(data)
        account = Account.objects.filter(code=values.pop("account")).first()
        if account is None:
            raise exceptions.ValidationError({"account": ["No account with this code."]})
        role = values.pop("role")
        conditions = {key: value.strip() for key, value in values.items() if value.strip()}
        rule = services.account_rule_add(mapping_set=mapping_set, role=role, account=account, **conditions)
        return Response(RuleOutput(rule).data, status=status.HTTP_201_CREATED)


class MappingSetRuleDeleteApi(TenantApiView):
    serializer_class = RuleOutput

    @extend_schema(
        operation_id="mapping_rules_delete", responses={204: None, **error_responses(400, 401, 403, 404, 429)}
    )
    def delete(self, request: Request, pk: int, rule_pk: int) -> Response:
        """Remove one account rule from a draft mapping set (204)."""
        rule = found(_mapping_set(pk).rules.filter(pk=rule_pk).first(), "No such rule in this set.")
        services.account_rule_remove(rule=rule)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ValueMapInput(StrictSerializer):
    kind = serializers.ChoiceField(choices=ValueMap.Kind.choices)
    source_value = serializers.CharField(max_length=120)
    erp_value = serializers.CharField(max_length=120)


class MappingSetValueMapsApi(TenantApiView):
    serializer_class = ValueMapOutput

    @write_operation(
        "value_maps_set",
        ValueMapInput,
        ValueMapOutput,
        description="Create or replace the ERP value of one source value in a draft set.",
    )
    def post(self, request: Request, pk: int) -> Response:
        mapping_set = _mapping_set(pk)
        data = self.validated(ValueMapInput)
        row = services.value_map_set(mapping_set=mapping_set, **data)
        return Response(ValueMapOutput(row).data)


urlpatterns = [
    path("accounts/", AccountListCreateApi.as_view(), name="api-accounts"),
    path("accounts/import/", AccountsImportApi.as_view(), name="api-accounts-import"),
    path("accounts/<int:pk>/", AccountDetailApi.as_view(), name="api-account-detail"),
    path("mapping-sets/", MappingSetListCreateApi.as_view(), name="api-mapping-sets"),
    path("mapping-sets/<int:pk>/", MappingSetDetailApi.as_view(), name="api-mapping-set-detail"),
    path("mapping-sets/<int:pk>/activate/", MappingSetActivateApi.as_view(), name="api-mapping-set-activate"),
    path("mapping-sets/<int:pk>/preview/", MappingSetPreviewApi.as_view(), name="api-mapping-set-preview"),
    path("mapping-sets/<int:pk>/rules/", MappingSetRulesApi.as_view(), name="api-mapping-rules"),
    path(
        "mapping-sets/<int:pk>/rules/<int:rule_pk>/", MappingSetRuleDeleteApi.as_view(), name="api-mapping-rule-delete"
    ),
    path("mapping-sets/<int:pk>/value-maps/", MappingSetValueMapsApi.as_view(), name="api-value-maps"),
]
