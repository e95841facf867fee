"""The pay pages: statements of a month, one statement with its reasons, the pay scheme, payments."""

import re
import uuid
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
from atlanset_portal import fragments
from atlanset_portal.uploads import stash_upload, stashed_upload
from atlanset_portal.wording import ACCUSATIVE, month_year
from deals.models import Deal
from deals.selectors import deals_awaiting_payment, overdue_deferred_payments
from deals.services import DealRuleError
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
from .mailing import may_send_statements, pdf_file_name, statement_email_request
from .models import Adjustment, BankLine, Dispute, Expense, PaySchemeVersion, Statement, StatementEmail
from .pdf import statement_pdf
from .projection import projected_pay
from .receivables import BUCKETS
from .selectors import accountant_home, recorded_payments, scheme_change_ahead, scheme_start_default
from .sheets import statement_sheet, statement_sheets
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
            sheets = statement_sheets(self.statements(month, with_lines=True))
            body = exports.statements_csv(sheets) if export == "csv" else exports.statements_xlsx(sheets)
            return _spreadsheet(body, export, f"raschetnye-listy-{month:%Y-%m}")
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
            "any_locked": any(s.record and s.record.is_locked for s in statements),
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
                messages.success(request, _("Расчётный лист: %(hunter)s — утверждён.") % {"hunter": hunter})
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
                            "Расчётный лист: %(hunter)s — изменился после утверждения и вернулся в "
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


def _statement_target(request, username: str, month: str) -> tuple[User, date]:
    """The hunter and month of a statement the viewer may read: their own, or anyone's for the head and the
    accountant; 404 otherwise (another hunter's pay is not even acknowledged to exist)."""
    month = parse_month(month)
    hunter = User.objects.filter(username=username, role=Role.HUNTER).first()
    if month is None or hunter is None:
        raise Http404
    if hunter.pk != request.user.pk and not _may_see_all(request.user):
        raise Http404
    return hunter, month


SPREADSHEET_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def _spreadsheet(body: bytes, extension: str, name: str) -> HttpResponse:
    return HttpResponse(
        body,
        content_type=SPREADSHEET_TYPES[extension],
        headers={"Content-Disposition": f'attachment; filename="{name}.{extension}"'},
    )


def statement_lines_html(sheet) -> str:
    """The statement's table of lines (a busy month has hundreds), drawn once for the same lines, names,
    KPI figures and total (atlanset_portal/fragments.py)."""
    statement = sheet.statement
    plan = statement.plan
    fingerprint = (
        [
            (
                line.line,
                line.deal and (line.deal.pk, line.client_name, line.deal_label),
                line.payment_date_text,
                line.document,
            )
            for line in sheet.lines
        ],
        [(section.kind, section.label) for section in sheet.sections],
        statement.counters,
        plan and (plan.leads_target, plan.calls_target, plan.meetings_target, plan.messages_target),
        statement.total,
        sheet.total_label,
    )
    return fragments.drawn(
        "compensation/statement_detail.html#lines-table",
        fingerprint=fingerprint,
        context=lambda: {"sheet": sheet, "statement": statement},
    )


