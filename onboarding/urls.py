from django.urls import path

from . import views

app_name = "onboarding"
urlpatterns = [
    path("stages/<slug:stage>/", views.stage_regulation, name="stage"),
]
