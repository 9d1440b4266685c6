from django.urls import path

from connectors import views

urlpatterns = [
    path("", views.connections, name="connectors_connections"),
    path("add/", views.connection_add, name="connectors_add"),
    path("<int:connection_id>/", views.connection_detail, name="connectors_connection"),
    path("<int:connection_id>/edit/", views.connection_edit, name="connectors_edit"),
    path("<int:connection_id>/<str:action>/", views.connection_action, name="connectors_action"),
    path("oauth/callback/", views.oauth_callback, name="connectors_oauth_callback"),
    path("runs/", views.sync_runs, name="connectors_runs"),
    path("runs/<int:run_id>/", views.sync_run_detail, name="connectors_run"),
    path("runs/<int:run_id>/cancel/", views.sync_run_cancel_view, name="connectors_run_cancel"),
    path("events/", views.events, name="connectors_events"),
    path("events/<int:event_id>/", views.event_detail, name="connectors_event"),
    path("events/<int:event_id>/replay/", views.event_replay_view, name="connectors_event_replay"),
]
