from django.urls import path

from triage import views

urlpatterns = [
    path("", views.inbox, name="triage_inbox"),
    path("bulk/", views.bulk, name="triage_bulk"),
    path("<int:exception_id>/", views.detail, name="triage_detail"),
    path("<int:exception_id>/retry-status/", views.retry_status, name="triage_retry_status"),
    path("<int:exception_id>/<slug:name>/", views.action, name="triage_action"),
]
