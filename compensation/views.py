"""The pay pages: statements of a month, one statement with its reasons, the pay scheme, payments."""

import re
from dataclasses import asdict
from datetime import date

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views import View
from django.views.generic import TemplateView

from accounts.access import CapabilityRequiredMixin, can
from accounts.models import User
from accounts.roles import Capability, Role
from atlanset_portal.uploads import stash_upload, stashed_upload
from deals.models import Deal
from deals.selectors import deals_awaiting_payment, overdue_deferred_payments
from imports.models import ImportJob
from imports.selectors import recent_import_jobs
from imports.views import ImportJobView
from kpi.months import month_start, next_month, parse_month, previous_month

from . import bank_import, exports, services
from .forms import (
    AdjustmentForm,
    BankStatementUploadForm,
    DisputeAnswerForm,
    DisputeForm,
    ExpenseClaimForm,
    ExpenseDecisionForm,
    SchemeForm,
)
from .models import Adjustment, Dispute, Expense, PaySchemeVersion, Statement
from .projection import projected_pay
from .selectors import recorded_payments, scheme_start_default
from .statements import month_statements, scheme_for, statement_for

# A posted line index or deal id: ASCII digits that fit the id column.
_ID = re.compile(r"[0-9]{1,9}")


def _posted_id(request, name: str) -> int:
    """A posted object id; anything else is no such object (404), not an error page."""
    value = request.POST.get(name, "")
    if not value.isdigit():
        raise Http404
    return int(value)


def _may_claim(user) -> bool:
    """Expenses are claimed by hunters and decided by the head, never by the same person."""
    return can(user, Capability.WORK_PIPELINE) and not can(user, Capability.VIEW_ALL_HUNTERS)


def _month(request) -> date:
    return parse_month(request.GET.get("month", "")) or month_start(timezone.localdate())


def _may_see_all(user) -> bool:
    return can(user, Capability.VIEW_ALL_HUNTERS) or can(user, Capability.LOCK_STATEMENTS)


class StatementListView(View):
    """All statements of a month, for the head and the accountant: the head approves an ended month's
    drafts, the accountant locks what was approved (after confirming the list) and marks it paid."""

    def dispatch(self, request, *args, **kwargs):
        if not _may_see_all(request.user):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def statements(self, month, *, with_lines: bool = False):
        return month_statements(month, services.hunters_of_month(month), with_lines=with_lines)

    def get(self, request):
        month = _month(request)
        export = request.GET.get("export")
        if export in ("csv", "xlsx"):
            statements = self.statements(month, with_lines=True)
            name = f"raschetnye-listy-{month:%Y-%m}.{export}"
            if export == "csv":
                body, content_type = exports.statements_csv(statements), "text/csv; charset=utf-8"
            else:
                body = exports.statements_xlsx(statements)
                content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            return HttpResponse(
                body,
                content_type=content_type,
                headers={"Content-Disposition": f'attachment; filename="{name}"'},
            )
        statements = self.statements(month)
        ended = timezone.localdate() >= next_month(month)
        context = {
            "month": month,
            "statements": statements,
            "previous": previous_month(month),
            "next": next_month(month),
            "total": sum((s.total for s in statements), start=0),
            "month_ended": ended,
            "drafts": sum(1 for s in statements if s.status == Statement.Status.DRAFT),
            "locked": sum(1 for s in statements if s.status == Statement.Status.LOCKED),
        }
        if request.GET.get("confirm") == "lock" and can(request.user, Capability.LOCK_STATEMENTS) and ended:
            context["to_lock"] = services.statements_to_lock(month)
        return render(request, "compensation/statement_list.html", context)

    def post(self, request):
        month = _month(request)
        action = request.POST.get("action")
        try:
            if action == "approve":
                hunter = get_object_or_404(User, pk=_posted_id(request, "hunter"), role=Role.HUNTER)
                services.statement_approve(acting_user=request.user, hunter=hunter, month=month)
                messages.success(
                    request, _("Расчётный лист хантера %(hunter)s утверждён.") % {"hunter": hunter}
                )
            elif action == "approve_all":
                approved = services.statements_approve_month(acting_user=request.user, month=month)
                messages.success(request, _("Утверждено расчётных листов: %(count)s.") % {"count": approved})
            elif action == "lock":
                confirmed = {int(value) for value in request.POST.getlist("hunter") if value.isdigit()}
                result = services.statements_lock_month(
                    acting_user=request.user, month=month, hunter_ids=confirmed
                )
                messages.success(
                    request, _("Закрыто расчётных листов: %(count)s.") % {"count": len(result.locked)}
                )
                for record in result.reopened:
                    messages.warning(
                        request,
                        _(
                            "Расчётный лист хантера %(hunter)s изменился после утверждения и вернулся в "
                            "черновик: он не закрыт, руководитель утвердит его заново."
                        )
                        % {"hunter": record.hunter},
                    )
            elif action == "paid":
                count = services.statements_mark_paid(acting_user=request.user, month=month)
                messages.success(request, _("Отмечено выплаченными: %(count)s.") % {"count": count})
        except ValidationError as error:
            messages.error(request, "; ".join(error.messages))
        return redirect(f"{request.path}?month={month:%Y-%m}")


