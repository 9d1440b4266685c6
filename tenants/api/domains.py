"""Partner API: custom domains proven by a DNS TXT record (create, list, detail, check)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema_view
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.errors import StrictSerializer, found
from core.api.serializers import ModelOutput
from core.api.views import ListMixin, PartnerApiView, read_operation, write_operation
from tenants.domains import (
    challenge_name,
    challenge_value,
    domain_verification_check,
    domain_verification_create,
    domain_verifications_for_partner,
)
from tenants.models import (
    DomainVerification,
)

# ---- custom domains ------------------------------------------------------------------------


class DomainVerificationOutput(ModelOutput):
    record_type = serializers.SerializerMethodField()
    record_name = serializers.SerializerMethodField()
    record_value = serializers.SerializerMethodField()

    class Meta:
        model = DomainVerification
        fields = (
            "id",
            "domain",
            "status",
            "record_type",
            "record_name",
            "record_value",
            "last_error",
            "created_at",
            "checked_at",
            "verified_at",
        )

    def get_record_type(self, verification: DomainVerification) -> str:
        return "TXT"

    def get_record_name(self, verification: DomainVerification) -> str:
        return challenge_name(verification.domain)

    def get_record_value(self, verification: DomainVerification) -> str:
        return challenge_value(verification.token)


class DomainVerificationCreateInput(StrictSerializer):
    domain = serializers.CharField(max_length=253)


@extend_schema_view(get=read_operation("domain_verifications_list", DomainVerificationOutput(many=True)))
class DomainVerificationListCreateApi(ListMixin, PartnerApiView):
    """List the partner's custom domains and their DNS verification state."""

    serializer_class = DomainVerificationOutput
    admin_scope = True

    schema_model = DomainVerification

    def rows(self):
        return domain_verifications_for_partner(partner=self.request.partner)

    @write_operation(
        "domain_verifications_create",
        DomainVerificationCreateInput,
        DomainVerificationOutput,
        status=201,
        examples=[OpenApiExample("Claim", value={"domain": "shops.partner.example"}, request_only=True)],
    )
    def post(self, request: Request) -> Response:
        """Claim a custom domain; the answer names the DNS TXT record that proves it."""
        data = self.validated(DomainVerificationCreateInput)
        verification = domain_verification_create(partner=request.partner, **self.who(), **data)
        return Response(DomainVerificationOutput(verification).data, status=status.HTTP_201_CREATED)


def _partner_verification(request: Request, pk: int) -> DomainVerification:
    return found(domain_verifications_for_partner(partner=request.partner).filter(pk=pk).first(), "No such domain.")


class DomainVerificationDetailApi(PartnerApiView):
    serializer_class = DomainVerificationOutput
    admin_scope = True

    @read_operation("domain_verifications_retrieve", DomainVerificationOutput)
    def get(self, request: Request, pk: int) -> Response:
        """Read one custom domain claim and the DNS record it waits for."""
        return Response(DomainVerificationOutput(_partner_verification(request, pk)).data)


class DomainVerificationCheckApi(PartnerApiView):
    serializer_class = DomainVerificationOutput
    admin_scope = True

    @write_operation("domain_verifications_check", request=None, output=DomainVerificationOutput)
    def post(self, request: Request, pk: int) -> Response:
        """Look up the DNS record now and mark the domain verified when it matches."""
        verification = _partner_verification(request, pk)
        verification = domain_verification_check(verification=verification, **self.who())
        return Response(DomainVerificationOutput(verification).data)
