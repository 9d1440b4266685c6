from django.urls import path

from connectors.webhooks import webhook_receive

urlpatterns = [
    path("<str:vendor>/<int:connection_id>/", webhook_receive, name="connectors_webhook"),
]
