"""A month's statements as XLSX and as CSV that opens cleanly in a Russian Excel (";" and UTF-8 BOM)."""

import csv
import io
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.styles import Font

from atlanset_portal import spreadsheets

from .statements import MonthStatement

HEADERS = [
    "Хантер",
    "Месяц",
    "Статус",
    "Вид строки",
    "Пояснение",
    "База, ₽",
    "Ставка",
    "Сумма, ₽",
    "Ускоренная",
    "Поступила после закрытия",
]
KIND_LABELS = {
    "fixed": "Фиксированная часть",
    "commission": "Процент с оплаты",
    "plan_bonus": "Доп. процент с маржи",
    "department_bonus": "Премия отдела",
    "expense": "Возмещение расходов",
    "adjustment": "Корректировка",
}


def _rows(statements: list[MonthStatement]):
    """Each line of each statement, text neutralised for spreadsheets, amounts as Decimal."""
    for statement in statements:
        for line in statement.lines:
            yield spreadsheets.row(
                [
                    statement.hunter.get_full_name(),
                    f"{statement.month:%m.%Y}",
                    statement.status,
                    KIND_LABELS.get(str(line.kind), str(line.kind)),
                    line.explanation,
                    line.base,
                    line.rate,
                    line.amount,
                    "да" if line.accelerated else "",
                    "да" if line.late else "",
                ]
            )
        yield spreadsheets.row(
            [
                statement.hunter.get_full_name(),
                f"{statement.month:%m.%Y}",
                statement.status,
                "Итого",
                "",
                None,
                None,
                statement.total,
                "",
                "",
            ]
        )


def _russian_number(value: Decimal | None) -> str:
    """1234.5 → "1234,50": Excel in the Russian locale reads it as a number."""
    if value is None:
        return ""
    return (
        f"{value:.2f}".replace(".", ",")
        if value == value.quantize(Decimal("0.01"))
        else str(value).replace(".", ",")
    )


def statements_csv(statements: list[MonthStatement]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(HEADERS)
    for row in _rows(statements):
        writer.writerow(
            [_russian_number(cell) if isinstance(cell, Decimal) or cell is None else cell for cell in row]
        )
    return buffer.getvalue().encode("utf-8-sig")


def statements_xlsx(statements: list[MonthStatement]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Расчётные листы"
    sheet.append(HEADERS)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in _rows(statements):
        sheet.append(row)
        for column in (6, 8):
            sheet.cell(row=sheet.max_row, column=column).number_format = "#,##0.00"
    for column, width in zip("ABCDEFGHIJ", (28, 9, 10, 22, 60, 14, 9, 14, 11, 12), strict=True):
        sheet.column_dimensions[column].width = width
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
