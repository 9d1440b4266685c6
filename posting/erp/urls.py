from django.urls import path

from posting.erp import views

urlpatterns = [
    path("", views.erp_home, name="erp_home"),
    path("connections/new/", views.erp_connection_new, name="erp_connection_new"),
    path("connections/<int:pk>/connect/", views.erp_oauth_start, name="erp_oauth_start"),
    path("connections/<int:pk>/accounts/", views.erp_chart, name="erp_chart"),
    path("oauth/callback/", views.erp_oauth_callback, name="erp_oauth_callback"),
    path("pushes/", views.erp_pushes, name="erp_pushes"),
    path("pushes/<int:entry_id>/repush/", views.erp_repush, name="erp_repush"),
]
