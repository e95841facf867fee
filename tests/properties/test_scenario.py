"""Issue 8 "Bad input": scenario files (shared/scenario-format.md) with anything in them.

load_scenario_file gives the JSON or a ScenarioError in Russian; import_scenario imports a file whole,
every stored value valid, or refuses it with a Russian message naming the entry and stores nothing.
"""

import copy
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from compensation.models import PaySchemeVersion
from compensation.scenario import SECTIONS, ScenarioError, import_scenario, load_scenario_file
from deals.models import Deal
from deals.stages import Stage
from tests.properties.support import (
    assert_clear_russian,
    date_text,
    datetime_text,
    money_text,
    nasty_text,
    number_text,
    production_problems,
    rolled_back,
    row_counts,
)

# Examples per property (hypothesis max_examples).
LOAD_EXAMPLES = 100
IMPORT_EXAMPLES = 60

WORKED_EXAMPLE = json.loads(
    (Path(__file__).parents[1] / "compensation" / "scenarios" / "worked_example.json").read_text(
        encoding="utf-8"
    )
)
# The worked example plus one entry in each section it leaves empty, so that every section is exercised.
BASE = {
    **copy.deepcopy(WORKED_EXAMPLE),
    "refunds": [{"deal": "d1", "amount": "100.00", "recorded_on": "2026-03-25"}],
    "expenses": [
        {
            "hunter": "ivanov",
            "amount": "1200",
            "approved_amount": "1000",
            "approved_on": "2026-03-10",
            "note": "Такси",
        }
    ],
    "statement_locks": [{"month": "2026-01", "locked_on": "2026-02-03"}],
}
# Every table an import writes to (histories included): all must be as before after a refusal.
TOUCHED_MODELS = [
    model
    for label in ("accounts", "deals", "kpi", "compensation", "notifications")
    for model in apps.get_app_config(label).get_models()
]


# --- loading ----------------------------------------------------------------------------------------------

json_value = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(10**20), max_value=10**20) | st.floats() | nasty_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(nasty_text, inner, max_size=3),
    max_leaves=8,
)
WORKED_TEXT = json.dumps(BASE, ensure_ascii=False, indent=2)


@st.composite
def damaged_text(draw) -> str:
    text = draw(st.sampled_from([WORKED_TEXT, json.dumps(BASE)]))
    at = draw(st.integers(min_value=0, max_value=len(text)))
    how = draw(st.sampled_from(["cut", "insert", "delete"]))
    if how == "cut":
        return text[:at]
    if how == "insert":
        return text[:at] + draw(st.sampled_from([*',:{}[]"\\', "\x00", "NaN", "'", "\ufeff"])) + text[at:]
    return text[:at] + text[at + 1 :]


@settings(max_examples=LOAD_EXAMPLES, deadline=None)
@given(text=st.one_of(nasty_text, json_value.map(json.dumps), damaged_text()))
@example(text="")
@example(text="\ufeff{}")
def test_any_text_is_read_as_json_or_refused_in_russian(text):
    try:
        load_scenario_file(text)
    except ScenarioError as error:
        for message in error.messages:
            assert_clear_russian(message)


@pytest.mark.parametrize(
    "text", ["[" * 100_000, '{"plans": [{"deals": ' + "9" * 5000 + "}]}"], ids=["deep", "long int"]
)
def test_json_that_python_cannot_hold_is_refused_in_russian(text):
    with pytest.raises(ScenarioError) as refused:
        load_scenario_file(text)
    assert_clear_russian(refused.value.messages[0])


# --- importing --------------------------------------------------------------------------------------------


def leaf_paths(value: Any, path: tuple = ()) -> list[tuple]:
    """Every field of the base scenario as a path of keys and indexes: ("deals", 0, "order", 0, "price")."""
    if isinstance(value, dict):
        items = list(value.items())
    elif isinstance(value, list):
        items = list(enumerate(value))
    else:
        return []
    return [found for key, item in items for found in [(*path, key), *leaf_paths(item, (*path, key))]]


PATHS = sorted(leaf_paths(BASE), key=str)
MONEY_FIELDS = {"amount", "approved_amount", "price", "cost", "quantity", "revenue", "pool", "fixed_amount"}
RATE_FIELDS = {"new_client_rate", "existing_client_rate", "margin_bonus_rate", "accelerator_multiplier"}
DATE_FIELDS = {"created", "received_on", "recorded_on", "approved_on", "locked_on", "effective_from"}
COUNT_FIELDS = {"deals", "leads", "calls", "meetings", "messages", "count", "duration_s"}


