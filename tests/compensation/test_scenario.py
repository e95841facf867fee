"""import_scenario and statement exactly as shared/scenario-format.md defines them."""

import copy
import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from accounts.models import User
from deals.models import Client, Deal, Payment

SCENARIOS = Path(__file__).parent / "scenarios"
WORKED_EXAMPLE = json.loads((SCENARIOS / "worked_example.json").read_text(encoding="utf-8"))


def run_scenario(tmp_path, data) -> None:
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    call_command("import_scenario", str(path), stdout=StringIO())


def statement(hunter="ivanov", month="2026-03") -> dict:
    out = StringIO()
    call_command("statement", hunter=hunter, month=month, format="json", stdout=out)
    return json.loads(out.getvalue())


def lines(data: dict, kind: str) -> list[dict]:
    return [line for line in data["lines"] if line["kind"] == kind]


def test_worked_example_prints_exactly_the_statement_of_the_format(db, tmp_path):
    run_scenario(tmp_path, WORKED_EXAMPLE)
    expected = json.loads((SCENARIOS / "worked_example_statement.json").read_text(encoding="utf-8"))
    assert statement() == expected
    assert statement()["total"] == "38000.00"


def test_invalid_file_is_refused_naming_entry_and_field_and_nothing_is_imported(db, tmp_path):
    data = copy.deepcopy(WORKED_EXAMPLE)
    data["payments"][2]["amount"] = "сто тысяч"
    with pytest.raises(CommandError, match=r"payments\[2\]\.amount"):
        run_scenario(tmp_path, data)
    assert not User.objects.filter(username="ivanov").exists()
    assert not Client.objects.exists()


def test_a_failure_late_in_the_replay_rolls_everything_back(db, tmp_path):
    data = copy.deepcopy(WORKED_EXAMPLE)
    data["clients"][2]["phones"] = data["clients"][0]["phones"]  # a duplicate card on 2 March
    with pytest.raises(CommandError, match=r"clients\[2\].*уже есть в базе"):
        run_scenario(tmp_path, data)
    assert not Deal.objects.exists() and not Payment.objects.exists()


def test_unknown_client_of_a_deal_is_named(db, tmp_path):
    data = copy.deepcopy(WORKED_EXAMPLE)
    data["deals"][1]["client"] = "c9"
    with pytest.raises(CommandError, match=r"deals\[1\]\.client: неизвестный клиент «c9»"):
        run_scenario(tmp_path, data)


def test_payment_recorded_after_its_month_was_locked_accrues_late_in_the_first_open_month(db, tmp_path):
    data = copy.deepcopy(WORKED_EXAMPLE)
    data["statement_locks"] = [{"month": "2026-03", "locked_on": "2026-04-02"}]
    data["deals"].append(
        {
            "key": "d3",
            "client": "c3",
            "owner": "ivanov",
            "created": "2026-03-10",
            "order": [{"product": "Обезжириватель 1 л", "quantity": 5, "price": "200.00", "cost": "120.00"}],
        }
    )
    data["payments"].append(
        {"deal": "d3", "amount": "1000.00", "received_on": "2026-03-30", "recorded_on": "2026-04-05"}
    )
    run_scenario(tmp_path, data)

    march = statement(month="2026-03")
    assert march["status"] == "locked"
    assert march["total"] == "38000.00"
    april = statement(month="2026-04")
    [late] = lines(april, "commission")
    assert late == {
        "kind": "commission",
        "deal": "d3",
        "client": "c3",
        "base": "1000.00",
        "rate": "0.05",
        "amount": "50.00",
        "accelerated": False,
        "late": True,
    }


def test_refund_takes_back_commission_at_the_deals_effective_rate(db, tmp_path):
    data = copy.deepcopy(WORKED_EXAMPLE)
    data["refunds"] = [{"deal": "d2", "amount": "30000.00", "recorded_on": "2026-04-10"}]
    run_scenario(tmp_path, data)
    april = statement(month="2026-04")
    [clawback] = lines(april, "commission")
    # d2 earned 5 000,00 on 150 000,00 paid: 30 000 × 5 000 / 150 000 = 1 000,00 back
    assert clawback["amount"] == "-1000.00"
    assert april["sales_plan"]["revenue"] == "-30000.00"


