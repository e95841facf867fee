from django.contrib import admin
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path
from django.views.i18n import set_language

from accounts.views import home
from deals.views.search import SearchView

from .views import AuditView, favicon, health_check

admin.site.site_header = "Атлансет: администрирование"
admin.site.site_title = "Атлансет"

urlpatterns = [
    path("", home, name="home"),
    path("accounts/", include("accounts.urls")),
    path("accounts/audit/", AuditView.as_view(), name="audit"),
    path("onboarding/", include("onboarding.urls")),
    path("search/", SearchView.as_view(), name="search"),
    path("clients/", include("deals.client_urls")),
    path("deals/", include("deals.urls")),
    path("kpi/", include("kpi.urls")),
    path("compensation/", include("compensation.urls")),
    path("notifications/", include("notifications.urls")),
    path("i18n/setlang/", login_not_required(set_language), name="set_language"),
    path("admin/", admin.site.urls),
    # Browsers ask for /favicon.ico whatever the page says.
    path("favicon.ico", favicon, name="favicon"),
    path("health/", health_check, name="health"),
]
