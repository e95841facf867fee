"""Cells of every CSV and XLSX file the portal writes.

A text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is a formula to Excel and
LibreOffice (and openpyxl stores text starting with ``=`` as one): a client named
``=HYPERLINK("http://…"&A3,"Открыть")`` would run in the accountant's spreadsheet. Such text gets a leading
apostrophe (OWASP's rule for CSV injection) and reads as the text it is. Numbers, dates and empty cells
are not text and stay as they are, so a refund of -500.00 written as a number remains a number.
"""

from collections.abc import Iterable

from django.utils.functional import Promise

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value):
    """The value as a spreadsheet may safely hold it: text that would start a formula is quoted."""
    if isinstance(value, Promise):  # a lazily translated label
        value = str(value)
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def row(values: Iterable) -> list:
    return [cell(value) for value in values]
