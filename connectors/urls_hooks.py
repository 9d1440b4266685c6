from django.urls import path

from connectors.webhooks import webhook_receive, webhook_receive_tokened

urlpatterns = [
    path("<str:vendor>/<int:connection_id>/", webhook_receive, name="connectors_webhook"),
    path("<str:vendor>/<int:connection_id>/<str:token>/", webhook_receive_tokened, name="connectors_webhook_token"),
]
