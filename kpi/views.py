"""The KPI pages: the hunter's day, the head's dashboard, the plan grid, call-log import and the PBX hook."""

import hmac
import json
from datetime import date

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.db.models import prefetch_related_objects
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from django.views.generic import TemplateView

from accounts.access import CapabilityRequiredMixin
from accounts.models import User
from accounts.roles import Capability
from compensation.projection import projected_pay
from deals.models import Client, Deal
from deals.selectors import overdue_deferred_payments, quality_claims
from imports.models import ImportJob
from imports.selectors import recent_import_jobs
from imports.views import ImportJobView
from notifications.models import Notification, NotificationKind
from onboarding.selectors import progress_for

from . import selectors, services
from .counters import month_progress
from .figures import dashboard_figures, dashboard_figures_read, stored_figure
from .forms import ActivityForm, CallLogUploadForm, PlanGridRowForm, QuarterPlanForm
from .models import DepartmentQuarterPlan
from .months import month_start, next_month, parse_month, previous_month, quarter_start
from .progress import stored_counters
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


class DashboardView(CapabilityRequiredMixin, TemplateView):
    """The sales head's dashboard for any month: the results board, records, funnel, forecast, alerts."""

    required_capability = Capability.VIEW_ALL_HUNTERS
    template_name = "kpi/dashboard.html"

    def get_context_data(self, **kwargs):
        month = _month_from(self.request)
        hunters = list(selectors.active_hunters())
        progress = month_progress(
            month=month,
            hunters=hunters,
            counters=stored_counters(month=month, hunter_ids=[hunter.pk for hunter in hunters]),
        )
        highlights = {}
        for name, _label in KPI_COLUMNS:
            best, worst = selectors.best_and_worst(
                {row.hunter.pk: getattr(row.counters, name) for row in progress}
            )
            highlights[name] = (best, worst)
        onboarding = {item.user.pk: item for item in progress_for([row.hunter for row in progress])}
        rows = [
            {
                "progress": row,
                "onboarding": onboarding[row.hunter.pk],
                "cells": [
                    {
                        "name": name,
                        "value": getattr(row.counters, name),
                        "target": getattr(row.plan, f"{name}_target") if row.plan else None,
                        "percent": row.percents[name],
                        "best": row.hunter.pk in highlights[name][0],
                        "worst": row.hunter.pk in highlights[name][1],
                    }
                    for name, _label in KPI_COLUMNS
                ],
            }
            for row in progress
        ]
        revenue = selectors.department_revenue_by_month(months=12, until=month)
        figures = dashboard_figures_read(month)
        funnel = figures["funnel"]
        widest = max((row.entered for row in funnel), default=0) or 1
        top = max((value for _m, value in revenue), default=0) or 1
        return super().get_context_data(
            month=month,
            previous=previous_month(month),
            next=next_month(month),
            columns=KPI_COLUMNS,
            rows=rows,
            records=selectors.team_records(),
            best_employee=figures["best_employee"],
            revenue_chart=[(m, value, int(value * 100 / top) if value > 0 else 0) for m, value in revenue],
            overdue=selectors.overdue_follow_ups_by_hunter(),
            quality_claims=quality_claims(days=60),
            overdue_payments=overdue_deferred_payments()[:50],
            funnel=[(row, row.entered * 100 // widest) for row in funnel],
            forecast=figures["forecast"],
            samples=figures["samples"],
            **kwargs,
        )


class MyDayView(CapabilityRequiredMixin, TemplateView):
    """The hunter's home page: what is due today, the month's plan progress, quick activity entry."""

    required_capability = Capability.WORK_PIPELINE
    template_name = "kpi/my_day.html"

    def get_context_data(self, **kwargs):
        user = self.request.user
        today = timezone.localdate()
        month = month_start(today)
        [progress] = month_progress(month=month, hunters=[user])
        tasks = selectors.tasks_due(hunter=user, today=today)
        # The quick form offers the deals due today; any other deal has its own link from its page.
        due_deals = Deal.objects.filter(pk__in=[deal.pk for deal in tasks.due_deals]).select_related("client")
        projection = projected_pay(hunter=user, month=month, counters=progress.counters)
        # The page lists the ten best upsides, each client with its phone: one query for their phones.
        prefetch_related_objects([upside.deal.client for upside in projection.upsides[:10]], "phones")
        return super().get_context_data(
            today=today,
            tasks=tasks,
            # The morning run's other reminders (payments, idle deals, birthdays…); due contacts are above.
            reminders=Notification.objects.filter(recipient=user, for_day=today)
            .exclude(kind=NotificationKind.FOLLOW_UP_DUE)
            .order_by("kind", "pk")[:30],
            progress=progress,
            recent=selectors.recent_activities(owner=user),
            activity_form=activity_form(user, deals=due_deals.order_by("client__name")),
            projection=projection,
            best_employee=stored_figure(*dashboard_figures(month)["best_employee"]),
            **kwargs,
        )


def activity_form(user, data=None, initial=None, deals=None) -> ActivityForm:
    clients = Client.objects.visible_to(user).order_by("name")
    if deals is None:
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
        return render(request, "kpi/activity_form.html", context)

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
        messages.success(request, _("Планы на %(month)s сохранены.") % {"month": f"{month:%m.%Y}"})
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