def test_department_bonus_is_split_equally_in_the_quarters_last_month(db, tmp_path):
    data = copy.deepcopy(WORKED_EXAMPLE)
    data["department_plans"] = [{"quarter": "2026-Q1", "revenue": "300000.00", "pool": "60000.00"}]
    data["users"].append(
        {"username": "petrov", "role": "hunter", "full_name": "Пётр Петров", "extension": "102"}
    )
    data["plans"].append({"hunter": "petrov", "month": "2026-02", "revenue": "100000.00", "deals": 1})
    run_scenario(tmp_path, data)
    [bonus] = lines(statement(), "department_bonus")
    assert bonus["amount"] == "30000.00"
    assert statement()["total"] == "68000.00"


def test_scheme_change_applies_from_its_month_and_never_rewrites_an_earlier_one(db, tmp_path):
    data = copy.deepcopy(WORKED_EXAMPLE)
    data["scheme"] = [
        WORKED_EXAMPLE["scheme"],
        {**WORKED_EXAMPLE["scheme"], "effective_from": "2026-04-01", "new_client_rate": "0.07"},
    ]
    data["deals"].append(
        {
            "key": "d3",
            "client": "c3",
            "owner": "ivanov",
            "created": "2026-03-10",
            "order": [{"product": "Обезжириватель 1 л", "quantity": 5, "price": "200.00", "cost": "120.00"}],
        }
    )
    data["payments"].append({"deal": "d3", "amount": "1000.00", "received_on": "2026-04-03"})
    run_scenario(tmp_path, data)
    assert statement(month="2026-03")["total"] == "38000.00"
    [april] = lines(statement(month="2026-04"), "commission")
    assert (april["rate"], april["amount"]) == ("0.07", "70.00")


def test_best_employee_of_the_quarter_has_the_most_recognised_margin(db, tmp_path):
    from datetime import date

    from compensation.selectors import best_employee_of_quarter

    run_scenario(tmp_path, WORKED_EXAMPLE)
    best = best_employee_of_quarter(date(2026, 1, 1))
    assert User.objects.get(pk=best.hunter_id).username == "ivanov"
    assert str(best.margin) == "133000.00"  # 80 000 + 50 000 in March and 3 000 on d0 in January


def test_department_bonus_by_revenue_share_and_inactive_hunters_get_none(db, tmp_path):
    data = copy.deepcopy(WORKED_EXAMPLE)
    data["department_plans"] = [
        {"quarter": "2026-Q1", "revenue": "300000.00", "pool": "60000.00", "split": "revenue_share"}
    ]
    data["users"] += [
        {"username": "petrov", "role": "hunter", "full_name": "Пётр Петров", "extension": "102"},
        {"username": "idle", "role": "hunter", "full_name": "Без плана", "extension": "103"},
    ]
    data["plans"].append({"hunter": "petrov", "month": "2026-03", "revenue": "100000.00", "deals": 1})
    data["clients"].append(
        {
            "key": "p1",
            "name": "ООО «Лотос-2»",
            "owner": "petrov",
            "address": "Сургут",
            "phones": ["+7 3462 00-00-09"],
            "created": "2026-03-01",
        }
    )
    data["deals"].append(
        {
            "key": "p1d",
            "client": "p1",
            "owner": "petrov",
            "created": "2026-03-02",
            "order": [{"product": "Гель 5 л", "quantity": 40, "price": "1000.00", "cost": "600.00"}],
        }
    )
    data["payments"].append({"deal": "p1d", "amount": "40000.00", "received_on": "2026-03-10"})
    run_scenario(tmp_path, data)

    # Q1 revenue of the active hunters: ivanov 360 000 (10 000 in January), petrov 40 000 → 90 % / 10 %
    [ivanov_bonus] = lines(statement("ivanov"), "department_bonus")
    [petrov_bonus] = lines(statement("petrov"), "department_bonus")
    assert (ivanov_bonus["amount"], petrov_bonus["amount"]) == ("54000.00", "6000.00")
    assert lines(statement("idle"), "department_bonus") == []


def test_department_bonus_needs_the_quarterly_target_reached(db, tmp_path):
    data = copy.deepcopy(WORKED_EXAMPLE)
    data["department_plans"] = [{"quarter": "2026-Q1", "revenue": "2400000.00", "pool": "60000.00"}]
    run_scenario(tmp_path, data)
    assert lines(statement(), "department_bonus") == []
    assert statement()["total"] == "38000.00"
