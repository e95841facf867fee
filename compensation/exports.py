"""Statements as spreadsheets: XLSX, and CSV that opens cleanly in a Russian Excel (";" and a UTF-8 BOM).

One statement or a month's statements, line by line with the deal, the client, the payment's date and
document, the status in Russian, rates in one format (percent: «5 %» in CSV, 0,05 shown as «5,00 %» in
XLSX), each statement's total and the grand total; the XLSX has its header frozen and a filter on it. Every
text cell goes through ``atlanset_portal.spreadsheets``, so a name written as a formula stays text.

The payroll file for 1C:ЗУП (:func:`payroll_rows`) lists the locked statements of a month as one-off
accruals, one row per hunter and kind of accrual, in the column layout described in the README.
"""

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.utils.formats import date_format
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from atlanset_portal import spreadsheets
from atlanset_portal.templatetags.formatting import percent
from atlanset_portal.wording import month_heading

from .engine import LineKind
from .sheets import SECTIONS, StatementSheet

ZERO = Decimal("0")


@dataclass(frozen=True)
class Column:
    title: str
    width: int
    kind: str = "text"  # text, money, rate, date


def _line_columns() -> list[Column]:
    return [
        Column(_("Хантер"), 26),
        Column(_("Месяц"), 14),
        Column(_("Статус"), 22),
        Column(_("Раздел"), 22),
        Column(_("Сделка"), 16),
        Column(_("Клиент"), 26),
        Column(_("Дата оплаты"), 12, "date"),
        Column(_("Документ"), 22),
        Column(_("Пояснение"), 60),
        Column(_("База, ₽"), 14, "money"),
        Column(_("Ставка"), 9, "rate"),
        Column(_("Сумма, ₽"), 14, "money"),
        Column(_("Ускоритель"), 11),
        Column(_("После закрытия месяца"), 12),
    ]


def _line_rows(sheets: list[StatementSheet], *, grand_total: bool) -> list[list]:
    """Each line of each statement, its total row, and (for several statements) the grand total."""
    rows = []
    yes = _("да")
    for sheet in sheets:
        who = [sheet.hunter.get_full_name(), month_heading(sheet.month), sheet.status_label]
        for section in sheet.sections:
            for line in section.lines:
                rows.append(
                    [
                        *who,
                        section.label,
                        line.deal_label,
                        line.client_name,
                        line.payment_date,
                        line.document,
                        line.explanation,
                        line.base,
                        line.rate,
                        line.amount,
                        yes if line.accelerated else "",
                        yes if line.late else "",
                    ]
                )
        rows.append([*who, sheet.total_label, "", "", None, "", "", None, None, sheet.total, "", ""])
    if grand_total:
        rows.append(
            [
                _("Итого по всем листам"),
                "",
                "",
                "",
                "",
                "",
                None,
                "",
                "",
                None,
                None,
                total_of(sheets),
                "",
                "",
            ]
        )
    return rows


def total_of(sheets: Iterable[StatementSheet]) -> Decimal:
    return sum((sheet.total for sheet in sheets), ZERO)


def _summary_columns() -> list[Column]:
    return [
        Column(_("Хантер"), 26),
        Column(_("Статус"), 22),
        *(Column(f"{label}, ₽", 16, "money") for _kind, label in SECTIONS),
        Column(_("Итого, ₽"), 16, "money"),
    ]


def _summary_rows(sheets: list[StatementSheet]) -> list[list]:
    rows = []
    totals = dict.fromkeys([kind for kind, _label in SECTIONS], ZERO)
    for sheet in sheets:
        subtotals = {section.kind: section.subtotal for section in sheet.sections}
        for kind in totals:
            totals[kind] += subtotals.get(kind, ZERO)
        rows.append(
            [
                sheet.hunter.get_full_name(),
                sheet.status_label,
                *(subtotals.get(kind, ZERO) for kind, _label in SECTIONS),
                sheet.total,
            ]
        )
    rows.append([_("Итого по всем листам"), "", *totals.values(), total_of(sheets)])
    return rows


# --- CSV --------------------------------------------------------------------------------------------------


def russian_number(value: Decimal | None) -> str:
    """1234.5 → "1234,50": Excel in the Russian locale reads it as a number."""
    if value is None:
        return ""
    if value == value.quantize(Decimal("0.01")):
        return f"{value:.2f}".replace(".", ",")
    return str(value).replace(".", ",")


def _csv_cell(value, column: Column) -> str:
    if value is None or value == "":
        return ""
    if column.kind == "money":
        return russian_number(value)
    if column.kind == "rate":
        return percent(value).replace("\u00a0", " ")
    if column.kind == "date":
        return f"{value:%d.%m.%Y}"
    return spreadsheets.cell(str(value))


