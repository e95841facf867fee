"""Payment documents as people and banks write them: one rule for when two are the same document.

«п/п 318 от 05.03.2026» (what the bank import stores), «318», «№ 0318» and «пп 318» (what people type) are
one number; the date written in the text, if any, is the document's date.
"""

import re
from datetime import date

_DATE_IN_TEXT = re.compile(r"(?<!\d)(\d{1,2})\.(\d{1,2})\.(\d{4}|\d{2})(?!\d)")
_DIGITS = re.compile(r"\d+")


def document_number_key(text: str) -> str:
    """How payment document numbers compare: the first number written, dates aside, leading zeros dropped;
    a number without digits is compared as written, case and spaces aside."""
    without_dates = _DATE_IN_TEXT.sub(" ", text or "")
    number = _DIGITS.search(without_dates)
    if number is None:
        return "".join(without_dates.split()).upper()
    return number.group().lstrip("0") or "0"


def written_date(text: str) -> date | None:
    """The date written in a document's text («п/п 318 от 05.03.2026»), if there is one."""
    found = _DATE_IN_TEXT.search(text or "")
    if found is None:
        return None
    day, month, year = (int(part) for part in found.groups())
    try:
        return date(year + 2000 if year < 100 else year, month, day)
    except ValueError:
        return None


def document_date(text: str, received_on: date) -> date:
    """The date of a recorded document: the one written in it, else the day the money came."""
    return written_date(text) or received_on
