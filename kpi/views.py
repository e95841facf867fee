"""The KPI pages: the hunter's day, the head's dashboard, the plan grid, call-log import and the PBX hook."""

import hmac
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cached_property

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.db.models import prefetch_related_objects
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.formats import number_format
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from django.views.generic import TemplateView
from django_filters.views import FilterView

from accounts.access import CapabilityRequiredMixin, can
from accounts.models import User
from accounts.roles import Capability
from atlanset_portal import fragments
from atlanset_portal.wording import ACCUSATIVE, month_year
from compensation.projection import projected_pay
from deals.models import Client, Deal
from deals.selectors import overdue_deferred_payments, quality_claims
from imports.models import ImportJob
from imports.selectors import recent_import_jobs
from imports.views import ImportJobView
from notifications.models import Notification, NotificationKind
from onboarding.selectors import progress_for
from onboarding.selectors import progress_version as onboarding_progress_version

from . import drilldown, exports, selectors, services
from .counters import month_progress
from .figures import ForecastSource, dashboard_figures, figure_stamps, forecast_source, stored_figure
from .filters import ActivityFilter, CallRecordFilter
from .forms import ActivityForm, CallLogUploadForm, PlanGridRowForm, QuarterPlanForm, TaskMoveForm
from .models import DepartmentQuarterPlan, Task
from .months import month_start, next_month, parse_month, previous_month, quarter_start
from .progress import current_counters
from .telephony import CSV_COLUMNS, CallLogFileError, CdrError, parse_cdr


def _month_from(request) -> date:
    return parse_month(request.GET.get("month", "")) or month_start(timezone.localdate())


KPI_COLUMNS = [
    ("leads", _lazy("Лиды")),
    ("calls", _lazy("Звонки")),
    ("meetings", _lazy("Встречи")),
    ("messages", _lazy("Сообщения")),
    ("revenue", _lazy("Выручка")),
    ("deals", _lazy("Сделки")),
]


@dataclass(frozen=True)
class ChartBar:
    month: date
    value: Decimal
    height: int  # in percent of the highest bar
    url: str  # the payments the bar sums
    label: str  # the value in the chart's unit


@dataclass(frozen=True)
class DashboardSources:
    """What the head's dashboard for a month is drawn from. Read on every visit: the versions of the stored
    rows and figures, and today's state (overdue contacts, onboarding) for the current month. The month's
    figures themselves are read only when a part of the page is drawn."""

    month: date
    today: date
    is_current: bool
    versions: selectors.StoredVersions
    overdue: dict | None  # hunter → overdue contacts
    onboarding_version: tuple | None
    stamps: dict[str, datetime]  # the stored figures' versions by name (kpi.figures.dashboard_figures)
    forecast: ForecastSource

    @cached_property
    def hunters(self) -> list[User]:
        return list(selectors.active_hunters())

    @cached_property
    def board(self) -> selectors.BoardSource:
        return selectors.board_source(month=self.month, hunters=self.hunters)

    @cached_property
    def onboarding(self) -> dict | None:
        """Hunter → onboarding progress (today's state: the current month only)."""
        if not self.is_current:
            return None
        return {item.user.pk: item for item in progress_for(self.hunters)}

    @cached_property
    def revenue(self) -> list[tuple[date, Decimal]]:
        # 13 months: the chart's 12 and the same month a year before, for the department's comparison.
        return selectors.department_revenue_by_month(months=13, until=self.month)

    @cached_property
    def records(self) -> list[selectors.RecordMonth]:
        return selectors.team_records()

    def stored(self, name: str) -> object:
        return stored_figure(*dashboard_figures(self.month)[name])


def dashboard_sources(month: date) -> DashboardSources:
    today = timezone.localdate()
    is_current = month == month_start(today)
    stamps = figure_stamps(dashboard_figures(month))
    return DashboardSources(
        month=month,
        today=today,
        is_current=is_current,
        versions=selectors.stored_versions(month),
        # Today's state, not the month's: shown for the current month only.
        overdue=selectors.overdue_follow_ups_by_hunter(today=today) if is_current else None,
        onboarding_version=onboarding_progress_version() if is_current else None,
        stamps=stamps,
        forecast=forecast_source(month, stamp=stamps["forecast"]),
    )