def near_valid(field: object) -> st.SearchStrategy:
    """Values of the field's own kind, right or wrong, beside values of any type."""
    if field in MONEY_FIELDS or field in RATE_FIELDS:
        kind = st.one_of(money_text, st.decimals(allow_nan=False, places=3).map(str), st.integers(-5, 10**6))
    elif field in DATE_FIELDS:
        kind = date_text
    elif field == "at":
        kind = datetime_text
    elif field in COUNT_FIELDS:
        kind = st.one_of(st.integers(-3, 10**6), number_text)
    elif field in ("month", "quarter"):
        kind = st.one_of(st.from_regex(r"\A[0-9]{1,5}-(Q?[0-9]{1,2})\Z"), nasty_text)
    elif field in ("hunter", "owner", "deal", "client", "key", "username"):
        kind = st.sampled_from(["ivanov", "head", "buh", "c1", "c2", "d1", "d2", "nobody"])
    else:
        kind = nasty_text
    return st.one_of(kind, json_value)


def set_path(data: dict, path: tuple, value: object) -> None:
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value


def delete_path(data: dict, path: tuple) -> None:
    target = data
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]


DELETED = object()
WHOLE_FILE_REFUSALS = ("Неизвестные разделы", "Файл сценария")


@st.composite
def broken_scenario(draw) -> tuple[dict, tuple, object]:
    """(the base scenario with one thing broken, the path broken, the value put there or DELETED)."""
    data = copy.deepcopy(BASE)
    how = draw(st.sampled_from(["field", "field", "field", "delete", "entry", "section", "unknown section"]))
    if how == "unknown section":
        data[draw(nasty_text.filter(lambda name: name not in SECTIONS))] = draw(json_value)
        return data, (), None
    if how == "section":
        section = draw(st.sampled_from(SECTIONS))
        value = draw(json_value)
        data[section] = value
        return data, (section,), value
    paths = [path for path in PATHS if (len(path) == 2 and isinstance(path[1], int)) == (how == "entry")]
    path = draw(st.sampled_from(paths))
    if how == "delete":
        delete_path(data, path)
        return data, path, DELETED
    value = draw(json_value if how == "entry" else near_valid(path[-1]))
    set_path(data, path, value)
    return data, path, value


def broken_import(data: dict) -> BaseException | None:
    try:
        import_scenario(data)
    except ScenarioError as error:
        return error
    return None


@pytest.mark.django_db
@settings(
    max_examples=IMPORT_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much],
)
@given(broken=broken_scenario())
def test_a_broken_scenario_is_imported_whole_and_valid_or_refused_in_russian_with_nothing_stored(broken):
    data, path, value = broken
    event(f"broken: {path[0] if path else 'new section'}")
    with rolled_back():
        before = row_counts(*TOUCHED_MODELS)
        refusal = broken_import(data)

        if refusal is not None:
            assert row_counts(*TOUCHED_MODELS) == before, "a refused scenario left rows behind"
            [message] = refusal.messages
            entry = re.split(r"[:\[.]", message, maxsplit=1)[0]
            assert entry in SECTIONS or message.startswith(WHOLE_FILE_REFUSALS), f"no entry named: {message}"
            echoed = [] if value is DELETED else [str(value), json.dumps(value, ensure_ascii=False)]
            told = message.removeprefix(entry) if entry in SECTIONS else message
            assert_clear_russian(told, echoed=[*echoed, *map(str, path)])
            event("refused")
            return
        event("imported")
        assert not Deal.objects.exclude(stage__in=Stage.values).exists()
        for model in TOUCHED_MODELS:
            for row in model._default_manager.all():
                assert production_problems(row) == [], (
                    f"{model._meta.label} stored {production_problems(row)}"
                )


# --- cases the properties found: each refused with a Russian message naming the entry, nothing stored ---


def scenario_with(*changes: tuple[tuple, object]) -> dict:
    data = copy.deepcopy(BASE)
    for path, value in changes:
        set_path(data, path, value)
    return data


def assert_refused(data: dict, entry: str) -> None:
    before = row_counts(*TOUCHED_MODELS)
    with pytest.raises(ScenarioError) as refused:
        import_scenario(data)
    assert row_counts(*TOUCHED_MODELS) == before
    [message] = refused.value.messages
    assert message.startswith(entry), message
    assert_clear_russian(message.removeprefix(entry))


@pytest.mark.django_db
@pytest.mark.parametrize(
    "changes",
    [
        [(("plans", 0, "deals"), "два")],
        [(("plans", 0, "deals"), None)],
        [(("plans", 0, "kpi"), [1, 2])],
        [(("plans", 0, "kpi", "calls"), -5)],
        [(("plans", 0, "deals"), 10**12)],
    ],
    ids=["text", "null", "kpi list", "negative", "huge"],
)
def test_plan_numbers_that_are_not_counts_are_refused(changes):
    assert_refused(scenario_with(*changes), "plans[0]")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "changes, entry",
    [
        ([(("users", 0, "role"), ["hunter"])], "users[0]"),
        ([(("plans", 0, "hunter"), ["ivanov"])], "plans[0]"),
        ([(("clients", 0, "owner"), {"username": "ivanov"})], "clients[0]"),
    ],
    ids=["role", "hunter", "owner"],
)
def test_a_list_or_object_where_a_name_belongs_is_refused(changes, entry):
    assert_refused(scenario_with(*changes), entry)


@pytest.mark.django_db
def test_an_order_that_is_not_a_list_is_refused():
    assert_refused(scenario_with((("deals", 0, "order"), 5)), "deals[0]")


