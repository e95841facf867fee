"""The audit history the sales head reads: who changed which deal, payment, plan, pay scheme or
statement, when, and what changed (django-simple-history rows), plus every export of the client base."""

from dataclasses import dataclass, field
from datetime import datetime
from heapq import merge

from django.urls import NoReverseMatch, reverse

from compensation.models import PaySchemeVersion, Statement
from deals.models import ClientExport, Deal, Payment
from kpi.models import MonthlyPlan

AUDITED = {
    "deal": Deal,
    "payment": Payment,
    "plan": MonthlyPlan,
    "scheme": PaySchemeVersion,
    "statement": Statement,
}
ACTIONS = {"+": "создание", "~": "изменение", "-": "удаление"}


@dataclass
class AuditEntry:
    at: datetime
    who: str
    subject: str
    object_label: str
    action: str
    url: str = ""
    changes: list[tuple[str, str, str]] = field(default_factory=list)


def _object_url(kind: str, record) -> str:
    try:
        if kind == "deal":
            return reverse("deals:detail", args=[record.id])
        if kind == "payment":
            return reverse("deals:detail", args=[record.deal_id])
    except NoReverseMatch:
        pass
    return ""


def _entry(kind: str, record) -> AuditEntry:
    model = AUDITED[kind]
    changes = []
    if record.history_type == "~":
        previous = record.prev_record
        if previous is not None:
            delta = record.diff_against(previous)
            for change in delta.changes:
                label = str(model._meta.get_field(change.field).verbose_name)
                changes.append((label, _shown(change.old), _shown(change.new)))
    return AuditEntry(
        at=record.history_date,
        who=str(record.history_user) if record.history_user else "система",
        subject=str(model._meta.verbose_name),
        object_label=str(record.instance) if record.history_type != "-" else f"№{record.id}",
        action=ACTIONS.get(record.history_type, record.history_type),
        url=_object_url(kind, record),
        changes=changes,
    )


def _shown(value) -> str:
    return "—" if value in (None, "") else str(value)


def audit_entries(*, kinds: list[str] | None = None, limit: int = 100) -> list[AuditEntry]:
    """The latest changes across the audited models, newest first."""
    kinds = [kind for kind in (kinds or AUDITED) if kind in AUDITED]
    streams = [_stream(kind, limit) for kind in kinds]
    newest = merge(*streams, key=lambda item: item[0], reverse=True)
    return [_entry(kind, record) for _at, kind, record in list(newest)[:limit]]


def _stream(kind: str, limit: int):
    records = AUDITED[kind].history.select_related("history_user").order_by("-history_date")[:limit]
    return ((record.history_date, kind, record) for record in records)


def client_exports(limit: int = 50):
    return ClientExport.objects.select_related("by").order_by("-at")[:limit]
