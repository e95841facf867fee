"""The head's dashboard as an XLSX workbook: the same figures the page shows, one sheet per block."""

import io
from datetime import date

from django.utils import formats
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from atlanset_portal import spreadsheets

MONEY_FORMAT = "#,##0.00"
PERCENT_FORMAT = "0.0"


def _month_name(month: date) -> str:
    """«Март 2026» (the nominative, as a heading)."""
    return formats.date_format(month, "F Y")


def _sheet(book: Workbook, title: str, headers: list[str], rows: list[list], money_columns=(), widths=None):
    sheet = book.create_sheet(title)
    sheet.append(spreadsheets.row(headers))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for values in rows:
        sheet.append(spreadsheets.row(values))
    for column in money_columns:
        for (cell,) in sheet.iter_rows(min_row=2, min_col=column, max_col=column):
            cell.number_format = MONEY_FORMAT
    for index, width in enumerate(widths or [18] * len(headers), start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    # The header stays in view and filters each column, as in the portal's other exports.
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = sheet.dimensions
    return sheet


def dashboard_xlsx(data: dict) -> bytes:
    book = Workbook()
    book.remove(book.active)
    month = data["month"]
    last_month, last_year = None, None
    board_rows = []
    for row in data["rows"]:
        values = [str(row.progress.hunter)]
        for cell in row.cells:
            last_month, last_year = cell.against_last_month.month, cell.against_last_year.month
            values += [
                cell.value,
                cell.target,
                cell.percent,
                cell.against_last_month.difference,
                cell.against_last_month.percent,
                cell.against_last_year.difference,
                cell.against_last_year.percent,
            ]
        values.append(_("да") if row.progress.plan else _("нет"))
        board_rows.append(values)
    headers = [_("Хантер")]
    for _name, label in data["columns"]:
        headers += [
            str(label),
            _("%(figure)s: план") % {"figure": label},
            _("%(figure)s: %% плана") % {"figure": label},
            _("%(figure)s: к прошлому месяцу") % {"figure": label},
            _("%(figure)s: к прошлому месяцу, %%") % {"figure": label},
            _("%(figure)s: к тому же месяцу прошлого года") % {"figure": label},
            _("%(figure)s: к тому же месяцу прошлого года, %%") % {"figure": label},
        ]
    headers.append(_("План установлен"))
    revenue_columns = [2 + 7 * 4 + offset for offset in (0, 1, 3, 5)]  # the revenue column's money cells
    _sheet(book, _("Результаты"), headers, board_rows, money_columns=revenue_columns, widths=[24] + [14] * 43)

    _sheet(
        book,
        _("Выручка по месяцам"),
        [_("Месяц"), _("Выручка, ₽")],
        [[_month_name(bar.month), bar.value] for bar in data["revenue_chart"]],
        money_columns=(2,),
        widths=[18, 18],
    )
    _sheet(
        book,
        _("Воронка"),
        [_("Этап"), _("Вошло"), _("Перешло дальше"), _("Конверсия, %"), _("Медиана дней на этапе")],
        [
            [
                f"{row.stage.number}. {row.stage.label}",
                row.entered,
                row.moved_on,
                row.conversion,
                row.median_days,
            ]
            for row, *_links in data["funnel"]
        ],
        widths=[36, 10, 16, 14, 22],
    )
    forecast = data["forecast"]
    _sheet(
        book,
        _("Прогноз"),
        [
            _("Этап"),
            _("Открытых сделок"),
            _("Сумма заказов, ₽"),
            _("Уже оплачено, ₽"),
            _("Осталось получить, ₽"),
            _("Завершённых сделок в выборке"),
            _("Из них оплачено"),
            _("Доля оплат, %"),
            _("Доля взята"),
            _("Прогноз, ₽"),
        ],
        [
            [
                f"{row.stage.number}. {row.stage.label}",
                row.open_deals,
                row.ordered,
                row.received,
                row.amount,
                row.finished,
                row.paid,
                row.rate,
                {"stage": _("по этапу"), "department": _("общая по отделу"), "none": _("нет истории")}[
                    row.rate_source
                ],
                row.expected,
            ]
            for row in forecast.rows
        ]
        + [[_("Итого"), None, None, None, forecast.outstanding, None, None, None, None, forecast.total]],
        money_columns=(3, 4, 5, 10),
        widths=[36, 14, 18, 18, 18, 16, 14, 12, 18, 18],
    )
    about = book.create_sheet(_("О выгрузке"))
    for values in (
        [_("Показатели отдела"), _month_name(month)],
        [_("Сравнение с прошлым месяцем"), _month_name(last_month) if last_month else ""],
        [_("Сравнение с тем же месяцем прошлого года"), _month_name(last_year) if last_year else ""],
        [
            _("Прогноз: доли оплат по сделкам, завершённым"),
            f"{forecast.since:%d.%m.%Y} — {forecast.until:%d.%m.%Y}",
        ],
        [_("Прогноз составлен"), f"{forecast.until:%d.%m.%Y}"],
    ):
        about.append(spreadsheets.row(values))
    about.column_dimensions["A"].width = 48
    about.column_dimensions["B"].width = 28
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
