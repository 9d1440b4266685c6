"""Promotions API on the tenant's domain (`/api/v1/promotions/…`, tenant schema).

Thin views on promotions.services: serializers check shape, services check the lifecycle. An
illegal transition or an invalid window is 400 with the reason; self-approval or a role that may
not approve is 403 with the reason. Approving and rejecting take a person (a session), not a key.
Writes honour Idempotency-Key."""

from __future__ import annotations

from django.urls import path

from promotions.api.prices import (
    PRICE_ACTIONS,
    ChannelPriceListApi,
    PriceListDetailApi,
    PriceListImportApi,
    PriceListListCreateApi,
    _price_action_view,
)
from promotions.api.promotions import (
    ACTIONS,
    DeploymentListApi,
    KpiApi,
    PromotionDetailApi,
    PromotionListCreateApi,
    _action_view,
)
from promotions.api.redemption import ClaimExportApi, ClaimListCreateApi, ReceiptApi, RedemptionApi, RedemptionCsvApi

urlpatterns = [
    path("price-lists/", PriceListListCreateApi.as_view(), name="api-price-lists"),
    path("price-lists/<int:pk>/", PriceListDetailApi.as_view(), name="api-price-list-detail"),
    path("price-lists/<int:pk>/import/", PriceListImportApi.as_view(), name="api-price-list-import"),
    path("price-lists/<int:pk>/channel-prices/", ChannelPriceListApi.as_view(), name="api-price-list-channel-prices"),
    *[
        path(f"price-lists/<int:pk>/{action}/", _price_action_view(action).as_view(), name=f"api-price-list-{action}")
        for action in PRICE_ACTIONS
    ],
    path("promotions/", PromotionListCreateApi.as_view(), name="api-promotions"),
    path("promotions/kpis/", KpiApi.as_view(), name="api-promotions-kpis"),
    path("promotions/deployments/", DeploymentListApi.as_view(), name="api-promotion-deployments"),
    path("promotions/<int:pk>/", PromotionDetailApi.as_view(), name="api-promotion-detail"),
    path("promotions/<int:pk>/redemptions/", RedemptionApi.as_view(), name="api-promotion-redemptions"),
    path("promotions/<int:pk>/redemptions.csv", RedemptionCsvApi.as_view(), name="api-promotion-redemptions-csv"),
    path("promotions/<int:pk>/claims/", ClaimListCreateApi.as_view(), name="api-promotion-claims"),
    path(
        "promotions/<int:pk>/claims/<int:claim_id>/export.csv",
        ClaimExportApi.as_view(),
        name="api-promotion-claim-export",
    ),
    path(
        "promotions/<int:pk>/claims/<int:claim_id>/receipts/",
        ReceiptApi.as_view(),
        name="api-promotion-claim-receipts",
    ),
    *[
        path(f"promotions/<int:pk>/{action}/", _action_view(action).as_view(), name=f"api-promotion-{action}")
        for action in ACTIONS
    ],
]