def _results_context(sources: DashboardSources) -> dict:
    return {
        "columns": KPI_COLUMNS,
        "rows": selectors.results_board(sources.board),
        "is_current": sources.is_current,
        # hunter → (overdue contacts, their list)
        "overdue": (
            {
                hunter_id: (count, drilldown.overdue_contacts(hunter_id=hunter_id))
                for hunter_id, count in sources.overdue.items()
            }
            if sources.overdue is not None
            else None
        ),
        "onboarding": sources.onboarding,
    }


def _revenue_context(sources: DashboardSources) -> dict:
    revenue = sources.revenue
    top = max((value for _m, value in revenue[1:]), default=0) or 1
    # The bars' labels in one unit, short enough to sit above a bar: «49,5» under a «млн ₽» heading.
    scale, unit = next(
        (scale, unit)
        for limit, scale, unit in (
            (1_000_000, Decimal(1_000_000), _("млн ₽")),
            (10_000, Decimal(1_000), _("тыс. ₽")),
            (0, Decimal(1), "₽"),
        )
        if top >= limit
    )
    return {
        "month": sources.month,
        "revenue_chart": [
            ChartBar(
                month=m,
                value=value,
                height=int(value * 100 / top) if value > 0 else 0,
                url=drilldown.revenue(month=m),
                label=number_format((value / scale).quantize(Decimal("0.1") if scale > 1 else Decimal("1")))
                if value
                else "",
            )
            for m, value in revenue[1:]
        ],
        "revenue_chart_unit": unit,
        "department_revenue": revenue[-1][1],
        "department_revenue_url": drilldown.revenue(month=sources.month),
        "department_against_last_month": selectors.change(
            revenue[-1][1], revenue[-2][1], month=revenue[-2][0], money=True
        ),
        "department_against_last_year": selectors.change(
            revenue[-1][1], revenue[0][1], month=revenue[0][0], money=True
        ),
    }


def _records_context(sources: DashboardSources) -> dict:
    return {
        "records": [
            (record, drilldown.board_cell(record.name, hunter_id=record.hunter.pk, month=record.month))
            if record.hunter
            else (record, None)
            for record in sources.records
        ]
    }


def _funnel_context(sources: DashboardSources) -> dict:
    funnel = sources.stored("funnel")
    widest = max((row.entered for row in funnel), default=0) or 1
    month = sources.month
    return {
        "funnel": [
            (
                row,
                row.entered * 100 // widest,
                drilldown.funnel_entered(stage=row.stage.stage.value, month=month),
                drilldown.funnel_moved_on(stage=row.stage.stage.value, month=month),
            )
            for row in funnel
        ]
    }


def _forecast_context(sources: DashboardSources) -> dict:
    month_forecast = sources.forecast.read()
    forecast = month_forecast.forecast
    return {
        "month": sources.month,
        "today": sources.today,
        "is_current": sources.is_current,
        "forecast": forecast,
        "forecast_as_it_stood": month_forecast.as_it_stood,
        "forecast_is_today": month_forecast.today,
        "forecast_rows": [
            (
                row,
                drilldown.forecast_open(stage=row.stage.stage.value),
                drilldown.forecast_sample(
                    since=forecast.since, until=forecast.until, stage=row.stage.stage.value
                ),
            )
            for row in forecast.rows
        ],
        "forecast_department_url": drilldown.forecast_sample(since=forecast.since, until=forecast.until),
    }


def _samples_context(sources: DashboardSources) -> dict:
    return {"samples": sources.stored("samples")}


def _best_employee_context(sources: DashboardSources) -> dict:
    best = sources.stored("best_employee")
    return {
        "best_employee": best,
        "best_employee_url": (
            drilldown.quarter_margin(hunter_id=best["hunter"].pk, quarter=best["quarter"]) if best else None
        ),
    }


def dashboard_data(month: date) -> dict:
    """Everything the head's dashboard shows for a month, each figure with the link to its records: what
    the XLSX export writes (the page draws the same parts, each once per version of its figures)."""
    sources = dashboard_sources(month)
    return {
        **_results_context(sources),
        **_revenue_context(sources),
        **_records_context(sources),
        **_funnel_context(sources),
        **_forecast_context(sources),
        **_samples_context(sources),
        **_best_employee_context(sources),
    }


DASHBOARD = "kpi/dashboard.html"


