from django.urls import path

from commerce import views

urlpatterns = [
    path("", views.inventory, name="inventory"),
    path("locations/<int:pk>/", views.location_detail, name="inventory_location"),
]
