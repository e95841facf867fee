"""Money added up by the database, exactly on every database.

SQLite keeps a ``DecimalField`` as a binary floating-point number (or as an integer when the value is
whole), so ``SUM`` adds floats there and arithmetic on money columns is float arithmetic, or integer
division when both sides happen to be whole rubles. The portal's one rule: **the database adds money
only in whole kopecks** (``MoneySum``), and anything that multiplies or divides money (a payment's
recognised margin, a commission) is worked out in Python with ``Decimal`` over the rows' values
(``compensation.rules``). PostgreSQL's ``numeric`` is exact either way; the rule costs it nothing.
"""

from decimal import ROUND_HALF_UP, Decimal

from django.db.models import BigIntegerField, DecimalField, F, Func, Sum
from django.db.models.functions import Cast, Round
from django.utils.functional import cached_property

ZERO = Decimal("0.00")
KOPECK = Decimal("0.01")


def round_kopecks(value: Decimal) -> Decimal:
    """Round to kopecks, half up (away from zero): 0.505 → 0.51, −0.505 → −0.51. The portal's one
    rounding of money: order totals, payments, statement lines and the head's figures all use it."""
    return value.quantize(KOPECK, rounding=ROUND_HALF_UP)


class MoneySum(Func):
    """``SUM`` of a money expression taken in whole kopecks and given back in rubles, ``0,00`` over no
    rows: ``MoneySum("amount")``, ``MoneySum("payments__amount", filter=Q(...))``.

    Each value is rounded to kopecks and cast to an integer before it is added, so SQLite adds integers,
    not floats; the sum divided by 100 is exact to the kopeck for any total below 10¹³ ₽ (SQLite's 15
    significant digits), and the result is quantized to kopecks here.
    """

    template = "(%(expressions)s) / 100.0"
    output_field = DecimalField(max_digits=18, decimal_places=2)

    def __init__(self, expression, **extra):
        value = F(expression) if isinstance(expression, str) else expression
        kopecks = Cast(Round(value * 100), BigIntegerField())
        super().__init__(Sum(kopecks, **extra))

    @cached_property
    def convert_value(self):
        return _rubles


def _rubles(value, expression, connection) -> Decimal:
    if value is None:
        return ZERO
    return Decimal(value).quantize(KOPECK)


def money_total(values) -> Decimal:
    """The sum of money values read from the database, in Decimal (``sum`` of an empty list is 0,00)."""
    return sum((Decimal(value) for value in values if value is not None), ZERO)