class StatementDetailView(View):
    """One statement as it builds up: every line with why, linking to its deal or the KPI figures."""

    def target(self, request, username: str, month: str):
        month = parse_month(month)
        hunter = User.objects.filter(username=username, role=Role.HUNTER).first()
        if month is None or hunter is None:
            raise Http404
        if hunter.pk != request.user.pk and not _may_see_all(request.user):
            raise Http404  # another hunter's pay is not even acknowledged to exist
        return hunter, month

    def render(self, request, hunter, month, form=None, status=200):
        statement = statement_for(hunter=hunter, month=month)
        deals = {
            deal.pk: deal
            for deal in Deal.objects.filter(
                pk__in={line.deal_key for line in statement.lines}
            ).select_related("client")
        }
        may_adjust = not (statement.record and statement.record.is_locked) and (
            can(request.user, Capability.APPROVE_STATEMENTS) or can(request.user, Capability.LOCK_STATEMENTS)
        )
        record = statement.record
        is_own = hunter.pk == request.user.pk
        dispute_form = None
        if is_own:
            dispute_form = DisputeForm()
            dispute_form.fields["line_text"].widget.choices = [
                (f"{line.explanation} — {line.amount}", line.explanation) for line in statement.lines
            ]
        may_answer = can(request.user, Capability.APPROVE_STATEMENTS) or can(
            request.user, Capability.LOCK_STATEMENTS
        )
        # Money in flight: what deferred and consignment clients still owe, and what it would bring.
        upsides = (
            {upside.deal.pk: upside for upside in projected_pay(hunter=hunter).upsides} if is_own else {}
        )
        waiting = Deal.objects.filter(
            owner=hunter, status="open", client__payment_terms__in=["deferred", "consignment"]
        ).values_list("pk", flat=True)
        return render(
            request,
            "compensation/statement_detail.html",
            {
                "statement": statement,
                "deals": deals,
                "scheme": scheme_for(month),
                "may_adjust": may_adjust,
                "disputes": Dispute.objects.filter(hunter=hunter, month=month).select_related("answered_by"),
                "dispute_form": dispute_form,
                "answer_form": DisputeAnswerForm() if may_answer else None,
                "in_flight": [upsides[pk] for pk in waiting if pk in upsides],
                "overdue": {item.deal.pk for item in overdue_deferred_payments(owner=hunter)},
                "form": form or (AdjustmentForm() if may_adjust else None),
                "adjustment_is_proposal": may_adjust and not can(request.user, Capability.APPROVE_STATEMENTS),
                "proposals": Adjustment.objects.filter(
                    hunter=hunter, month=month, status=Adjustment.Status.PROPOSED
                ).select_related("created_by"),
                "reopening": record.reopenings.first() if record and record.changed_after_approval else None,
                "may_approve": (
                    can(request.user, Capability.APPROVE_STATEMENTS)
                    and statement.status == Statement.Status.DRAFT
                    and timezone.localdate() >= next_month(month)
                ),
                "previous": previous_month(month),
                "next": next_month(month),
            },
            status=status,
        )

    def get(self, request, username: str, month: str):
        hunter, month = self.target(request, username, month)
        return self.render(request, hunter, month)

    def post(self, request, username: str, month: str):
        hunter, month = self.target(request, username, month)
        if request.POST.get("action") == "dispute" and hunter.pk == request.user.pk:
            try:
                services.dispute_open(
                    acting_user=request.user,
                    month=month,
                    line_text=request.POST.get("line_text", ""),
                    comment=request.POST.get("comment", ""),
                )
            except ValidationError as error:
                messages.error(request, "; ".join(error.messages))
            else:
                messages.success(request, _("Вопрос отправлен руководителю и бухгалтерии."))
            return redirect(request.path)
        if request.POST.get("action") == "answer":
            dispute = get_object_or_404(Dispute, pk=_posted_id(request, "dispute"), hunter=hunter)
            answer_form = DisputeAnswerForm(request.POST)
            if answer_form.is_valid():
                try:
                    services.dispute_answer(
                        acting_user=request.user, dispute=dispute, **answer_form.cleaned_data
                    )
                except ValidationError as error:
                    messages.error(request, "; ".join(error.messages))
                else:
                    messages.success(request, _("Ответ записан."))
            else:
                messages.error(request, _("Напишите ответ."))
            return redirect(request.path)
        if request.POST.get("action") == "approve":
            try:
                services.statement_approve(acting_user=request.user, hunter=hunter, month=month)
            except ValidationError as error:
                messages.error(request, "; ".join(error.messages))
            else:
                messages.success(request, _("Расчётный лист утверждён."))
            return redirect(request.path)
        if request.POST.get("action") in ("accept_adjustment", "decline_adjustment"):
            adjustment = get_object_or_404(
                Adjustment, pk=_posted_id(request, "adjustment"), hunter=hunter, month=month
            )
            accept = request.POST["action"] == "accept_adjustment"
            try:
                services.adjustment_decide(acting_user=request.user, adjustment=adjustment, approve=accept)
            except ValidationError as error:
                messages.error(request, "; ".join(error.messages))
            else:
                messages.success(
                    request, _("Корректировка утверждена.") if accept else _("Корректировка отклонена.")
                )
            return redirect(request.path)
        form = AdjustmentForm(request.POST)
        if form.is_valid():
            try:
                adjustment = services.adjustment_add(
                    acting_user=request.user, hunter=hunter, month=month, **form.cleaned_data
                )
            except ValidationError as error:
                form.add_error(None, error)
            else:
                messages.success(
                    request,
                    _("Корректировка добавлена.")
                    if adjustment.status == Adjustment.Status.APPROVED
                    else _("Корректировка предложена руководителю: она войдёт в лист после его решения."),
                )
                return redirect(request.path)
        return self.render(request, hunter, month, form=form, status=400)


