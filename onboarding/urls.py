from django.urls import path

from . import views

app_name = "onboarding"
urlpatterns = [
    path("", views.OverviewView.as_view(), name="overview"),
    path("sections/<slug:slug>/", views.SectionView.as_view(), name="section"),
    path("sections/<slug:slug>/edit/", views.SectionEditView.as_view(), name="section_edit"),
    path("sections/<slug:slug>/history/", views.SectionHistoryView.as_view(), name="section_history"),
    path("stages/<slug:stage>/", views.stage_regulation, name="stage"),
    path("test/", views.TestView.as_view(), name="test"),
    path("test/attempts/<int:pk>/", views.AttemptView.as_view(), name="attempt"),
    path("progress/", views.ProgressView.as_view(), name="progress"),
    path("questions/", views.QuestionsView.as_view(), name="questions"),
    path("questions/<int:pk>/", views.QuestionsView.as_view(), name="question_edit"),
]
