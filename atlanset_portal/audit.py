"""The head's audit history across the apps: who changed which client card or payment terms, deal, order
version, terms request, payment, plan, pay scheme, statement, adjustment or transfer, when (local time),
and what changed — field names and values as the pages show them — which superuser reset whose
authenticator app, which lead lists were checked against the client base (rows, and how many were already
in it), plus every export of the client base.

Two kinds of record feed it: django-simple-history rows of the audited models, and models that are a log
themselves (a transfer is written once and never changed). It lives in the project package because it
reads every app.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from heapq import merge

from django.db import models
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.formats import date_format, number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import SecondFactorReset
from atlanset_portal.templatetags.formatting import percent, rub
from atlanset_portal.wording import month_year
from compensation.models import Adjustment, PaySchemeVersion, Statement, StatementEmail
from deals.models import (
    Client,
    ClientExport,
    Deal,
    LeadImportUpload,
    OrderVersion,
    Payment,
    PaymentTermsRequest,
    Transfer,
)
from kpi.models import MonthlyPlan

HISTORY = {
    "client": Client,
    "deal": Deal,
    "order": OrderVersion,
    "terms": PaymentTermsRequest,
    "payment": Payment,
    "plan": MonthlyPlan,
    "scheme": PaySchemeVersion,
    "statement": Statement,
    "adjustment": Adjustment,
}
LOGS = {
    "transfer": Transfer,
    "second_factor": SecondFactorReset,
    "lead_upload": LeadImportUpload,
    "statement_email": StatementEmail,
}
# The rows each log's entries name.
LOG_RELATED = {
    "transfer": ("client", "deal", "from_owner", "to_owner", "by"),
    "second_factor": ("user", "by"),
    "lead_upload": ("by",),
    "statement_email": ("statement__hunter", "requested_by"),
}
KINDS = {**HISTORY, **LOGS}
ACTIONS = {"+": gettext_lazy("создание"), "~": gettext_lazy("изменение"), "-": gettext_lazy("удаление")}
# What a statement's status change means, said as the workflow says it.
STATEMENT_STEPS = {
    Statement.Status.APPROVED: gettext_lazy("утверждение"),
    Statement.Status.LOCKED: gettext_lazy("закрытие"),
    Statement.Status.PAID: gettext_lazy("отметка о выплате"),
    Statement.Status.DRAFT: gettext_lazy("возврат в черновик"),
}
# Bookkeeping the pages never show.
HIDDEN_FIELDS = {"approved_lines", "needs_check", "check_cause", "idempotency_key", "search_text"}


@dataclass
class AuditEntry:
    at: datetime
    who: str
    subject: str
    object_label: str
    action: str
    url: str = ""
    changes: list[tuple[str, str, str]] = field(default_factory=list)


def audit_entries(*, kinds: list[str] | None = None, limit: int = 100) -> list[AuditEntry]:
    """The latest changes across the audited models, newest first."""
    kinds = [kind for kind in (kinds or KINDS) if kind in KINDS]
    streams = [
        _history_stream(kind, limit) if kind in HISTORY else _log_stream(kind, limit) for kind in kinds
    ]
    newest = merge(*streams, key=lambda item: item[0], reverse=True)
    names = _Names()
    entries = []
    for _at, kind, record in list(newest)[:limit]:
        entries.append(_history_entry(kind, record, names) if kind in HISTORY else LOG_ENTRIES[kind](record))
    return entries


def kind_choices() -> list[tuple[str, str]]:
    return [(key, str(model._meta.verbose_name_plural)) for key, model in KINDS.items()]


def client_exports(limit: int = 50):
    return ClientExport.objects.select_related("by").order_by("-at")[:limit]


def _history_stream(kind: str, limit: int) -> Iterator[tuple[datetime, str, object]]:
    records = HISTORY[kind].history.select_related("history_user").order_by("-history_date")[:limit]
    return ((record.history_date, kind, record) for record in records)


def _log_stream(kind: str, limit: int) -> Iterator[tuple[datetime, str, object]]:
    records = LOGS[kind].objects.select_related(*LOG_RELATED[kind]).order_by("-at", "-pk")[:limit]
    return ((record.at, kind, record) for record in records)


def _person(user) -> str:
    return str(user) if user else _("система")


def _history_entry(kind: str, record, names: "_Names") -> AuditEntry:
    model = HISTORY[kind]
    changes = []
    action = str(ACTIONS.get(record.history_type, record.history_type))
    if record.history_type == "~" and record.prev_record is not None:
        for change in record.diff_against(record.prev_record).changes:
            if change.field in HIDDEN_FIELDS:
                continue
            model_field = model._meta.get_field(change.field)
            changes.append(
                (
                    str(model_field.verbose_name),
                    shown(model_field, change.old, names),
                    shown(model_field, change.new, names),
                )
            )
            if model is Statement and change.field == "status":
                action = str(STATEMENT_STEPS.get(change.new, action))
    if record.history_change_reason:
        action = f"{action} ({record.history_change_reason})"
    return AuditEntry(
        at=record.history_date,
        who=_person(record.history_user),
        subject=str(model._meta.verbose_name),
        object_label=str(record.instance) if record.history_type != "-" else f"№{record.id}",
        action=action,
        url=_object_url(kind, record),
        changes=changes,
    )


def _transfer_entry(transfer: Transfer) -> AuditEntry:
    what = (
        _("сделка «%(deal)s» клиента «%(client)s»") % {"deal": transfer.deal, "client": transfer.client}
        if transfer.deal_id
        else _("клиент «%(client)s» с открытыми сделками") % {"client": transfer.client}
    )
    changes = [(_("хантер"), _person(transfer.from_owner), _person(transfer.to_owner))]
    if transfer.return_on:
        changes.append((_("вернуть"), "—", date_format(transfer.return_on, "d.m.Y")))
    if transfer.reason:
        changes.append((_("причина"), "—", transfer.reason))
    url = (
        reverse("deals:detail", args=[transfer.deal_id])
        if transfer.deal_id
        else reverse("clients:detail", args=[transfer.client_id])
    )
    return AuditEntry(
        at=transfer.at,
        who=_person(transfer.by),
        subject=str(Transfer._meta.verbose_name),
        object_label=what,
        action=_("возврат") if transfer.returns_id else _("передача"),
        url=url,
        changes=changes,
    )


def _second_factor_entry(reset: SecondFactorReset) -> AuditEntry:
    return AuditEntry(
        at=reset.at,
        who=_person(reset.by),
        subject=_("приложение-аутентификатор"),
        object_label=_person(reset.user),
        action=_("сброс: настроит заново при следующем входе"),
    )


def _lead_upload_entry(upload: LeadImportUpload) -> AuditEntry:
    return AuditEntry(
        at=upload.at,
        who=_person(upload.by),
        subject=str(LeadImportUpload._meta.verbose_name),
        object_label=upload.file_name or "—",
        action=_("сверка телефонов с базой"),
        changes=[
            (_("строк"), "—", number_format(upload.rows, force_grouping=True)),
            (_("уже в базе"), "—", number_format(upload.duplicates, force_grouping=True)),
        ],
    )


def _statement_email_entry(email: StatementEmail) -> AuditEntry:
    statement = email.statement
    return AuditEntry(
        at=email.at,
        who=_person(email.requested_by),
        subject=str(StatementEmail._meta.verbose_name),
        object_label=_("%(hunter)s, %(month)s")
        % {
            "hunter": _person(statement.hunter),
            "month": month_year(statement.month),
        },
        action=_("отправка по эл. почте с PDF"),
        url=reverse("compensation:statement", args=[statement.hunter.username, f"{statement.month:%Y-%m}"]),
        changes=[
            (_("кому"), "—", email.to_email),
            (_("итого в листе"), "—", rub(email.total)),
            (_("состояние"), "—", email.get_state_display()),
        ],
    )


LOG_ENTRIES = {
    "transfer": _transfer_entry,
    "second_factor": _second_factor_entry,
    "lead_upload": _lead_upload_entry,
    "statement_email": _statement_email_entry,
}


def _object_url(kind: str, record) -> str:
    try:
        if kind == "deal":
            return reverse("deals:detail", args=[record.id])
        if kind == "payment":
            return reverse("deals:detail", args=[record.deal_id])
        if kind == "client":
            return reverse("clients:detail", args=[record.id])
        if kind == "terms":
            return reverse("clients:detail", args=[record.client_id])
        if kind == "order" and record.history_type != "-":
            return reverse("deals:detail", args=[record.instance.order.deal_id])
        if kind in ("statement", "adjustment") and record.history_type != "-":
            hunter = record.instance.hunter
            return reverse("compensation:statement", args=[hunter.username, f"{record.month:%Y-%m}"])
    except NoReverseMatch:
        pass
    return ""


class _Names:
    """Names of the rows a foreign key points to, looked up once per row."""

    def __init__(self):
        self.cache: dict[tuple[type, object], str] = {}

    def of(self, model: type[models.Model], pk) -> str:
        key = (model, pk)
        if key not in self.cache:
            row = model._default_manager.filter(pk=pk).first()
            self.cache[key] = (getattr(row, "full_name", "") or str(row)) if row is not None else f"№{pk}"
        return self.cache[key]


def shown(model_field: models.Field, value, names: _Names | None = None) -> str:
    """A stored value as the pages show it."""
    if value is None or value == "":
        return "—"
    if model_field.choices:
        return str(dict(model_field.flatchoices).get(value, value))
    if isinstance(model_field, models.BooleanField):
        return _("да") if value else _("нет")
    if isinstance(model_field, models.ForeignKey):
        return (names or _Names()).of(model_field.related_model, value)
    if isinstance(model_field, models.DecimalField):
        value = Decimal(value)
        if model_field.name.endswith("rate"):
            return percent(value)
        return rub(value) if model_field.decimal_places == 2 else number_format(value.normalize())
    if isinstance(model_field, models.DateTimeField) and isinstance(value, datetime):
        return date_format(timezone.localtime(value), "d.m.Y H:i")
    if isinstance(model_field, models.DateField) and isinstance(value, date):
        return date_format(value, "d.m.Y")
    return str(value)
