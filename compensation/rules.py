"""The pay scheme and the pay rules of SPEC §5, each stated once.

Pure functions over ``Decimal``: no ORM, no floats, no built-in ``round()``. Money is rounded by
:func:`atlanset_portal.money.round_kopecks` only, and only where a statement line gets its amount.
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from atlanset_portal.money import KOPECK

ZERO = Decimal("0")

ACCELERATOR_MARGINAL = "marginal"
ACCELERATOR_RETROACTIVE = "retroactive"
ACCELERATORS = (ACCELERATOR_MARGINAL, ACCELERATOR_RETROACTIVE)

SPLIT_EQUAL = "equal"
SPLIT_REVENUE_SHARE = "revenue_share"
DEPARTMENT_BONUS_SPLITS = (SPLIT_EQUAL, SPLIT_REVENUE_SHARE)


@dataclass(frozen=True)
class PayScheme:
    """Rates and amounts of the pay rules, valid from ``effective_from`` until the next scheme.

    A change of terms is a new scheme with a later date, so a past month is never recalculated
    under terms it was not paid by.
    """

    effective_from: date
    fixed_amount: Decimal = Decimal("10000.00")
    new_client_rate: Decimal = Decimal("0.05")
    existing_client_rate: Decimal = Decimal("0.025")
    margin_bonus_rate: Decimal = Decimal("0.10")
    accelerator: str = ACCELERATOR_MARGINAL
    accelerator_multiplier: Decimal = Decimal("2")
    department_bonus_split: str = SPLIT_EQUAL

    def __post_init__(self):
        if self.accelerator not in ACCELERATORS:
            raise ValueError(f"accelerator must be one of {ACCELERATORS}, not {self.accelerator!r}")
        if self.department_bonus_split not in DEPARTMENT_BONUS_SPLITS:
            raise ValueError(
                f"department_bonus_split must be one of {DEPARTMENT_BONUS_SPLITS}, "
                f"not {self.department_bonus_split!r}"
            )
        for name in (
            "fixed_amount",
            "new_client_rate",
            "existing_client_rate",
            "margin_bonus_rate",
            "accelerator_multiplier",
        ):
            value = getattr(self, name)
            if not isinstance(value, Decimal):
                raise TypeError(f"{name} must be a Decimal, not {type(value).__name__}")
            if value < 0:
                raise ValueError(f"{name} must not be negative")


DEFAULT_SCHEME = PayScheme(effective_from=date(2000, 1, 1))


def commission_rate(scheme: PayScheme, *, is_new_client: bool, accelerated: bool) -> Decimal:
    """The commission rate on a payment: new-client or existing-client rate, times the multiplier
    when the payment (or its part) is above the revenue target of a fulfilled sales plan."""
    rate = scheme.new_client_rate if is_new_client else scheme.existing_client_rate
    if accelerated:
        rate = tidy_rate(rate * scheme.accelerator_multiplier)
    return rate


def tidy_rate(rate: Decimal) -> Decimal:
    """The same number written with no trailing zeros beyond two places: 0.050 → 0.05, 0.1 → 0.10.

    Not a rounding (the value is unchanged); it only keeps the rates of a statement written
    alike (``"0.05"``, ``"0.025"``, ``"0.10"``).
    """
    rate = rate.normalize()
    if rate.as_tuple().exponent > -2:
        rate = rate.quantize(KOPECK)
    return rate


def payment_margin(amount: Decimal, *, order_total: Decimal | None, order_cost: Decimal | None) -> Decimal:
    """The margin a payment or refund recognises as the statement counts it: its share of its deal's
    order margin, or all of it on a deal with no order (nothing bought in, so no cost)."""
    if order_total is None:
        return amount
    return recognised_margin(amount, order_total=order_total, order_cost=order_cost or ZERO)


def recognised_margin(amount: Decimal, *, order_total: Decimal, order_cost: Decimal) -> Decimal:
    """Margin a payment (or refund) of ``amount`` recognises: its share of the order's margin,
    ``amount × (order total − order cost) / order total``; 0 for an order with no total.

    Not rounded: the plan bonus line rounds the month's sum.
    """
    if order_total == 0:
        return ZERO
    return amount * (order_total - order_cost) / order_total
