"""Numbers as Russian people type and read them: «237,50», «1 500», «0,5».

A comma is the decimal separator and a space (ordinary, no-break or narrow) groups thousands. A dot is
read as a decimal point too, since phones and spreadsheets put one there, unless it could just as well
group thousands: «1.500» may be 1,5 or 1 500, so it is refused rather than guessed. A number never loses
its separator silently (the old pages could turn «237,50» into 23 750).
"""

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext

from django.utils.formats import number_format
from django.utils.translation import gettext as _

GROUP_SPACES = " \u00a0\u202f\u2009"
# At most this many characters are read at all: a number the columns can hold is far shorter.
LONGEST = 40
_GROUPED = re.compile(rf"\d{{1,3}}(?:[{GROUP_SPACES}]\d{{3}})+", re.ASCII)
_PLAIN = re.compile(r"(\d*)(?:([.,])(\d*))?", re.ASCII)


class NumberRefused(ValueError):
    """The text is not a number the portal reads; the message says why, in Russian."""


def parse_decimal(text: str) -> Decimal:
    """The number in ``text`` as typed in Russian, or :class:`NumberRefused` with the reason."""
    typed = text.strip(GROUP_SPACES + "\t\r\n")
    if not typed:
        raise NumberRefused(_("Введите число."))
    if len(typed) > LONGEST:
        raise NumberRefused(_("Слишком длинное число."))
    sign = ""
    if typed[0] in "-−–":  # hyphen, minus sign and en dash all come from phone keyboards
        sign, typed = "-", typed[1:].lstrip(GROUP_SPACES)
    if "," in typed and "." in typed:
        raise NumberRefused(
            _(
                "В числе «%(text)s» и точка, и запятая: непонятно, где дробная часть. Дробную часть "
                "отделяйте запятой, тысячи — пробелом: 1 234,50."
            )
            % {"text": text.strip()}
        )
    whole, separator, fraction = typed, "", ""
    for mark in ",.":
        if mark in typed:
            if typed.count(mark) > 1:
                raise NumberRefused(
                    _(
                        "В числе «%(text)s» несколько знаков «%(mark)s»: дробную часть отделяйте одной "
                        "запятой, тысячи — пробелом: 1 234,50."
                    )
                    % {"text": text.strip(), "mark": mark}
                )
            whole, separator, fraction = typed.partition(mark)
    grouped = any(space in whole for space in GROUP_SPACES)
    if grouped:
        if not _GROUPED.fullmatch(whole):
            raise NumberRefused(
                _(
                    "Непонятное число «%(text)s»: пробелом отделяются только тысячи, по три цифры: "
                    "1 234 567,50."
                )
                % {"text": text.strip()}
            )
        whole = "".join(ch for ch in whole if ch.isdigit())
    match = _PLAIN.fullmatch(whole + separator + fraction)
    if match is None or not (match.group(1) or match.group(3)):
        raise NumberRefused(_("Введите число цифрами, например 237,50."))
    # «1.500» reads as 1,5 to some and as 1 500 to others: a dot followed by exactly three digits after a
    # short whole part that does not start with 0 could be either.
    thousands_like = len(fraction) == 3 and whole[:1] not in ("", "0") and len(whole) <= 3
    if separator == "." and not grouped and thousands_like:
        raise NumberRefused(
            _(
                "Непонятно, что значит «%(text)s»: %(small)s или %(large)s? Дробную часть отделяйте "
                "запятой, тысячи — пробелом или ничем."
            )
            % {
                "text": text.strip(),
                "small": format_decimal(Decimal(f"{whole}.{fraction}")),
                "large": format_decimal(Decimal(whole + fraction)),
            }
        )
    try:
        return Decimal(f"{sign}{whole or '0'}" + (f".{fraction}" if fraction else ""))
    except InvalidOperation:  # pragma: no cover - the pattern admits digits only
        raise NumberRefused(_("Введите число цифрами, например 237,50.")) from None


def input_text(value: Decimal | int, places: int | None = None) -> str:
    """A number as the portal's inputs show it and read it back: a comma, no grouping, and either exactly
    ``places`` decimals (money: «237,50») or none that are zero (quantities: «10», «1,5»)."""
    value = Decimal(value)
    if places is not None:
        # Exact for any length: the default context's 28 digits would refuse a longer number.
        with localcontext() as context:
            context.prec = max(context.prec, len(value.as_tuple().digits) + places + 1)
            text = format(value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP), "f")
    else:
        text = format(_trimmed(value), "f")
    return text.replace(".", ",")


def format_decimal(value: Decimal | int | float | str) -> str:
    """A number for reading: grouped by the locale, with no trailing zeros («1 500», «0,125»)."""
    return number_format(_trimmed(Decimal(value)), force_grouping=True)


def _trimmed(value: Decimal) -> Decimal:
    """The value without trailing zeros after the point, never in exponent form (10.000 → 10, 1E+3 →
    1000), exactly whatever its length (no context rounding)."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return Decimal(text) if value else Decimal(0)
