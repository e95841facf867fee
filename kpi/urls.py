from django.urls import path

from . import views

app_name = "kpi"
urlpatterns = [
    path("", views.DashboardView.as_view(), name="dashboard"),
    path("my/", views.MyDayView.as_view(), name="my_day"),
    path("activities/", views.ActivityListView.as_view(), name="activities"),
    path("activities/new/", views.ActivityCreateView.as_view(), name="activity_create"),
    path("tasks/more/", views.TasksMoreView.as_view(), name="tasks_more"),
    path("tasks/<int:pk>/done/", views.TaskDoneView.as_view(), name="task_done"),
    path("tasks/<int:pk>/move/", views.TaskMoveView.as_view(), name="task_move"),
    path("plans/<str:month>/", views.PlanGridView.as_view(), name="plans"),
    path("calls/", views.CallLogView.as_view(), name="call_log"),
    path("calls/import/", views.CallImportView.as_view(), name="call_import"),
    path("calls/import/jobs/<int:pk>/", views.CallImportJobView.as_view(), name="call_import_job"),
    path("telephony/cdr/", views.TelephonyWebhookView.as_view(), name="telephony_cdr"),
]
