"""Money arithmetic is exact on every database: margins in Decimal, sums in whole kopecks.

SQLite keeps a whole-rouble amount as an integer and any other as a float, so ``amount × margin / total``
done by the database is integer division or float arithmetic there; the best employee's margin once came
out 905 377,45 where the statements' exact sum was 905 508,31.
"""

import copy
from datetime import date
from decimal import Decimal

from django.db import connection
from django.db.models import DecimalField, F, Sum

from accounts.models import User
from atlanset_portal.money import MoneySum
from compensation.selectors import best_employee_of_quarter
from deals.models import Payment

from .test_scenario import WORKED_EXAMPLE, lines, run_scenario, statement

# One hunter, one order of 10 000,00 costing 8 999,00, and a payment of 100,00 on it: its margin is
# 100 × 1 001 / 10 000 = 10,01 exactly, whole roubles throughout.
KOPECK_CASE = {
    **{key: copy.deepcopy(WORKED_EXAMPLE[key]) for key in ("scheme", "users")},
    "plans": [{"hunter": "ivanov", "month": "2026-03", "revenue": "100.00", "deals": 0}],
    "clients": [
        {
            "key": "c1",
            "name": "ООО «Ромашка»",
            "owner": "ivanov",
            "address": "Сургут, ул. Ленина, 1",
            "phones": ["+7 3462 00-00-01"],
            "created": "2026-03-01",
        }
    ],
    "deals": [
        {
            "key": "d1",
            "client": "c1",
            "owner": "ivanov",
            "created": "2026-03-02",
            "order": [{"product": "Гель 5 л", "quantity": 1, "price": "10000.00", "cost": "8999.00"}],
        }
    ],
    "payments": [{"deal": "d1", "amount": "100.00", "received_on": "2026-03-10"}],
}


def test_the_best_employees_margin_is_the_exact_margin_the_statement_counts(db, tmp_path):
    run_scenario(tmp_path, KOPECK_CASE)

    best = best_employee_of_quarter(date(2026, 1, 1))

    [plan_bonus] = lines(statement(), "plan_bonus")
    assert plan_bonus["base"] == "10.01"
    assert best.margin == Decimal("10.01")
    assert User.objects.get(pk=best.hunter_id).username == "ivanov"


def test_the_database_alone_gets_that_margin_wrong_by_a_kopeck_on_sqlite(db, tmp_path):
    """The case above is one the database's own arithmetic misses: the guard against going back to it."""
    run_scenario(tmp_path, KOPECK_CASE)

    in_sql = Payment.objects.aggregate(
        margin=Sum(
            F("amount") * (F("deal__order__total") - F("deal__order__cost_total")) / F("deal__order__total"),
            output_field=DecimalField(max_digits=20, decimal_places=6),
        )
    )["margin"]

    if connection.vendor == "sqlite":
        assert round(in_sql, 2) == Decimal("10.00")  # integer division: 100 100 // 10 000
    else:
        assert round(in_sql, 2) == Decimal("10.01")


def test_money_sums_are_added_in_kopecks(db, tmp_path):
    data = copy.deepcopy(KOPECK_CASE)
    data["payments"] = [
        {"deal": "d1", "amount": amount, "received_on": "2026-03-10"}
        for amount in ("0.10", "0.20", "1000.07")
    ]
    run_scenario(tmp_path, data)

    total = Payment.objects.aggregate(total=MoneySum("amount"))["total"]
    empty = Payment.objects.filter(amount__gt=10_000).aggregate(total=MoneySum("amount"))["total"]

    assert (total, str(total)) == (Decimal("1000.37"), "1000.37")
    assert str(empty) == "0.00"
