"""Partner API: the partner's brand and its members (list, invite, revoke)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_field, extend_schema_view
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.errors import StrictSerializer, error_responses, found
from core.api.serializers import ModelOutput
from core.api.views import ListMixin, PartnerApiView, read_operation, write_operation
from tenants import selectors, services
from tenants.api.tenants import partner_tenant_or_all
from tenants.invitations import member_invite
from tenants.models import (
    Membership,
)

# ---- brand ---------------------------------------------------------------------------------


class BrandSerializer(StrictSerializer):
    name = serializers.CharField(max_length=120, required=False)
    primary_colour = serializers.RegexField(r"^#[0-9A-Fa-f]{6}$", required=False)
    accent_colour = serializers.RegexField(r"^#[0-9A-Fa-f]{6}$", required=False)
    support_email = serializers.EmailField(required=False, allow_blank=True)
    sender_name = serializers.CharField(max_length=120, required=False, allow_blank=True)
    logo_url = serializers.SerializerMethodField()

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_logo_url(self, partner) -> str | None:
        return partner.logo.url if partner.logo else None


class BrandApi(PartnerApiView):
    serializer_class = BrandSerializer
    session_roles = (Membership.Role.PARTNER_ADMIN,)

    @read_operation("brand_retrieve", BrandSerializer)
    def get(self, request: Request) -> Response:
        """Read the partner's brand: name, colours, logo and support email shown to its tenants."""
        return Response(BrandSerializer(request.partner).data)

    @write_operation(
        "brand_update",
        BrandSerializer,
        BrandSerializer,
        examples=[OpenApiExample("Colours", value={"primary_colour": "#0E5E6F"}, request_only=True)],
    )
    def patch(self, request: Request) -> Response:
        """Change the partner's brand (partner admins only); audited."""
        data = self.validated(BrandSerializer, partial=True)
        partner = services.partner_brand_update(partner=request.partner, **self.who(), **data)
        return Response(BrandSerializer(partner).data)


# ---- members -------------------------------------------------------------------------------


class MemberOutput(ModelOutput):
    email = serializers.EmailField(source="user.email")
    name = serializers.CharField(source="user.name")
    tenant = serializers.SlugField(source="tenant.slug", allow_null=True, default=None)

    class Meta:
        model = Membership
        fields = ("id", "email", "name", "role", "tenant", "created_at")


class MemberInviteInput(StrictSerializer):
    email = serializers.EmailField()
    name = serializers.CharField(max_length=150, required=False, default="", allow_blank=True)
    role = serializers.ChoiceField(choices=Membership.Role.choices)
    tenant = serializers.SlugField(required=False, help_text="Invite into this tenant (tenant roles) instead.")


class MemberAddedOutput(serializers.Serializer):
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=Membership.Role.choices)
    tenant = serializers.SlugField(source="tenant.slug", allow_null=True, default=None)
    status = serializers.CharField(
        help_text="Always 'invited': a new person gets a set-your-password mail, a person who already has "
        "an account elsewhere gets an invitation to accept. The answer is the same either way, so it "
        "does not tell whether the address has an account; see the members list for who joined."
    )


@extend_schema_view(get=read_operation("members_list", MemberOutput(many=True)))
class MemberListInviteApi(ListMixin, PartnerApiView):
    """List the partner's members and pending invitations with their roles."""

    serializer_class = MemberOutput
    admin_scope = True

    schema_model = Membership

    def rows(self):
        return selectors.partner_members(partner=self.request.partner)

    @write_operation(
        "members_invite",
        MemberInviteInput,
        MemberAddedOutput,
        status=202,
        examples=[
            OpenApiExample(
                "Invite",
                value={"email": "ops@acme.example", "role": "tenant_admin", "tenant": "acme"},
                request_only=True,
            )
        ],
    )
    def post(self, request: Request) -> Response:
        """Invite a person by email with a role; the invitation link is sent by email."""
        values = self.validated(MemberInviteInput)
        tenant = partner_tenant_or_all(request, values.get("tenant"))
        added = member_invite(
            partner=request.partner,
            email=values["email"],
            name=values["name"],
            role=values["role"],
            tenant=tenant,
            **self.who(),
            request=request._request,
        )
        body = {"email": added.email, "role": added.role, "tenant": added.tenant, "status": "invited"}
        return Response(MemberAddedOutput(body).data, status=status.HTTP_202_ACCEPTED)


class MemberRevokeApi(PartnerApiView):
    serializer_class = MemberOutput
    admin_scope = True

    @extend_schema(operation_id="members_revoke", responses={204: None, **error_responses(401, 403, 404, 429)})
    def delete(self, request: Request, pk: int) -> Response:
        """Remove a member or cancel an invitation (204); audited."""
        membership = found(selectors.partner_members(partner=request.partner).filter(pk=pk).first(), "No such member.")
        services.membership_revoke(membership=membership, **self.who())
        return Response(status=status.HTTP_204_NO_CONTENT)
