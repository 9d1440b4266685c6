from django.urls import path

from promotions import views, views_redemption

urlpatterns = [
    path("", views.promotion_list, name="promotions_list"),
    path("calendar/", views.promotion_calendar, name="promotions_calendar"),
    path("new/", views.promotion_new, name="promotions_new"),
    path("approvals/", views.approval_queue, name="promotions_approvals"),
    path("board/", views.deployment_board, name="promotions_board"),
    path("policy/", views.promotion_policy, name="promotions_policy"),
    path("prices/", views.price_lists, name="promotions_price_lists"),
    path("prices/<int:pk>/", views.price_list_detail, name="promotions_price_list"),
    path("<int:pk>/", views.promotion_detail, name="promotions_detail"),
    path("<int:pk>/edit/", views.promotion_edit, name="promotions_edit"),
    path("<int:pk>/board/", views.promotion_board_fragment, name="promotions_board_fragment"),
    path("<int:pk>/redemption/", views_redemption.promotion_redemption, name="promotions_redemption"),
    path("<int:pk>/claims/", views_redemption.promotion_claims, name="promotions_claims"),
    path(
        "<int:pk>/claims/<int:claim_id>/export.csv",
        views_redemption.promotion_claim_export,
        name="promotions_claim_export",
    ),
    path(
        "<int:pk>/claims/<int:claim_id>/receipts/",
        views_redemption.promotion_claim_receipt,
        name="promotions_claim_receipt",
    ),
    path("<int:pk>/<slug:action>/", views.promotion_action, name="promotions_action"),
]
