from django.urls import path

from commerce import views_returns

urlpatterns = [
    path("", views_returns.returns_queue, name="returns"),
    path("new/", views_returns.return_new, name="return_new"),
    path("policy/", views_returns.return_policy_view, name="return_policy"),
    path("<int:return_id>/", views_returns.return_detail, name="return_detail"),
]