@pytest.mark.django_db
@pytest.mark.parametrize("stage", ["nonsense", ["closed"]])
def test_an_unknown_deal_stage_is_refused(stage):
    assert_refused(scenario_with((("deals", 0, "stage"), stage)), "deals[0]")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "changes, entry",
    [
        ([(("payments", 0, "amount"), "1e30")], "payments[0]"),
        ([(("payments", 0, "amount"), "0.001")], "payments[0]"),
        (
            [(("deals", 0, "order", 0, "quantity"), "1e10"), (("deals", 0, "order", 0, "price"), "1e10")],
            "deals[0]",
        ),
        ([(("plans", 0, "revenue"), "1e20")], "plans[0]"),
        ([(("department_plans", 0, "pool"), "1e20")], "department_plans[0]"),
        ([(("scheme", "fixed_amount"), "1e30")], "scheme[0]"),
        ([(("scheme", "new_client_rate"), "5000")], "scheme[0]"),
        ([(("deals", 0, "order", 0, "cost"), "-1")], "deals[0]"),
    ],
    ids=[
        "payment huge",
        "payment rounds to zero",
        "order total",
        "plan",
        "pool",
        "fixed",
        "rate",
        "negative cost",
    ],
)
def test_amounts_the_money_columns_cannot_hold_are_refused(changes, entry):
    assert_refused(scenario_with(*changes), entry)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "changes, entry",
    [
        ([(("plans", 0, "revenue"), "-1")], "plans[0]"),
        ([(("department_plans", 0, "revenue"), "-1")], "department_plans[0]"),
        ([(("scheme", "accelerator"), "turbo")], "scheme[0]"),
        ([(("scheme", "margin_bonus_rate"), "-0.1")], "scheme[0]"),
        ([(("scheme", "accelerator_multiplier"), "0.5")], "scheme[0]"),
    ],
    ids=["plan", "department plan", "accelerator", "rate", "multiplier below 1"],
)
def test_values_the_services_refuse_come_back_as_a_scenario_error(changes, entry):
    assert_refused(scenario_with(*changes), entry)


@pytest.mark.django_db
@pytest.mark.parametrize("at", ["9999-12-31T23:00-05:00", "0001-01-01T00:00"])
def test_an_activity_time_no_database_can_hold_is_refused(at):
    assert_refused(scenario_with((("activities", 0, "at"), at)), "activities[0]")


@pytest.mark.django_db
@pytest.mark.parametrize("field, value", [("count", 10**9), ("duration_s", 10**12)])
def test_an_activity_count_or_talk_time_beyond_reason_is_refused(monkeypatch, field, value):
    from compensation import scenario

    real = scenario.kpi_services.activities_import

    def activities_import(**kwargs):
        assert kwargs["count"] <= 10_000, f"asked to create {kwargs['count']} activities at once"
        return real(**kwargs)

    monkeypatch.setattr(scenario.kpi_services, "activities_import", activities_import)
    assert_refused(scenario_with((("activities", 0, field), value)), "activities[0]")


@pytest.mark.django_db
def test_phones_that_are_not_strings_are_refused():
    assert_refused(scenario_with((("clients", 0, "phones"), [83462000002])), "clients[0]")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "changes, entry",
    [
        ([(("payments", 0, "bank_document"), "п/п " + "1" * 60)], "payments[0]"),
        ([(("clients", 2, "key"), "k" * 150)], "clients[2]"),
        ([(("deals", 0, "order", 0, "product"), "Мыло " * 50)], "deals[0]"),
        ([(("deals", 0, "order", 0, "product"), "Мыло\x00")], "deals[0]"),
        ([(("clients", 0, "name"), "ИП\x00Сидоров")], "clients[0]"),
    ],
    ids=["bank document", "client key", "product", "NUL in product", "NUL in client name"],
)
def test_strings_longer_than_their_columns_or_holding_nul_are_refused(changes, entry):
    assert_refused(scenario_with(*changes), entry)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "changes, entry",
    [
        ([(("payments", 0, "received_on"), "2025-12-01")], "payments[0]"),
        ([(("deals", 0, "created"), "2025-12-01")], "deals[0]"),
    ],
    ids=["payment before deal", "deal before client"],
)
def test_an_event_before_its_deal_is_refused(changes, entry):
    assert_refused(scenario_with(*changes), entry)


@pytest.mark.django_db
def test_a_lone_surrogate_in_the_file_is_refused():
    text = WORKED_TEXT.replace('"ИП Сидоров"', '"ИП \\ud800"')
    before = row_counts(*TOUCHED_MODELS)
    with pytest.raises(ScenarioError):
        import_scenario(load_scenario_file(text))
    assert row_counts(*TOUCHED_MODELS) == before


@pytest.mark.django_db
def test_a_scheme_without_a_rate_takes_the_default_rate():
    data = scenario_with()
    del data["scheme"]["existing_client_rate"]
    import_scenario(data)
    assert PaySchemeVersion.objects.get().existing_client_rate == Decimal("0.025")
