"""A statement as a PDF, drawn in pure Python (fpdf2) with PT Sans embedded.

PT Sans is ParaType's typeface made for Russian; its TTF files come from the ``fontpkg-pt-sans`` package on
PyPI, so the PDF needs nothing from the operating system (WeasyPrint would need the system's Pango). The
fonts are embedded as subsets: the PDF reads the same on any machine, and its text extracts as the Cyrillic
it shows.
"""

import logging
from functools import cache
from importlib.resources import files
from pathlib import Path

from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from fpdf import FPDF
from fpdf.fonts import FontFace

from atlanset_portal.templatetags.formatting import percent, rub

from .sheets import StatementSheet

FONT = "PTSans"

# fontTools reports every glyph subset at INFO: a page of log lines per PDF.
logging.getLogger("fontTools").setLevel(logging.WARNING)


@cache
def font_files() -> dict[str, Path]:
    """The regular and bold PT Sans files of the installed package."""
    folder = files("fontpkg_pt_sans") / "files"
    return {
        "": Path(str(folder / "PT_Sans-Web-Regular.ttf")),
        "B": Path(str(folder / "PT_Sans-Web-Bold.ttf")),
    }


class _StatementPDF(FPDF):
    def __init__(self, footer_text: str):
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.footer_text = footer_text
        for style, path in font_files().items():
            self.add_font(FONT, style=style, fname=str(path))
        self.set_margins(15, 15, 15)
        self.set_auto_page_break(auto=True, margin=18)

    def footer(self):
        self.set_y(-12)
        self.set_font(FONT, size=8)
        self.set_text_color(110)
        self.cell(0, 5, self.footer_text, align="L")
        self.set_x(self.l_margin)
        self.cell(
            0, 5, _("Страница %(page)s из %(pages)s") % {"page": self.page_no(), "pages": "{nb}"}, align="R"
        )
        self.set_text_color(0)


def _line_text(line) -> str:
    text = line.explanation
    if line.deal is not None:
        text += f"\n{line.client_name} — {line.deal_label}"
    marks = []
    if line.accelerated:
        marks.append(_("ускоритель"))
    if line.late:
        marks.append(_("после закрытия месяца"))
    if marks:
        text += f" ({', '.join(marks)})"
    return text


def statement_pdf(sheet: StatementSheet) -> bytes:
    """The statement's PDF: heading, each section's lines with payment date and document, its subtotal, the
    total (or «Выплачено» once paid)."""
    with translation.override("ru"):
        return _draw(sheet)


def _draw(sheet: StatementSheet) -> bytes:
    made = date_format(timezone.localtime(), "d.m.Y H:i")
    pdf = _StatementPDF(
        _("Атлансет · %(title)s · сформирован %(made)s") % {"title": sheet.title, "made": made}
    )
    pdf.set_title(sheet.title)
    pdf.set_author(_("Атлансет"))
    pdf.set_creator(_("Портал отдела продаж «Атлансет»"))
    pdf.add_page()

    pdf.set_font(FONT, size=9)
    pdf.set_text_color(110)
    pdf.cell(0, 5, _("Атлансет — бытовая и профессиональная химия, Сургут"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0)
    pdf.set_font(FONT, style="B", size=16)
    pdf.cell(0, 9, sheet.title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, size=11)
    pdf.cell(0, 6, sheet.heading, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, size=9)
    pdf.cell(0, 5, _("Статус: %(status)s") % {"status": sheet.status_label}, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)

    headings = [_("Начисление"), _("Дата оплаты"), _("Документ"), _("База"), _("Ставка"), _("Сумма")]
    widths = (64, 19, 33, 24, 16, 24)
    bold = FontFace(emphasis="BOLD")
    for section in sheet.sections:
        pdf.set_font(FONT, style="B", size=11)
        pdf.cell(0, 7, section.label, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(FONT, size=8.5)
        with pdf.table(
            col_widths=widths,
            text_align=("LEFT", "CENTER", "LEFT", "RIGHT", "RIGHT", "RIGHT"),
            headings_style=FontFace(emphasis="BOLD", fill_color=(235, 238, 242)),
            line_height=4.2,
            padding=1,
            borders_layout="HORIZONTAL_LINES",
        ) as table:
            table.row(headings)
            for line in section.lines:
                table.row(
                    [
                        _line_text(line),
                        date_format(line.payment_date, "d.m.Y") if line.payment_date else "",
                        line.document,
                        rub(line.base) if line.base is not None else "",
                        percent(line.rate) if line.rate is not None else "",
                        rub(line.amount),
                    ]
                )
            row = table.row(style=bold)
            row.cell(_("Итого по разделу «%(section)s»") % {"section": section.label}, colspan=5)
            row.cell(rub(section.subtotal))
        pdf.ln(2)

    pdf.ln(2)
    pdf.set_font(FONT, style="B", size=13)
    pdf.cell(150, 8, f"{sheet.total_label}:", align="R")
    pdf.cell(0, 8, rub(sheet.total), align="R", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
