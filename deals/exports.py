"""The client base as an XLSX file, for people given the export permission; every export is logged."""

from io import BytesIO

from django.core.exceptions import PermissionDenied
from django.db import transaction
from openpyxl import Workbook

from accounts.access import can
from accounts.models import User
from accounts.roles import Capability
from atlanset_portal import spreadsheets

from .models import Client, ClientExport

COLUMNS = [
    ("Клиент", "name"),
    ("Город", "city"),
    ("Адрес", "address"),
    ("Сегмент", "segment"),
    ("ИНН", "inn"),
    ("КПП", "kpp"),
    ("Эл. почта", "email"),
    ("Сайт", "website"),
    ("Хантер", "owner__full_name"),
]


@transaction.atomic
def client_base_export(*, acting_user: User, clients, filters: str = "", address: str | None = None) -> bytes:
    """The given (already scoped and filtered) clients with their phones as an XLSX workbook."""
    if not can(acting_user, Capability.EXPORT_CLIENT_BASE):
        raise PermissionDenied
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Клиенты")
    sheet.append([title for title, _field in COLUMNS] + ["Телефоны"])
    rows = 0
    fields = [name for _title, name in COLUMNS]
    phones: dict[int, list[str]] = {}
    for client_id, number in Client.phones.rel.related_model.objects.filter(client__in=clients).values_list(
        "client_id", "number"
    ):
        phones.setdefault(client_id, []).append(number)
    for values in clients.values_list("pk", *fields).iterator(chunk_size=2000):
        sheet.append(spreadsheets.row([*values[1:], ", ".join(phones.get(values[0], []))]))
        rows += 1
    ClientExport.objects.create(by=acting_user, rows=rows, filters=filters[:500], address=address)
    buffer = BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
