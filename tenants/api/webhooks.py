"""Partner API: outbound webhook subscriptions and their deliveries (list, redeliver)."""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.errors import StrictSerializer, error_responses, found
from core.api.serializers import ModelOutput
from core.api.views import ListMixin, PartnerApiView, read_operation, write_operation
from tenants.models import (
    WebhookDelivery,
    WebhookSubscription,
)
from tenants.webhooks import (
    EVENTS,
    webhook_deliveries_for_partner,
    webhook_delivery_redeliver,
    webhook_subscription_create,
    webhook_subscription_deactivate,
    webhook_subscriptions_for_partner,
)

# ---- webhooks ------------------------------------------------------------------------------


class WebhookOutput(ModelOutput):
    events = serializers.ListField(child=serializers.ChoiceField(choices=[(e, e) for e in EVENTS]))

    class Meta:
        model = WebhookSubscription
        fields = ("id", "url", "events", "active", "created_at")


class WebhookCreatedOutput(WebhookOutput):
    secret = serializers.CharField(
        allow_null=True, help_text="Signing secret, shown only in this response. null in an Idempotency-Key replay."
    )


class WebhookCreateInput(StrictSerializer):
    url = serializers.URLField(max_length=500)
    events = serializers.ListField(child=serializers.ChoiceField(choices=[(e, e) for e in EVENTS]), min_length=1)


@extend_schema_view(get=read_operation("webhooks_list", WebhookOutput(many=True)))
class WebhookListCreateApi(ListMixin, PartnerApiView):
    """List the partner's outbound webhook subscriptions and their event types."""

    serializer_class = WebhookOutput
    admin_scope = True
    idempotency_redact = ("secret",)

    schema_model = WebhookSubscription

    def rows(self):
        return webhook_subscriptions_for_partner(partner=self.request.partner)

    @write_operation(
        "webhooks_create",
        WebhookCreateInput,
        WebhookCreatedOutput,
        status=201,
        examples=[
            OpenApiExample(
                "Subscribe",
                value={"url": "https://hooks.partner.example/tillbridge", "events": ["tenant.created"]},
                request_only=True,
            )
        ],
    )
    def post(self, request: Request) -> Response:
        """Subscribe a URL to event types; the signing secret is shown in this response only."""
        data = self.validated(WebhookCreateInput)
        subscription = webhook_subscription_create(partner=request.partner, **self.who(), **data)
        return Response(
            {**WebhookOutput(subscription).data, "secret": subscription.secret}, status=status.HTTP_201_CREATED
        )


class WebhookDeactivateApi(PartnerApiView):
    serializer_class = WebhookOutput
    admin_scope = True

    @extend_schema(
        operation_id="webhooks_deactivate", responses={200: WebhookOutput, **error_responses(401, 403, 404, 429)}
    )
    def delete(self, request: Request, pk: int) -> Response:
        """Deactivate a webhook subscription; it receives nothing more."""
        subscription = found(
            webhook_subscriptions_for_partner(partner=request.partner).filter(pk=pk).first(), "No such webhook."
        )
        subscription = webhook_subscription_deactivate(subscription=subscription, **self.who())
        return Response(WebhookOutput(subscription).data)


class WebhookDeliveryOutput(ModelOutput):
    webhook = serializers.IntegerField(source="subscription_id")

    class Meta:
        model = WebhookDelivery
        fields = (
            "id",
            "webhook",
            "event",
            "status",
            "attempts",
            "last_status_code",
            "last_error",
            "next_attempt_at",
            "delivered_at",
            "created_at",
        )


class WebhookDeliveryFilter(django_filters.FilterSet):
    event = django_filters.ChoiceFilter(choices=[(e, e) for e in EVENTS])

    class Meta:
        model = WebhookDelivery
        fields = ["status", "event"]


@extend_schema_view(get=read_operation("webhook_deliveries_list", WebhookDeliveryOutput(many=True)))
class WebhookDeliveryListApi(ListMixin, PartnerApiView):
    """List outbound webhook deliveries, newest first, with status and attempts."""

    serializer_class = WebhookDeliveryOutput
    filterset_class = WebhookDeliveryFilter

    schema_model = WebhookDelivery

    def rows(self):
        return webhook_deliveries_for_partner(partner=self.request.partner)


class WebhookRedeliverApi(PartnerApiView):
    serializer_class = WebhookDeliveryOutput

    @write_operation("webhook_deliveries_redeliver", request=None, output=WebhookDeliveryOutput, status=202)
    def post(self, request: Request, pk: int) -> Response:
        """Send one webhook delivery again, with a new attempt."""
        delivery = found(
            webhook_deliveries_for_partner(partner=request.partner).filter(pk=pk).first(), "No such delivery."
        )
        again = webhook_delivery_redeliver(delivery=delivery, **self.who())
        return Response(WebhookDeliveryOutput(again).data, status=status.HTTP_202_ACCEPTED)