class StatementDetailView(View):
    """One statement as it builds up: every line with why, linking to its deal or the KPI figures."""

    def target(self, request, username: str, month: str):
        return _statement_target(request, username, month)

    def render(self, request, hunter, month, form=None, status=200):
        statement = statement_for(hunter=hunter, month=month)
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
        in_flight = [upsides[pk] for pk in waiting if pk in upsides] if upsides else []
        may_send = may_send_statements(request.user)
        sheet = statement_sheet(statement)
        return render(
            request,
            "compensation/statement_detail.html",
            {
                "statement": statement,
                "sheet": sheet,
                "lines_table": statement_lines_html(sheet),
                "may_send": may_send,
                "send_key": uuid.uuid4().hex if may_send else "",
                "emails": (
                    StatementEmail.objects.filter(statement=record).select_related("requested_by")
                    if may_send and record
                    else []
                ),
                "scheme": scheme_for(month),
                "may_adjust": may_adjust,
                "disputes": Dispute.objects.filter(hunter=hunter, month=month).select_related("answered_by"),
                "dispute_form": dispute_form,
                "answer_form": DisputeAnswerForm() if may_answer else None,
                "in_flight": in_flight,
                "overdue": (
                    {item.deal_id for item in overdue_deferred_payments(owner=hunter)} if in_flight else set()
                ),
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
            {
                "current": current,
                "ahead": scheme_change_ahead(today),
                "versions": PaySchemeVersion.objects.all(),
                "form": form,
            },
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


class StatementPrintView(View):
    """The statement as a printable page: no navigation, print CSS, the same sections and totals."""

    def get(self, request, username: str, month: str):
        hunter, month = _statement_target(request, username, month)
        sheet = statement_sheet(statement_for(hunter=hunter, month=month))
        return render(
            request, "compensation/statement_print.html", {"sheet": sheet, "printed_at": timezone.now()}
        )


class StatementPdfView(View):
    """The statement as a PDF (fonts embedded), opened in the browser."""

    def get(self, request, username: str, month: str):
        hunter, month = _statement_target(request, username, month)
        statement = statement_for(hunter=hunter, month=month)
        body = statement_pdf(statement_sheet(statement))
        return HttpResponse(
            body,
            content_type="application/pdf",
            headers={"Content-Disposition": f'inline; filename="{pdf_file_name(statement)}"'},
        )


class StatementExportView(View):
    """One statement as XLSX (``?format=xlsx``, the default) or CSV."""

    def get(self, request, username: str, month: str):
        hunter, month = _statement_target(request, username, month)
        export = request.GET.get("format", "xlsx")
        if export not in SPREADSHEET_TYPES:
            raise Http404
        sheets = [statement_sheet(statement_for(hunter=hunter, month=month))]
        body = (
            exports.statements_csv(sheets, grand_total=False)
            if export == "csv"
            else exports.statements_xlsx(sheets, grand_total=False)
        )
        return _spreadsheet(body, export, f"raschetny-list-{hunter.username}-{month:%Y-%m}")


class StatementSendView(View):
    """«Отправить хантеру»: the statement's PDF by e-mail, once per click (the form's key)."""

    http_method_names = ["post"]

    def post(self, request, username: str, month: str):
        hunter, month = _statement_target(request, username, month)
        if not may_send_statements(request.user):
            raise PermissionDenied
        try:
            email = statement_email_request(
                acting_user=request.user, hunter=hunter, month=month, click_key=request.POST.get("key", "")
            )
        except ValidationError as error:
            messages.error(request, "; ".join(error.messages))
        else:
            messages.success(
                request,
                _("Расчётный лист отправлен на %(email)s: письмо с PDF уходит в течение минуты.")
                % {"email": email.to_email},
            )
        return redirect("compensation:statement", username=hunter.username, month=f"{month:%Y-%m}")


class PayrollExportView(CapabilityRequiredMixin, View):
    """The month's locked statements as one-off accruals for 1C:ЗУП (``?format=xlsx`` or ``csv``)."""

    required_capability = Capability.LOCK_STATEMENTS

    def get(self, request):
        month = _month(request)
        export = request.GET.get("format", "xlsx")
        if export not in SPREADSHEET_TYPES:
            raise Http404
        hunters = [
            record.hunter
            for record in Statement.objects.filter(
                month=month, status__in=(Statement.Status.LOCKED, Statement.Status.PAID)
            ).select_related("hunter")
        ]
        if not hunters:
            messages.error(
                request,
                _("За %(month)s нет закрытых расчётных листов: в 1С выгружаются только закрытые.")
                % {"month": month_year(month, ACCUSATIVE)},
            )
            return redirect(f"{reverse('compensation:statements')}?month={month:%Y-%m}")
        sheets = statement_sheets(month_statements(month, hunters))
        body = (
            exports.payroll_csv(sheets, month=month)
            if export == "csv"
            else exports.payroll_xlsx(sheets, month=month)
        )
        return _spreadsheet(body, export, f"nachisleniya-1c-zup-{month:%Y-%m}")


class AccountantHomeView(View):
    """The accountant's home (the head sees it too): receivables by age with totals per hunter and per
    client, deals awaiting payment, invoices to upload, statements to lock, bank lines on no deal."""

    def dispatch(self, request, *args, **kwargs):
        if not _may_see_all(request.user):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def get(self, request):
        home = accountant_home(viewer=request.user)
        hunter_id = request.GET.get("hunter", "")
        hunter_filter = int(hunter_id) if _ID.fullmatch(hunter_id) else None
        awaiting = home.receivables
        if hunter_filter is not None:
            awaiting = [item for item in awaiting if item.deal.owner_id == hunter_filter]
        return render(
            request,
            "compensation/accountant_home.html",
            {"home": home, "buckets": BUCKETS, "awaiting": awaiting, "hunter_filter": hunter_filter},
        )


class BankLineView(CapabilityRequiredMixin, View):
    """A bank line that recorded no payment: record it on a deal chosen here, or set it aside with why."""

    required_capability = Capability.RECORD_PAYMENTS

    def render_page(self, request, line: BankLine, *, note_error: str = "", status: int = 200):
        payer, others = bank_import.bank_line_choices(line, viewer=request.user)
        return render(
            request,
            "compensation/bank_line.html",
            {"line": line, "payer_choices": payer, "other_choices": others, "note_error": note_error},
            status=status,
        )

    def get(self, request, pk: int):
        return self.render_page(request, get_object_or_404(BankLine, pk=pk, dismissed_at__isnull=True))

    def post(self, request, pk: int):
        line = get_object_or_404(BankLine, pk=pk, dismissed_at__isnull=True)
        action = request.POST.get("action")
        if action == "dismiss":
            try:
                bank_import.bank_line_dismiss(
                    acting_user=request.user, line=line, note=request.POST.get("note", "")
                )
            except ValidationError as error:
                return self.render_page(request, line, note_error="; ".join(error.messages), status=400)
            messages.success(request, _("Строка выписки отложена: в списке её больше нет."))
            return redirect("compensation:home")
        if action != "record":
            messages.error(request, _("Выберите сделку или отложите строку."))
            return self.render_page(request, line, status=400)
        deal = Deal.objects.visible_to(request.user).filter(pk=_posted_id(request, "deal")).first()
        if deal is None:
            raise Http404
        try:
            bank_import.bank_line_record(acting_user=request.user, line=line, deal=deal)
        except (ValidationError, DealRuleError) as error:
            messages.error(request, "; ".join(getattr(error, "messages", [str(error)])))
            return self.render_page(request, line, status=400)
        messages.success(
            request,
            _("Оплата по документу №%(number)s внесена: «%(deal)s».")
            % {"number": line.document_number, "deal": f"{deal.client.name} — {deal}"},
        )
        return redirect("compensation:home")
