"""API keys: on the partner console the partner's and its tenants' keys; on a tenant domain that
tenant's keys. The secret is shown once."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema_view
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.auth import api_actor, principal_scopes
from core.api.errors import StrictSerializer, found
from core.api.serializers import ModelOutput
from core.api.views import ApiView, ListMixin, read_operation, write_operation
from tenants.api.tenants import partner_tenant
from tenants.api_keys import api_key_create, api_key_revoke, api_keys_for_partner, api_keys_for_tenant
from tenants.models import (
    ApiKey,
)

# ---- API keys (partner console: partner and tenant keys; tenant domain: that tenant's keys) ---


class ApiKeyOutput(ModelOutput):
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=ApiKey.Scope.choices))
    level = serializers.ChoiceField(choices=[("partner", "partner"), ("tenant", "tenant")])
    tenant = serializers.SlugField(source="tenant.slug", allow_null=True, default=None)

    class Meta:
        model = ApiKey
        fields = (
            "name",
            "prefix",
            "scopes",
            "level",
            "tenant",
            "created_at",
            "expires_at",
            "last_used_at",
            "revoked_at",
        )


class ApiKeyCreatedOutput(ApiKeyOutput):
    key = serializers.CharField(
        allow_null=True,
        help_text="The full key, shown only in this response: store it now. null in an Idempotency-Key replay.",
    )


class ApiKeyCreateInput(StrictSerializer):
    name = serializers.CharField(max_length=120)
    scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=ApiKey.Scope.choices), min_length=1, max_length=3
    )
    expires_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    tenant = serializers.SlugField(required=False, help_text="Partner console only: make a tenant-level key.")


def _keys_scope(request: Request):
    area = getattr(request, "portal_area", None)
    if area == "partner":
        return api_keys_for_partner(partner=request.partner)
    if area == "tenant":
        return api_keys_for_tenant(tenant=request.tenant)
    raise exceptions.NotFound()


@extend_schema_view(get=read_operation("api_keys_list", ApiKeyOutput(many=True)))
class ApiKeyListCreateApi(ListMixin, ApiView):
    """List the API keys of the caller's partner or tenant: prefix, scopes, last use; never the secret."""

    serializer_class = ApiKeyOutput
    admin_scope = True
    idempotency_redact = ("key",)

    schema_model = ApiKey

    def rows(self):
        return _keys_scope(self.request)

    @write_operation(
        "api_keys_create",
        ApiKeyCreateInput,
        ApiKeyCreatedOutput,
        status=201,
        examples=[OpenApiExample("Read-only key", value={"name": "BI export", "scopes": ["read"]}, request_only=True)],
    )
    def post(self, request: Request) -> Response:
        """Create an API key with the given scopes; the secret is shown in this response only."""
        _keys_scope(request)
        values = self.validated(ApiKeyCreateInput)
        beyond = sorted(set(values["scopes"]) - principal_scopes(request))
        if beyond:
            raise exceptions.ValidationError({"scopes": [f"You cannot grant scopes you do not hold: {beyond}."]})
        actor, actor_label = api_actor(request)
        owner: dict = {}
        if request.portal_area == "tenant":
            if values.get("tenant"):
                raise exceptions.ValidationError({"tenant": ["Keys made on a tenant domain belong to that tenant."]})
            owner["tenant"] = request.tenant
        elif values.get("tenant"):
            owner["tenant"] = partner_tenant(request, values["tenant"])
        else:
            owner["partner"] = request.partner
        created = api_key_create(
            name=values["name"],
            scopes=values["scopes"],
            expires_at=values["expires_at"],
            actor=actor if actor is not None and actor.is_authenticated else None,
            actor_label=actor_label,
            **owner,
        )
        body = {**ApiKeyOutput(created.api_key).data, "key": created.raw_key}
        return Response(body, status=status.HTTP_201_CREATED)


class ApiKeyRevokeApi(ApiView):
    serializer_class = ApiKeyOutput
    admin_scope = True

    @write_operation("api_keys_revoke", request=None, output=ApiKeyOutput)
    def post(self, request: Request, prefix: str) -> Response:
        """Revoke an API key by its prefix; calls with it answer 401 from now on."""
        api_key = found(_keys_scope(request).filter(prefix=prefix).first(), "No such key.")
        api_key = api_key_revoke(api_key=api_key, **self.who())
        return Response(ApiKeyOutput(api_key).data)
