from django.urls import path

from . import views

app_name = "deals"
urlpatterns = [
    path("production/", views.ProductionQueueView.as_view(), name="production_queue"),
]
