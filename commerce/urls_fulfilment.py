from django.urls import path

from commerce import fulfilment_views as views

urlpatterns = [
    path("", views.fulfilment_board_page, name="fulfilment_board"),
    path("rules/", views.routing_rules_page, name="fulfilment_rules"),
    path("rules/<int:pk>/", views.routing_rule_edit_page, name="fulfilment_rule_edit"),
    path("rules/<int:pk>/delete/", views.routing_rule_delete_page, name="fulfilment_rule_delete"),
    path("ship-time/", views.fulfilment_policy_page, name="fulfilment_policy"),
]