class DashboardView(CapabilityRequiredMixin, TemplateView):
    """The sales head's dashboard for any month: the results board, records, funnel, forecast, alerts;
    every figure links to its records. ``?export=xlsx`` gives the same as a workbook."""

    required_capability = Capability.VIEW_ALL_HUNTERS
    template_name = DASHBOARD

    def month(self) -> date:
        month = _month_from(self.request)
        # Each figure is compared with the same month a year before: the calendar's first year has none.
        return month if month.year > 1 else month_start(timezone.localdate())

    def get(self, request, *args, **kwargs):
        if request.GET.get("export") == "xlsx":
            data = dashboard_data(self.month())
            response = HttpResponse(
                exports.dashboard_xlsx(data),
                content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            )
            response["Content-Disposition"] = f'attachment; filename="dashboard-{data["month"]:%Y-%m}.xlsx"'
            return response
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        sources = dashboard_sources(self.month())
        month, versions, stamps = sources.month, sources.versions, sources.stamps
        claims = quality_claims(days=60)
        overdue_payments = overdue_deferred_payments()[:50]
        # Each part is kept under the versions of what it shows (atlanset_portal/fragments.py); its figures
        # are read only when it is drawn. Name in the page: (partial, fingerprint, context).
        parts = {
            "best": (
                "best-employee",
                (month, stamps["best_employee"]),
                lambda: _best_employee_context(sources),
            ),
            "results": (
                "results-rows",
                (
                    month,
                    versions.progress,
                    versions.plans,
                    versions.hunters,
                    sources.is_current,
                    sources.overdue,
                    sources.onboarding_version,
                ),
                lambda: _results_context(sources),
            ),
            "revenue": ("revenue-chart", (month, versions.progress), lambda: _revenue_context(sources)),
            "records": ("records", (versions.progress, versions.hunters), lambda: _records_context(sources)),
            "funnel": ("funnel", (month, stamps["funnel"]), lambda: _funnel_context(sources)),
            "forecast": (
                "forecast",
                (month, sources.today, sources.is_current, sources.forecast),
                lambda: _forecast_context(sources),
            ),
            "samples": ("samples", (month, stamps["samples"]), lambda: _samples_context(sources)),
            "overdue_payments": (
                "overdue-payments",
                overdue_payments,
                lambda: {"overdue_payments": overdue_payments},
            ),
            "claims": ("quality-claims", claims, lambda: {"quality_claims": claims}),
        }
        drawn = {
            name: fragments.drawn(f"{DASHBOARD}#{partial}", fingerprint=fingerprint, context=context)
            for name, (partial, fingerprint, context) in parts.items()
        }
        return super().get_context_data(
            month=month,
            is_current=sources.is_current,
            previous=previous_month(month),
            next=next_month(month),
            last_year=selectors.year_before(month),
            columns=KPI_COLUMNS,
            drawn=drawn,
            **kwargs,
        )


class ActivityListView(CapabilityRequiredMixin, FilterView):
    """Activities as a list: a hunter's own, every hunter's for the head; the dashboard's calls,
    meetings and messages link here with the hunter, the month and the kind."""

    required_capability = Capability.WORK_PIPELINE
    filterset_class = ActivityFilter
    template_name = "kpi/activity_list.html"
    paginate_by = 50

    def get_queryset(self):
        return selectors.activity_list(viewer=self.request.user)

    def get_filterset_kwargs(self, filterset_class):
        kwargs = super().get_filterset_kwargs(filterset_class)
        kwargs["show_owner"] = can(self.request.user, Capability.VIEW_ALL_HUNTERS)
        return kwargs

    def get_context_data(self, **kwargs):
        return super().get_context_data(count=self.object_list.order_by().count(), **kwargs)


class CallLogView(CapabilityRequiredMixin, FilterView):
    """The PBX call log for the head: every call record with its hunter, client and recording."""

    required_capability = Capability.MANAGE_PLANS
    filterset_class = CallRecordFilter
    template_name = "kpi/call_log.html"
    paginate_by = 50

    def get_queryset(self):
        return selectors.call_log()

    def get_context_data(self, **kwargs):
        return super().get_context_data(count=self.object_list.order_by().count(), **kwargs)


