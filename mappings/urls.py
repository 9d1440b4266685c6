from django.urls import path

from mappings import views

urlpatterns = [
    path("", views.accounts, name="mappings_accounts"),
    path("accounts/<int:pk>/", views.account_edit, name="mappings_account"),
    path("mapping-sets/", views.mapping_sets, name="mappings_sets"),
    path("mapping-sets/<int:pk>/", views.mapping_set_detail, name="mappings_set"),
    path("mapping-sets/<int:pk>/preview/", views.mapping_set_preview, name="mappings_set_preview"),
]
