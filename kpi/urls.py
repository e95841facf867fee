from django.urls import path

from . import views

app_name = "kpi"
urlpatterns = [
    path("", views.DashboardView.as_view(), name="dashboard"),
    path("my/", views.MyDayView.as_view(), name="my_day"),
]