def _csv(columns: list[Column], rows: list[list]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow([column.title for column in columns])
    for row in rows:
        writer.writerow([_csv_cell(value, column) for value, column in zip(row, columns, strict=True)])
    return buffer.getvalue().encode("utf-8-sig")


def statements_csv(sheets: list[StatementSheet], *, grand_total: bool = True) -> bytes:
    return _csv(_line_columns(), _line_rows(sheets, grand_total=grand_total))


# --- XLSX -------------------------------------------------------------------------------------------------

NUMBER_FORMATS = {"money": "#,##0.00", "rate": "0.00%", "date": "DD.MM.YYYY"}


def _fill_sheet(sheet, columns: list[Column], rows: list[list], *, data_rows: int) -> None:
    """Header in bold, frozen, with a filter over the header and the first ``data_rows`` rows below it;
    rows after them (the grand total) stay visible whatever is filtered."""
    sheet.append([column.title for column in columns])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append(spreadsheets.row(row))
        for index, column in enumerate(columns, start=1):
            if column.kind in NUMBER_FORMATS:
                sheet.cell(row=sheet.max_row, column=index).number_format = NUMBER_FORMATS[column.kind]
    for index, column in enumerate(columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = column.width
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{1 + data_rows}"


def _bold_last_row(sheet) -> None:
    for cell in sheet[sheet.max_row]:
        cell.font = Font(bold=True)


def statements_xlsx(sheets: list[StatementSheet], *, grand_total: bool = True) -> bytes:
    """The lines sheet («Расчётные листы») and, for several statements, a summary by section («Итоги»)."""
    workbook = Workbook()
    lines = workbook.active
    lines.title = _("Расчётные листы")
    rows = _line_rows(sheets, grand_total=grand_total)
    _fill_sheet(lines, _line_columns(), rows, data_rows=len(rows) - (1 if grand_total else 0))
    if grand_total:
        _bold_last_row(lines)
        summary = workbook.create_sheet(_("Итоги"))
        summary_rows = _summary_rows(sheets)
        _fill_sheet(summary, _summary_columns(), summary_rows, data_rows=len(summary_rows) - 1)
        _bold_last_row(summary)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# --- the payroll file for 1C:ЗУП --------------------------------------------------------------------------

# The kind of accrual each section is loaded as; the accountant maps each name to a kind of accrual of her
# 1C base once (README, «Payroll file for 1C:ЗУП»).
PAYROLL_KINDS = {
    LineKind.COMMISSION: "Процент с оплат (продажи)",
    LineKind.PLAN_BONUS: "Премия за выполнение плана продаж",
    LineKind.FIXED: "Фиксированная часть за выполнение KPI",
    LineKind.DEPARTMENT_BONUS: "Квартальная премия отдела",
    LineKind.EXPENSE: "Возмещение расходов",
    LineKind.ADJUSTMENT: "Корректировка начислений",
}


def _payroll_columns() -> list[Column]:
    # Not translated: 1C reads these headings as they are, whatever language the portal speaks.
    return [
        Column("Табельный номер", 14),
        Column("Сотрудник", 30),
        Column("Вид начисления", 36),
        Column("Месяц начисления", 16, "date"),
        Column("Дата начала", 12, "date"),
        Column("Дата окончания", 14, "date"),
        Column("Сумма", 14, "money"),
        Column("Основание", 40),
    ]


def payroll_rows(sheets: list[StatementSheet], *, month: date) -> list[list]:
    """One row per hunter and kind of accrual with a non-zero amount, from locked statements only."""
    from kpi.months import next_month

    last_day = date.fromordinal(next_month(month).toordinal() - 1)
    rows = []
    for sheet in sheets:
        if not (sheet.statement.record and sheet.statement.record.is_locked):
            continue
        basis = _("Расчётный лист за %(month)s, портал «Атлансет»") % {
            "month": date_format(month, "m.Y"),
        }
        for section in sheet.sections:
            if section.subtotal == ZERO:
                continue
            rows.append(
                [
                    sheet.hunter.personnel_number,
                    sheet.hunter.get_full_name(),
                    PAYROLL_KINDS[section.kind],
                    month,
                    month,
                    last_day,
                    section.subtotal,
                    basis,
                ]
            )
    return rows


def payroll_csv(sheets: list[StatementSheet], *, month: date) -> bytes:
    return _csv(_payroll_columns(), payroll_rows(sheets, month=month))


def payroll_xlsx(sheets: list[StatementSheet], *, month: date) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Начисления"
    rows = payroll_rows(sheets, month=month)
    _fill_sheet(sheet, _payroll_columns(), rows, data_rows=len(rows))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
