"""Partner API: custom domains proven by a DNS TXT record (create, list, detail, check)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.auth import api_actor
from core.api.errors import StrictSerializer
from core.api.views import IDEMPOTENCY_PARAMETER, READ_ERRORS, WRITE_ERRORS, PartnerApiView
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


class DomainVerificationOutput(serializers.Serializer):
    id = serializers.IntegerField()
    domain = serializers.CharField()
    status = serializers.ChoiceField(choices=DomainVerification.Status.choices)
    record_type = serializers.SerializerMethodField()
    record_name = serializers.SerializerMethodField()
    record_value = serializers.SerializerMethodField()
    last_error = serializers.CharField()
    created_at = serializers.DateTimeField()
    checked_at = serializers.DateTimeField(allow_null=True)
    verified_at = serializers.DateTimeField(allow_null=True)

    def get_record_type(self, verification: DomainVerification) -> str:
        return "TXT"

    def get_record_name(self, verification: DomainVerification) -> str:
        return challenge_name(verification.domain)

    def get_record_value(self, verification: DomainVerification) -> str:
        return challenge_value(verification.token)


class DomainVerificationCreateInput(StrictSerializer):
    domain = serializers.CharField(max_length=253)


class DomainVerificationListCreateApi(PartnerApiView):
    serializer_class = DomainVerificationOutput
    admin_scope = True

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return DomainVerification.objects.none()
        return domain_verifications_for_partner(partner=self.request.partner)

    @extend_schema(
        operation_id="domain_verifications_list",
        responses={200: DomainVerificationOutput(many=True), **READ_ERRORS},
    )
    def get(self, request: Request) -> Response:
        """List the partner's custom domains and their DNS verification state."""
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(DomainVerificationOutput(page, many=True).data)

    @extend_schema(
        operation_id="domain_verifications_create",
        request=DomainVerificationCreateInput,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={201: DomainVerificationOutput, **WRITE_ERRORS},
        examples=[OpenApiExample("Claim", value={"domain": "shops.partner.example"}, request_only=True)],
    )
    def post(self, request: Request) -> Response:
        """Claim a custom domain; the answer names the DNS TXT record that proves it."""
        data = DomainVerificationCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        actor, actor_label = api_actor(request)
        verification = domain_verification_create(
            partner=request.partner, actor=actor, actor_label=actor_label, **data.validated_data
        )
        return Response(DomainVerificationOutput(verification).data, status=status.HTTP_201_CREATED)


def _partner_verification(request: Request, pk: int) -> DomainVerification:
    verification = domain_verifications_for_partner(partner=request.partner).filter(pk=pk).first()
    if verification is None:
        raise exceptions.NotFound("No such domain.")
    return verification


class DomainVerificationDetailApi(PartnerApiView):
    serializer_class = DomainVerificationOutput
    admin_scope = True

    @extend_schema(
        operation_id="domain_verifications_retrieve", responses={200: DomainVerificationOutput, **READ_ERRORS}
    )
    def get(self, request: Request, pk: int) -> Response:
        """Read one custom domain claim and the DNS record it waits for."""
        return Response(DomainVerificationOutput(_partner_verification(request, pk)).data)


class DomainVerificationCheckApi(PartnerApiView):
    serializer_class = DomainVerificationOutput
    admin_scope = True

    @extend_schema(
        operation_id="domain_verifications_check",
        request=None,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={200: DomainVerificationOutput, **WRITE_ERRORS},
    )
    def post(self, request: Request, pk: int) -> Response:
        """Look up the DNS record now and mark the domain verified when it matches."""
        verification = _partner_verification(request, pk)
        actor, actor_label = api_actor(request)
        verification = domain_verification_check(verification=verification, actor=actor, actor_label=actor_label)
        return Response(DomainVerificationOutput(verification).data)
