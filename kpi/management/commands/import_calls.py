"""Imports a PBX call-log CSV (history); the same file imported again adds nothing."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from kpi.services import call_records_import
from kpi.telephony import CSV_COLUMNS, CallLogFileError, read_call_log


class Command(BaseCommand):
    help = "Загружает журнал звонков АТС из CSV. Столбцы: " + ", ".join(column for column, _ in CSV_COLUMNS)

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)

    def handle(self, *args, file: Path, **options):
        if not file.is_file():
            raise CommandError(f"Файл не найден: {file}")
        try:
            log = read_call_log(file.read_bytes(), file.name)
        except CallLogFileError as error:
            raise CommandError("; ".join(error.messages)) from None
        result = call_records_import(rows=log.rows)
        self.stdout.write(
            f"Новых звонков: {result.created}; уже были: {result.already_imported}; "
            f"без хантера: {len(result.without_hunter)}; без клиента: {result.without_client}; "
            f"строк с ошибками: {len(log.errors)}"
        )
        for error in log.errors[:50]:
            self.stdout.write(f"  строка {error.row_number}: {error.message}")
        for row in result.without_hunter[:50]:
            self.stdout.write(
                f"  звонок {row.external_id}: внутренний номер «{row.extension}» не закреплён за хантером"
            )