class MyStatementView(CapabilityRequiredMixin, View):
    required_capability = Capability.WORK_PIPELINE

    def get(self, request):
        return redirect(
            "compensation:statement", username=request.user.username, month=f"{timezone.localdate():%Y-%m}"
        )


class SchemeView(View):
    """The pay scheme in force and its history; the head adds a version from a month on."""

    def dispatch(self, request, *args, **kwargs):
        if not (can(request.user, Capability.WORK_PIPELINE) or _may_see_all(request.user)):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def render(self, request, form=None, status=200):
        today = timezone.localdate()
        current = scheme_for(today)
        if form is None and can(request.user, Capability.MANAGE_PLANS):
            # The form starts from the rates in force, from the first month a new version may take.
            form = SchemeForm(initial={**asdict(current), "effective_from": scheme_start_default(today)})
        return render(
            request,
            "compensation/scheme.html",
            {"current": current, "versions": PaySchemeVersion.objects.all(), "form": form},
            status=status,
        )

    def get(self, request):
        return self.render(request)

    def post(self, request):
        if not can(request.user, Capability.MANAGE_PLANS):
            raise PermissionDenied
        form = SchemeForm(request.POST)
        if form.is_valid():
            try:
                services.scheme_save(acting_user=request.user, **form.cleaned_data)
            except ValidationError as error:
                form.add_error(None, error)
            else:
                messages.success(request, _("Схема оплаты сохранена."))
                return redirect("compensation:scheme")
        return self.render(request, form=form, status=400)


class PaymentsView(CapabilityRequiredMixin, TemplateView):
    """The accountant's home page: recent payments, receivables and overdue deferred payments."""

    required_capability = Capability.RECORD_PAYMENTS
    template_name = "compensation/payments.html"

    def get_context_data(self, **kwargs):
        awaiting = deals_awaiting_payment(viewer=self.request.user)
        return super().get_context_data(
            payments=recorded_payments(query=self.request.GET),
            awaiting=awaiting,
            overdue=overdue_deferred_payments(),
            **kwargs,
        )


