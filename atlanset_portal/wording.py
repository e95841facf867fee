"""Russian phrases that Django's date formats cannot make: a month in the case its phrase needs.

Django's ``F`` is the month's nominative with a capital («Январь»), right for a heading of its own but not
inside a phrase: «Расчётный лист за январь 2027» (accusative), «в январе 2027» (prepositional), «до 5
января» (genitive). Each form goes through gettext, so the English catalogue can say «January».
"""

from datetime import date

from django.utils.translation import pgettext_lazy

NOMINATIVE = "nominative"
GENITIVE = "genitive"
PREPOSITIONAL = "prepositional"
# A month is masculine and inanimate: its accusative is its nominative («за январь»).
ACCUSATIVE = "accusative"

_FORMS = {
    NOMINATIVE: (
        pgettext_lazy("месяц, именительный падеж", "январь"),
        pgettext_lazy("месяц, именительный падеж", "февраль"),
        pgettext_lazy("месяц, именительный падеж", "март"),
        pgettext_lazy("месяц, именительный падеж", "апрель"),
        pgettext_lazy("месяц, именительный падеж", "май"),
        pgettext_lazy("месяц, именительный падеж", "июнь"),
        pgettext_lazy("месяц, именительный падеж", "июль"),
        pgettext_lazy("месяц, именительный падеж", "август"),
        pgettext_lazy("месяц, именительный падеж", "сентябрь"),
        pgettext_lazy("месяц, именительный падеж", "октябрь"),
        pgettext_lazy("месяц, именительный падеж", "ноябрь"),
        pgettext_lazy("месяц, именительный падеж", "декабрь"),
    ),
    GENITIVE: (
        pgettext_lazy("месяц, родительный падеж", "января"),
        pgettext_lazy("месяц, родительный падеж", "февраля"),
        pgettext_lazy("месяц, родительный падеж", "марта"),
        pgettext_lazy("месяц, родительный падеж", "апреля"),
        pgettext_lazy("месяц, родительный падеж", "мая"),
        pgettext_lazy("месяц, родительный падеж", "июня"),
        pgettext_lazy("месяц, родительный падеж", "июля"),
        pgettext_lazy("месяц, родительный падеж", "августа"),
        pgettext_lazy("месяц, родительный падеж", "сентября"),
        pgettext_lazy("месяц, родительный падеж", "октября"),
        pgettext_lazy("месяц, родительный падеж", "ноября"),
        pgettext_lazy("месяц, родительный падеж", "декабря"),
    ),
    PREPOSITIONAL: (
        pgettext_lazy("месяц, предложный падеж", "январе"),
        pgettext_lazy("месяц, предложный падеж", "феврале"),
        pgettext_lazy("месяц, предложный падеж", "марте"),
        pgettext_lazy("месяц, предложный падеж", "апреле"),
        pgettext_lazy("месяц, предложный падеж", "мае"),
        pgettext_lazy("месяц, предложный падеж", "июне"),
        pgettext_lazy("месяц, предложный падеж", "июле"),
        pgettext_lazy("месяц, предложный падеж", "августе"),
        pgettext_lazy("месяц, предложный падеж", "сентябре"),
        pgettext_lazy("месяц, предложный падеж", "октябре"),
        pgettext_lazy("месяц, предложный падеж", "ноябре"),
        pgettext_lazy("месяц, предложный падеж", "декабре"),
    ),
}
_FORMS[ACCUSATIVE] = _FORMS[NOMINATIVE]


def month_name(month: date, case: str = NOMINATIVE) -> str:
    """The month's name in ``case``, lower case as inside a sentence: «январь», «января», «январе»."""
    return str(_FORMS[case][month.month - 1])


def month_year(month: date, case: str = NOMINATIVE) -> str:
    """«январь 2027» in ``case``: «за январь 2027», «в январе 2027»."""
    return f"{month_name(month, case)} {month.year}"


def month_heading(month: date) -> str:
    """A month standing alone as a heading or a column: «Январь 2027»."""
    text = month_year(month)
    return text[:1].upper() + text[1:]