class MyDayView(CapabilityRequiredMixin, TemplateView):
    """The hunter's home page: what is due today, the month's plan progress, quick activity entry."""

    required_capability = Capability.WORK_PIPELINE
    template_name = "kpi/my_day.html"

    def get_context_data(self, **kwargs):
        user = self.request.user
        today = timezone.localdate()
        month = month_start(today)
        [progress] = month_progress(
            month=month, hunters=[user], counters=current_counters(month=month, hunter_ids=[user.pk])
        )
        after = tasks_after(user, self.request.GET)
        tasks = selectors.tasks_due(hunter=user, today=today, after=after)
        task_count = selectors.tasks_due_count(hunter=user, today=today)
        if after is None:  # the first page: the rest is the count less what is shown
            tasks_remaining = task_count - len(tasks)
        else:
            tasks_remaining = (
                selectors.tasks_due_after(hunter=user, after=tasks[-1], today=today) if tasks else 0
            )
        projection = projected_pay(hunter=user, month=month, counters=progress.counters)
        # The page lists the ten best upsides, each client with its phone: one query for their phones.
        prefetch_related_objects([upside.deal.client for upside in projection.upsides[:10]], "phones")
        return super().get_context_data(
            today=today,
            tasks=tasks,
            task_count=task_count,
            tasks_remaining=tasks_remaining,
            tomorrow=today + timedelta(days=1),
            # The morning run's other reminders (payments, idle deals, birthdays…); due contacts are above.
            reminders=Notification.objects.filter(recipient=user, for_day=today)
            .exclude(kind=NotificationKind.FOLLOW_UP_DUE)
            .order_by("kind", "pk")[:30],
            progress=progress,
            recent=selectors.recent_activities(owner=user),
            projection=projection,
            best_employee=stored_figure(*dashboard_figures(month)["best_employee"]),
            **kwargs,
        )


def tasks_after(user, params) -> Task | None:
    """The task a page of «Мой день»'s tasks starts after (``?after=``), the hunter's own only."""
    after = params.get("after", "")
    return Task.objects.of_hunter(user).filter(pk=after).first() if after.isdigit() else None


class TasksMoreView(CapabilityRequiredMixin, View):
    """«Показать ещё» under the tasks: the next ones after the last shown and the button for the rest
    (htmx puts them where the button was; without it the button opens «Мой день» at that page)."""

    required_capability = Capability.WORK_PIPELINE

    def get(self, request):
        after = tasks_after(request.user, request.GET)
        if after is None:
            return HttpResponse(_("Не удалось показать задачи: обновите страницу."), status=400)
        today = timezone.localdate()
        tasks = selectors.tasks_due(hunter=request.user, today=today, after=after)
        context = {
            "tasks": tasks,
            "today": today,
            "tomorrow": today + timedelta(days=1),
            "tasks_remaining": (
                selectors.tasks_due_after(hunter=request.user, after=tasks[-1], today=today) if tasks else 0
            ),
        }
        return render(request, "kpi/my_day.html#tasks-page", context)


def activity_form(user, data=None, initial=None) -> ActivityForm:
    clients = Client.objects.visible_to(user).order_by("name")
    deals = Deal.objects.visible_to(user).open().select_related("client").order_by("client__name")
    return ActivityForm(data, clients=clients, deals=deals, initial=initial)


class ActivityCreateView(CapabilityRequiredMixin, View):
    """Quick entry of an activity from the hunter's day, the board, the deal page or the client card."""

    required_capability = Capability.WORK_PIPELINE

    def get(self, request):
        initial = {key: request.GET[key] for key in ("client", "deal", "kind") if key in request.GET}
        deal_id = request.GET.get("deal", "")
        if not deal_id.isdigit():
            initial.pop("deal", None)
        elif "client" not in initial:
            deal = Deal.objects.visible_to(request.user).filter(pk=deal_id).first()
            if deal:
                initial["client"] = deal.client_id
        context = {
            "form": activity_form(request.user, initial=initial),
            "next_url": request.GET.get("next", ""),
        }
        # «Мой день» asks for the form alone and puts it where its button was.
        template = "kpi/activity_form.html#activity-form" if request.htmx else "kpi/activity_form.html"
        return render(request, template, context)

    def post(self, request):
        form = activity_form(request.user, data=request.POST)
        if form.is_valid():
            try:
                activity = services.activity_log(acting_user=request.user, **form.cleaned_data)
            except ValidationError as error:
                for field, errors in error.message_dict.items():
                    for message in errors:
                        form.add_error(field if field in form.fields else None, message)
            else:
                messages.success(
                    request, _("Записано: %(activity)s.") % {"activity": activity.get_kind_display()}
                )
                next_url = request.POST.get("next", "")
                if url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
                    return redirect(next_url)
                return redirect("kpi:my_day")
        context = {"form": form, "next_url": request.POST.get("next", "")}
        return render(request, "kpi/activity_form.html", context, status=400)


