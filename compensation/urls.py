from django.urls import path

from . import views

app_name = "compensation"
urlpatterns = [
    path("payments/", views.PaymentsView.as_view(), name="payments"),
]