class ExpensesView(View):
    """Logistics claims: a hunter files them with a receipt, the head approves in full or in part."""

    def dispatch(self, request, *args, **kwargs):
        if not (can(request.user, Capability.WORK_PIPELINE) or can(request.user, Capability.LOCK_STATEMENTS)):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def render(self, request, form=None, status=200):
        user = request.user
        sees_all = _may_see_all(user)
        expenses = Expense.objects.select_related("hunter", "meeting__client").order_by("-created_at")
        if not sees_all:
            expenses = expenses.filter(hunter=user)
        claim_form = None
        if _may_claim(user):
            claim_form = form or ExpenseClaimForm(hunter=user)
        return render(
            request,
            "compensation/expenses.html",
            {
                "expenses": expenses[:200],
                "claim_form": claim_form,
                "may_decide": can(user, Capability.APPROVE_STATEMENTS),
            },
            status=status,
        )

    def get(self, request):
        return self.render(request)

    def post(self, request):
        if "expense" in request.POST:
            expense = get_object_or_404(Expense, pk=_posted_id(request, "expense"))
            form = ExpenseDecisionForm(request.POST)
            if form.is_valid():
                try:
                    services.expense_decide(acting_user=request.user, expense=expense, **form.cleaned_data)
                except ValidationError as error:
                    messages.error(request, "; ".join(error.messages))
                else:
                    messages.success(request, _("Решение по расходу записано."))
            else:
                messages.error(request, _("Укажите одобренную сумму."))
            return redirect("compensation:expenses")
        if not _may_claim(request.user):
            raise PermissionDenied
        form = ExpenseClaimForm(request.POST, request.FILES, hunter=request.user)
        if form.is_valid():
            try:
                services.expense_claim(acting_user=request.user, **form.cleaned_data)
            except ValidationError as error:
                for field, errors in (
                    error.message_dict.items() if hasattr(error, "error_dict") else [(None, error.messages)]
                ):
                    for message in errors:
                        form.add_error(field if field in form.fields else None, message)
            else:
                messages.success(request, _("Заявка на возмещение отправлена руководителю."))
                return redirect("compensation:expenses")
        return self.render(request, form=form, status=400)


class ExpenseReceiptView(View):
    """Receipts are private: the claimant, the head and the accountant may open them."""

    def get(self, request, pk: int):
        expense = get_object_or_404(Expense, pk=pk)
        if expense.hunter_id != request.user.pk and not _may_see_all(request.user):
            raise Http404
        if not expense.receipt:
            raise Http404
        return FileResponse(
            expense.receipt.open("rb"), as_attachment=True, filename=expense.receipt.name.rsplit("/", 1)[-1]
        )


class BankImportView(CapabilityRequiredMixin, View):
    """Upload the bank statement, check what it matched, record the confirmed payments (in the background:
    the job's page shows the report, or the preview again with the reason by each refused line)."""

    required_capability = Capability.RECORD_PAYMENTS
    session_key = "bank_statement_upload"
    template_name = "compensation/bank_import.html"

    def stored(self, request) -> bytes | None:
        path = stashed_upload(request.session.get(self.session_key, ""))
        return path.read_bytes() if path else None

    @staticmethod
    def chosen(request) -> dict[int, int]:
        """Line index → deal id, from the ticked boxes and the deals picked by hand (``deal_<line>``)."""
        chosen = {}
        for key, value in request.POST.items():
            line = key.removeprefix("deal_")
            if line != key and _ID.fullmatch(line) and _ID.fullmatch(value):
                chosen[int(line)] = int(value)
        return chosen

    def render_page(self, request, context: dict, status: int = 200):
        context = {
            "recent_jobs": recent_import_jobs(viewer=request.user, kind=ImportJob.Kind.BANK),
            "job_url_name": "compensation:bank_import_job",
            **context,
        }
        return render(request, self.template_name, context, status=status)

    def get(self, request):
        return self.render_page(request, {"form": BankStatementUploadForm()})

    def post(self, request):
        if request.POST.get("step") == "confirm":
            return self.confirm(request)
        form = BankStatementUploadForm(request.POST, request.FILES)
        if not form.is_valid():
            return self.render_page(request, {"form": form}, status=400)
        data = form.cleaned_data["file"].read()
        try:
            items, errors = bank_import.proposals(data, viewer=request.user)
        except ValidationError as error:
            for message in error.messages:
                form.add_error("file", message)
            return self.render_page(request, {"form": form}, status=400)
        request.session[self.session_key] = stash_upload(data)
        return self.render_page(request, {"form": form, "items": items, "errors": errors})

    def confirm(self, request):
        data = self.stored(request)
        if data is None:
            messages.error(request, _("Выписка не найдена: загрузите её ещё раз."))
            return redirect("compensation:bank_import")
        job = bank_import.bank_import_enqueue(
            acting_user=request.user, data=data, chosen=self.chosen(request)
        )
        return redirect("compensation:bank_import_job", pk=job.pk)


class BankImportJobView(ImportJobView):
    kind = ImportJob.Kind.BANK
    required_capability = Capability.RECORD_PAYMENTS
    title = _lazy("Импорт банковской выписки")
    result_template = "compensation/_bank_import_result.html"

    @property
    def back_url(self) -> str:
        return reverse("compensation:bank_import")

    def report_context(self, job: ImportJob) -> dict:
        if not job.result.get("refused"):
            return {}
        try:
            items, errors = bank_import.refused_preview(job, viewer=self.request.user)
        except ValidationError:
            return {}
        return {
            "items": items,
            "errors": errors,
            "refused": True,
            "refusals": job.result.get("general", []),
            "error_in_report": True,  # the preview says it by each line
        }