class TaskActionView(CapabilityRequiredMixin, View):
    """A task of «Мой день» done or moved. With htmx the task's line is answered in place (gone, or the
    moved task when it is still due today) with the count beside the heading, so the page keeps its
    position; without JavaScript the form posts and «Мой день» opens again at the tasks."""

    required_capability = Capability.WORK_PIPELINE

    def perform(self, request, task: Task) -> tuple[Task | None, str]:
        """Does the action; returns the task to show in its place (None: it leaves the list) and the
        message. Raises ValidationError when refused."""
        raise NotImplementedError

    def post(self, request, pk: int):
        task = get_object_or_404(Task.objects.visible_to(request.user), pk=pk)
        try:
            shown, message = self.perform(request, task)
        except ValidationError as error:
            reason = " ".join(error.messages)
            if request.htmx:
                task = (
                    Task.objects.select_related("client", "deal")
                    .prefetch_related("client__phones")
                    .get(pk=task.pk)
                )
                return self.line(request, task, error=reason, status=422)
            messages.error(request, reason)
        else:
            if request.htmx:
                return self.line(request, shown, notice=message)
            messages.success(request, message)
        return redirect(reverse("kpi:my_day") + "#tasks")

    def line(self, request, task: Task | None, *, error: str = "", notice: str = "", status: int = 200):
        today = timezone.localdate()
        if task is not None and (not task.is_open or task.due_on > today):
            task = None
        if task is not None:
            task = (
                Task.objects.select_related("client", "deal")
                .prefetch_related("client__phones")
                .get(pk=task.pk)
            )
        context = {
            "task": task,
            "today": today,
            "tomorrow": today + timedelta(days=1),
            "task_error": error,
            "task_notice": notice,
            "task_count": selectors.tasks_due_count(hunter=request.user, today=today),
        }
        return render(request, "kpi/my_day.html#task-answer", context, status=status)


class TaskDoneView(TaskActionView):
    def perform(self, request, task):
        services.task_done(acting_user=request.user, task=task)
        return None, _("Задача выполнена: %(client)s.") % {"client": task.client.name}


class TaskMoveView(TaskActionView):
    def perform(self, request, task):
        form = TaskMoveForm(request.POST)
        if not form.is_valid():
            raise ValidationError([message for errors in form.errors.values() for message in errors])
        moved = services.task_move(acting_user=request.user, task=task, **form.cleaned_data)
        return moved, _("Задача перенесена на %(day)s: %(client)s.") % {
            "day": f"{moved.due_on:%d.%m.%Y}",
            "client": task.client.name,
        }


class PlanGridView(CapabilityRequiredMixin, View):
    """The sales head sets every hunter's sales and KPI plan for a month on one page."""

    required_capability = Capability.MANAGE_PLANS

    def month(self, value: str):
        month = parse_month(value)
        if month is None:
            raise Http404
        return month

    def forms(self, month, data=None) -> list[tuple[User, PlanGridRowForm]]:
        """(hunter, row form) for every active hunter, the row showing the hunter's plan of the month."""
        plans = selectors.plans_for_month(month)
        return [
            (hunter, PlanGridRowForm(data, prefix=f"h{hunter.pk}", plan=plans.get(hunter.pk)))
            for hunter in selectors.active_hunters()
        ]

    def quarter_form(self, month, data=None):
        plan = DepartmentQuarterPlan.objects.filter(quarter_start=quarter_start(month)).first()
        initial = (
            {"revenue_target": plan.revenue_target, "bonus_pool": plan.bonus_pool, "split": plan.split}
            if plan
            else {}
        )
        return QuarterPlanForm(data, prefix="quarter", initial=initial)

    def render(self, request, month, rows, quarter_form, status=200):
        return render(
            request,
            "kpi/plan_grid.html",
            {
                "month": month,
                "rows": rows,
                "quarter_form": quarter_form,
                "quarter": quarter_start(month),
                "previous": previous_month(month),
                "next": next_month(month),
            },
            status=status,
        )

    def get(self, request, month):
        month = self.month(month)
        return self.render(request, month, self.forms(month), self.quarter_form(month))

    def post(self, request, month):
        month = self.month(month)
        action = request.POST.get("action")
        if action == "copy":
            copied = services.plans_copy_previous(acting_user=request.user, month=month)
            messages.success(
                request, _("Скопировано планов с прошлого месяца: %(count)s.") % {"count": copied}
            )
            return redirect("kpi:plans", month=f"{month:%Y-%m}")
        if action == "quarter":
            form = self.quarter_form(month, request.POST)
            if not form.is_valid():
                return self.render(request, month, self.forms(month), form, status=400)
            services.quarter_plan_save(acting_user=request.user, quarter=month, **form.cleaned_data)
            messages.success(request, _("План отдела на квартал сохранён."))
            return redirect("kpi:plans", month=f"{month:%Y-%m}")
        rows = self.forms(month, request.POST)
        if not all(form.is_valid() for _hunter, form in rows):
            messages.error(request, _("Не сохранено: исправьте отмеченные значения."))
            return self.render(request, month, rows, self.quarter_form(month), status=400)
        try:
            services.plans_save(
                acting_user=request.user,
                month=month,
                rows=[
                    services.PlanRow(hunter=hunter, **form.targets())
                    for hunter, form in rows
                    if form.sets_plan
                ],
                cleared=[hunter for hunter, form in rows if form.clears_plan],
            )
        except ValidationError as error:
            messages.error(request, _("Не сохранено: %(reason)s") % {"reason": " ".join(error.messages)})
            return self.render(request, month, rows, self.quarter_form(month), status=400)
        messages.success(
            request, _("Планы на %(month)s сохранены.") % {"month": month_year(month, ACCUSATIVE)}
        )
        return redirect("kpi:plans", month=f"{month:%Y-%m}")


class CallImportView(CapabilityRequiredMixin, View):
    """History from the PBX: a CSV call log, matched to hunters by extension and clients by phone. The upload
    is checked at once; the calls are stored in the background and the job's page shows the report."""

    required_capability = Capability.MANAGE_PLANS

    def render_form(self, request, form, status: int = 200):
        context = {
            "form": form,
            "columns": CSV_COLUMNS,
            "recent_jobs": recent_import_jobs(viewer=request.user, kind=ImportJob.Kind.CALLS),
            "job_url_name": "kpi:call_import_job",
        }
        return render(request, "kpi/call_import.html", context, status=status)

    def get(self, request):
        return self.render_form(request, CallLogUploadForm())

    def post(self, request):
        form = CallLogUploadForm(request.POST, request.FILES)
        if not form.is_valid():
            return self.render_form(request, form, status=400)
        upload = form.cleaned_data["file"]
        try:
            job = services.call_log_import_enqueue(
                acting_user=request.user, data=upload.read(), file_name=upload.name
            )
        except CallLogFileError as error:
            for message in error.messages:
                form.add_error("file", message)
            return self.render_form(request, form, status=400)
        return redirect("kpi:call_import_job", pk=job.pk)


class CallImportJobView(ImportJobView):
    kind = ImportJob.Kind.CALLS
    required_capability = Capability.MANAGE_PLANS
    title = _lazy("Импорт журнала звонков АТС")
    result_template = "kpi/_call_import_result.html"

    @property
    def back_url(self) -> str:
        return reverse("kpi:call_import")


@method_decorator([csrf_exempt, login_not_required], name="dispatch")
class TelephonyWebhookView(View):
    """The PBX posts each finished call here; the token, in the X-Portal-Token header, is the only
    credential, the cdr_id makes it idempotent, and the answer is immediate."""

    def post(self, request):
        if "token" in request.GET:
            # An address ends up in access logs on its way here: a token in it is refused, even the right one.
            return JsonResponse(
                {"error": _("Токен передаётся только в заголовке X-Portal-Token, не в адресе запроса.")},
                status=403,
            )
        expected = settings.TELEPHONY_WEBHOOK_TOKEN
        given = request.headers.get("X-Portal-Token", "")
        if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
            return JsonResponse({"error": "forbidden"}, status=403)
        try:
            try:
                payload = (
                    json.loads(request.body) if request.content_type == "application/json" else request.POST
                )
            except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
                raise CdrError(_("Тело запроса — не JSON: пришлите запись звонка объектом JSON.")) from None
            if not hasattr(payload, "get"):
                raise CdrError(_("Запись звонка должна быть объектом JSON."))
            row = parse_cdr(payload)
        except (ValueError, CdrError) as error:
            return JsonResponse({"error": str(error)}, status=400)
        try:
            result = services.call_records_import(rows=[row])
        except IntegrityError:  # the same record delivered twice at once
            return JsonResponse({"status": "duplicate"})
        return JsonResponse({"status": "duplicate" if result.already_imported else "ok"})
