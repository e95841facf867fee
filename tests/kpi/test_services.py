"""Writes of kpi.services: manual activities, the monthly and quarterly plans, and the PBX call-log import.

Call logs are real CSV text read by ``read_call_log`` (the documented columns), so the import is checked
the way the sales head feeds it.
"""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import OperationalError

from accounts.roles import Role
from accounts.services import user_set_role
from compensation.changes import StatementLocked
from compensation.models import Statement
from compensation.statements import statement_for
from deals.models import Deal
from imports.models import ImportJob
from kpi import services as kpi_services
from kpi.counters import month_counters
from kpi.models import (
    Activity,
    ActivityKind,
    ActivitySource,
    CallDirection,
    CallRecord,
    DepartmentQuarterPlan,
    MonthlyPlan,
)
from kpi.services import (
    PlanRow,
    activity_log,
    call_log_import_enqueue,
    call_log_import_run,
    call_records_import,
    plans_copy_previous,
    plans_save,
    quarter_plan_save,
)
from kpi.telephony import read_call_log
from tests.deals.factories import make_client, make_deal
from tests.workflow import approve, close_month

from .factories import local, log_activity, make_hunter, set_plan

MARCH = date(2026, 3, 1)
APRIL = date(2026, 4, 1)
FOLLOW_UP_NEEDS_DATE = "Для дожима укажите дату следующего контакта."


# --- activity_log ------------------------------------------------------------------------------------


def test_a_follow_up_without_a_next_contact_date_is_refused_with_a_russian_message(hunter):
    client = make_client(acting_user=hunter)

    with pytest.raises(ValidationError) as error:
        activity_log(acting_user=hunter, kind=ActivityKind.FOLLOW_UP, client=client, outcome="Думают")

    assert error.value.message_dict == {"next_contact_on": [FOLLOW_UP_NEEDS_DATE]}
    assert not Activity.objects.exists()


def test_a_follow_up_with_a_next_contact_date_is_recorded_as_a_manual_activity_of_the_hunter(hunter):
    client = make_client(acting_user=hunter)

    activity = activity_log(
        acting_user=hunter,
        kind=ActivityKind.FOLLOW_UP,
        client=client,
        at=local(2026, 3, 3, 15),
        outcome="  Обещали решить до пятницы  ",
        note=" перезвонить директору ",
        next_contact_on=date(2026, 3, 6),
        entered_on=date(2026, 3, 3),
    )

    activity.refresh_from_db()
    assert activity.owner == hunter
    assert activity.client == client
    assert activity.source == ActivitySource.MANUAL
    assert activity.at == local(2026, 3, 3, 15)
    assert (activity.outcome, activity.note) == ("Обещали решить до пятницы", "перезвонить директору")
    assert activity.next_contact_on == date(2026, 3, 6)


def test_a_hunter_cannot_log_an_activity_on_another_hunters_client(hunter, other_hunter):
    foreign_client = make_client(acting_user=other_hunter)

    with pytest.raises(PermissionDenied):
        activity_log(acting_user=hunter, kind=ActivityKind.MEETING, client=foreign_client)

    assert not Activity.objects.exists()


@pytest.mark.parametrize("role_fixture", ["accountant", "production"])
def test_users_who_do_not_work_the_pipeline_cannot_log_activities(request, hunter, role_fixture):
    client = make_client(acting_user=hunter)
    user = request.getfixturevalue(role_fixture)

    with pytest.raises(PermissionDenied):
        activity_log(acting_user=user, kind=ActivityKind.MEETING, client=client)


def test_the_sales_head_logs_on_a_hunters_client_in_the_hunters_name(hunter, sales_head):
    client = make_client(acting_user=hunter)

    activity = activity_log(acting_user=sales_head, kind=ActivityKind.MEETING, client=client)

    assert activity.owner == hunter


def test_the_deal_must_belong_to_the_client(hunter):
    client = make_client(acting_user=hunter)
    deal_of_another_client = make_deal(acting_user=hunter)

    with pytest.raises(ValidationError) as error:
        activity_log(
            acting_user=hunter,
            kind=ActivityKind.CALL,
            client=client,
            deal=deal_of_another_client,
            next_contact_on=date(2026, 12, 1),
        )

    assert error.value.message_dict == {"deal": ["Сделка относится к другому клиенту."]}
    assert not Activity.objects.exists()
    assert Deal.objects.get(pk=deal_of_another_client.pk).next_contact_on is None


def test_logging_with_a_deal_sets_the_deals_next_contact_date(hunter):
    deal = make_deal(acting_user=hunter)

    activity = activity_log(
        acting_user=hunter,
        kind=ActivityKind.FOLLOW_UP,
        client=deal.client,
        deal=deal,
        outcome="Ждут бюджет",
        next_contact_on=date(2026, 12, 10),
    )

    assert activity.deal == deal
    assert Deal.objects.get(pk=deal.pk).next_contact_on == date(2026, 12, 10)


def test_logging_with_a_deal_but_no_next_contact_date_keeps_the_deals_date(hunter):
    deal = make_deal(acting_user=hunter)
    activity_log(
        acting_user=hunter,
        kind=ActivityKind.CALL,
        client=deal.client,
        deal=deal,
        next_contact_on=date(2026, 12, 10),
    )

    activity_log(acting_user=hunter, kind=ActivityKind.MESSAGE, client=deal.client, deal=deal)

    assert Deal.objects.get(pk=deal.pk).next_contact_on == date(2026, 12, 10)


# --- plans_save --------------------------------------------------------------------------------------


TARGETS = {
    "revenue_target": Decimal("150000.00"),
    "deals_target": 5,
    "leads_target": 30,
    "calls_target": 400,
    "meetings_target": 10,
    "messages_target": 60,
}


def targets_of(plan: MonthlyPlan) -> dict:
    return {name: getattr(plan, name) for name in TARGETS}


def test_plans_save_stores_all_six_targets_for_every_hunter_of_the_grid(sales_head, hunter, other_hunter):
    other_targets = {**TARGETS, "calls_target": 250, "revenue_target": Decimal("90000.50")}

    plans_save(
        acting_user=sales_head,
        month=date(2026, 3, 17),
        rows=[PlanRow(hunter=hunter, **TARGETS), PlanRow(hunter=other_hunter, **other_targets)],
    )

    mine = MonthlyPlan.objects.get(hunter=hunter)
    theirs = MonthlyPlan.objects.get(hunter=other_hunter)
    assert mine.month == theirs.month == MARCH
    assert targets_of(mine) == TARGETS
    assert targets_of(theirs) == other_targets
    assert mine.set_by == sales_head


def test_saving_the_grid_again_updates_the_months_plan_instead_of_adding_one(sales_head, hunter):
    plans_save(acting_user=sales_head, month=MARCH, rows=[PlanRow(hunter=hunter, **TARGETS)])
    plans_save(
        acting_user=sales_head, month=MARCH, rows=[PlanRow(hunter=hunter, **{**TARGETS, "calls_target": 1})]
    )

    assert MonthlyPlan.objects.filter(hunter=hunter).count() == 1
    assert MonthlyPlan.objects.get(hunter=hunter).calls_target == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("revenue_target", Decimal("-0.01")),
        ("deals_target", -1),
        ("calls_target", -5),
        ("leads_target", None),
    ],
)
def test_negative_or_missing_targets_are_refused_and_nothing_of_the_grid_is_saved(
    sales_head, hunter, other_hunter, field, value
):
    with pytest.raises(ValidationError) as error:
        plans_save(
            acting_user=sales_head,
            month=MARCH,
            rows=[
                PlanRow(hunter=hunter, **TARGETS),
                PlanRow(hunter=other_hunter, **{**TARGETS, field: value}),
            ],
        )

    assert error.value.messages == ["Плановые значения не могут быть отрицательными."]
    assert not MonthlyPlan.objects.exists()


@pytest.mark.parametrize("role_fixture", ["sales_head", "accountant", "production"])
def test_a_plan_is_set_for_hunters_only(request, sales_head, role_fixture):
    not_a_hunter = request.getfixturevalue(role_fixture)

    with pytest.raises(ValidationError) as error:
        plans_save(acting_user=sales_head, month=MARCH, rows=[PlanRow(hunter=not_a_hunter, **TARGETS)])

    assert error.value.messages == ["План ставится только хантеру."]
    assert not MonthlyPlan.objects.exists()


@pytest.mark.parametrize("role_fixture", ["hunter", "accountant", "production"])
def test_only_the_sales_head_may_save_plans(request, hunter, role_fixture):
    user = request.getfixturevalue(role_fixture)

    with pytest.raises(PermissionDenied):
        plans_save(acting_user=user, month=MARCH, rows=[PlanRow(hunter=hunter, **TARGETS)])

    assert not MonthlyPlan.objects.exists()


def test_a_hunter_left_out_of_the_grid_keeps_no_plan_and_one_with_a_plan_keeps_it(
    sales_head, hunter, other_hunter
):
    set_plan(sales_head, other_hunter, MARCH, **TARGETS)

    plans_save(acting_user=sales_head, month=MARCH, rows=[PlanRow(hunter=hunter, **TARGETS)])

    assert targets_of(MonthlyPlan.objects.get(hunter=other_hunter, month=MARCH)) == TARGETS
    assert MonthlyPlan.objects.filter(month=MARCH).count() == 2
    plans_save(acting_user=sales_head, month=APRIL, rows=[])
    assert not MonthlyPlan.objects.filter(month=APRIL).exists()


def test_a_plan_of_zeros_is_stored_as_a_plan(sales_head, hunter):
    zeros = dict.fromkeys(TARGETS, 0)

    [plan] = plans_save(acting_user=sales_head, month=MARCH, rows=[PlanRow(hunter=hunter, **zeros)])

    assert targets_of(MonthlyPlan.objects.get(pk=plan.pk)) == zeros


def test_clearing_takes_the_hunters_plan_back_and_leaves_the_others(sales_head, hunter, other_hunter):
    set_plan(sales_head, hunter, MARCH, **TARGETS)
    set_plan(sales_head, other_hunter, MARCH, **TARGETS)

    plans_save(acting_user=sales_head, month=date(2026, 3, 9), rows=[], cleared=[hunter])

    assert not MonthlyPlan.objects.filter(hunter=hunter).exists()
    assert targets_of(MonthlyPlan.objects.get(hunter=other_hunter)) == TARGETS
    removal = MonthlyPlan.history.filter(hunter_id=hunter.pk).latest("history_date")
    assert (removal.history_type, removal.history_user) == ("-", sales_head)


def test_clearing_a_hunter_without_a_plan_changes_nothing(sales_head, hunter):
    assert plans_save(acting_user=sales_head, month=MARCH, rows=[], cleared=[hunter]) == []
    assert not MonthlyPlan.history.exists()


def test_clearing_the_plan_of_an_approved_month_sends_its_statement_back_to_draft(sales_head, hunter):
    set_plan(
        sales_head,
        hunter,
        MARCH,
        **{**TARGETS, "leads_target": 0, "calls_target": 0, "meetings_target": 0, "messages_target": 1},
    )
    log_activity(hunter, ActivityKind.MESSAGE, at=local(2026, 3, 10))
    record = approve(hunter, MARCH, head=sales_head)
    assert record.approved_total == Decimal("10000.00")  # the fixed part of a met KPI plan

    plans_save(acting_user=sales_head, month=MARCH, rows=[], cleared=[hunter])

    statement = statement_for(hunter=hunter, month=MARCH)
    assert statement.status == Statement.Status.DRAFT
    assert statement.record.changed_after_approval
    assert statement.total == Decimal("0.00")


def test_clearing_the_plan_of_a_locked_month_is_refused_and_the_plan_stays(sales_head, hunter, other_hunter):
    set_plan(sales_head, hunter, MARCH, **TARGETS)
    set_plan(sales_head, other_hunter, MARCH, **TARGETS)
    close_month(hunter, MARCH, head=sales_head)

    with pytest.raises(StatementLocked) as error:
        plans_save(acting_user=sales_head, month=MARCH, rows=[], cleared=[other_hunter, hunter])

    assert error.value.messages == [
        "Расчётный лист за март 2026 закрыт: исправления — корректировкой в открытом месяце."
    ]
    assert MonthlyPlan.objects.filter(month=MARCH).count() == 2  # the other hunter's plan stays too


def test_a_hunter_is_not_both_given_a_plan_and_cleared_in_one_save(sales_head, hunter):
    set_plan(sales_head, hunter, MARCH, **TARGETS)

    with pytest.raises(ValidationError):
        plans_save(
            acting_user=sales_head,
            month=MARCH,
            rows=[PlanRow(hunter=hunter, **{**TARGETS, "calls_target": 1})],
            cleared=[hunter],
        )

    assert targets_of(MonthlyPlan.objects.get(hunter=hunter)) == TARGETS


@pytest.mark.parametrize("role_fixture", ["hunter", "accountant"])
def test_only_the_sales_head_may_clear_plans(request, sales_head, hunter, role_fixture):
    set_plan(sales_head, hunter, MARCH, **TARGETS)

    with pytest.raises(PermissionDenied):
        plans_save(acting_user=request.getfixturevalue(role_fixture), month=MARCH, rows=[], cleared=[hunter])

    assert MonthlyPlan.objects.filter(hunter=hunter, month=MARCH).exists()


# --- plans_copy_previous -----------------------------------------------------------------------------


def test_copying_last_month_copies_all_six_targets(sales_head, hunter):
    set_plan(sales_head, hunter, MARCH, **TARGETS)

    copied = plans_copy_previous(acting_user=sales_head, month=APRIL)

    assert copied == 1
    april = MonthlyPlan.objects.get(hunter=hunter, month=APRIL)
    assert targets_of(april) == TARGETS
    assert april.set_by == sales_head


def test_copying_only_fills_hunters_without_a_plan_and_keeps_existing_ones(sales_head, hunter, other_hunter):
    set_plan(sales_head, hunter, MARCH, **TARGETS)
    set_plan(sales_head, other_hunter, MARCH, **TARGETS)
    set_plan(sales_head, other_hunter, APRIL, **{**TARGETS, "calls_target": 7})

    copied = plans_copy_previous(acting_user=sales_head, month=date(2026, 4, 20))

    assert copied == 1
    assert MonthlyPlan.objects.get(hunter=hunter, month=APRIL).calls_target == 400
    assert MonthlyPlan.objects.get(hunter=other_hunter, month=APRIL).calls_target == 7
    assert MonthlyPlan.objects.filter(month=APRIL).count() == 2


def test_copying_twice_copies_nothing_the_second_time(sales_head, hunter):
    set_plan(sales_head, hunter, MARCH, **TARGETS)
    plans_copy_previous(acting_user=sales_head, month=APRIL)

    assert plans_copy_previous(acting_user=sales_head, month=APRIL) == 0
    assert MonthlyPlan.objects.filter(month=APRIL).count() == 1


def test_copying_skips_hunters_who_have_left(sales_head, hunter, other_hunter):
    set_plan(sales_head, hunter, MARCH, **TARGETS)
    set_plan(sales_head, other_hunter, MARCH, **TARGETS)
    other_hunter.is_active = False
    other_hunter.save(update_fields=["is_active"])

    assert plans_copy_previous(acting_user=sales_head, month=APRIL) == 1
    assert list(MonthlyPlan.objects.filter(month=APRIL).values_list("hunter", flat=True)) == [hunter.pk]


def test_copying_skips_people_who_are_no_longer_hunters(sales_head, hunter, other_hunter):
    set_plan(sales_head, hunter, MARCH, **TARGETS)
    set_plan(sales_head, other_hunter, MARCH, **TARGETS)
    user_set_role(user=other_hunter, role=Role.SALES_HEAD)  # promoted: plans are set for hunters only

    assert plans_copy_previous(acting_user=sales_head, month=APRIL) == 1
    assert list(MonthlyPlan.objects.filter(month=APRIL).values_list("hunter", flat=True)) == [hunter.pk]


def test_copying_with_no_plans_last_month_copies_nothing(sales_head, hunter):
    set_plan(sales_head, hunter, date(2026, 1, 1), **TARGETS)  # two months back does not count

    assert plans_copy_previous(acting_user=sales_head, month=MARCH) == 0
    assert not MonthlyPlan.objects.filter(month=MARCH).exists()


def test_copying_across_new_year_takes_december(sales_head, hunter):
    set_plan(sales_head, hunter, date(2025, 12, 1), **TARGETS)

    assert plans_copy_previous(acting_user=sales_head, month=date(2026, 1, 1)) == 1
    assert targets_of(MonthlyPlan.objects.get(month=date(2026, 1, 1))) == TARGETS


@pytest.mark.parametrize("role_fixture", ["hunter", "accountant"])
def test_only_the_sales_head_may_copy_plans(request, sales_head, hunter, role_fixture):
    set_plan(sales_head, hunter, MARCH, **TARGETS)

    with pytest.raises(PermissionDenied):
        plans_copy_previous(acting_user=request.getfixturevalue(role_fixture), month=APRIL)

    assert not MonthlyPlan.objects.filter(month=APRIL).exists()


# --- quarter_plan_save -------------------------------------------------------------------------------


def test_the_quarter_plan_is_stored_for_the_quarter_containing_the_given_day(sales_head):
    plan = quarter_plan_save(
        acting_user=sales_head,
        quarter=date(2026, 5, 17),
        revenue_target=Decimal("3000000.00"),
        bonus_pool=Decimal("150000.00"),
        split=DepartmentQuarterPlan.Split.REVENUE_SHARE,
    )

    plan.refresh_from_db()
    assert plan.quarter_start == date(2026, 4, 1)
    assert (plan.revenue_target, plan.bonus_pool) == (Decimal("3000000.00"), Decimal("150000.00"))
    assert plan.split == DepartmentQuarterPlan.Split.REVENUE_SHARE
    assert plan.set_by == sales_head


def test_saving_the_quarter_plan_again_updates_it(sales_head):
    quarter_plan_save(
        acting_user=sales_head, quarter=date(2026, 4, 1), revenue_target=Decimal("1"), bonus_pool=Decimal("1")
    )
    quarter_plan_save(
        acting_user=sales_head,
        quarter=date(2026, 6, 30),
        revenue_target=Decimal("2000000"),
        bonus_pool=Decimal("0"),
    )

    [plan] = DepartmentQuarterPlan.objects.all()
    assert (plan.revenue_target, plan.bonus_pool, plan.split) == (Decimal("2000000.00"), Decimal("0.00"), "")


@pytest.mark.parametrize(
    ("revenue_target", "bonus_pool"), [(Decimal("-1"), Decimal("100")), (Decimal("100"), Decimal("-0.01"))]
)
def test_a_negative_quarter_target_or_pool_is_refused(sales_head, revenue_target, bonus_pool):
    with pytest.raises(ValidationError) as error:
        quarter_plan_save(
            acting_user=sales_head, quarter=APRIL, revenue_target=revenue_target, bonus_pool=bonus_pool
        )

    assert error.value.messages == ["План и фонд не могут быть отрицательными."]
    assert not DepartmentQuarterPlan.objects.exists()


def test_a_hunter_cannot_set_the_quarter_plan(hunter):
    with pytest.raises(PermissionDenied):
        quarter_plan_save(
            acting_user=hunter, quarter=APRIL, revenue_target=Decimal("1"), bonus_pool=Decimal("1")
        )


# --- call_records_import -----------------------------------------------------------------------------

HEADER = "call_id;started_at;extension;other_number;direction;duration_s;recording_url"


def call_log(*lines: str) -> list:
    log = read_call_log("\r\n".join([HEADER, *lines]).encode("utf-8"), "calls.csv")
    assert log.errors == []
    return log.rows


def calls_in_march(user) -> int:
    return month_counters(month=MARCH, hunter_ids=[user.pk])[user.pk].calls


def test_a_call_is_matched_to_the_hunter_by_extension_and_to_the_client_by_normalised_phone(hunter):
    client = make_client(acting_user=hunter, phones=["+7 912 345-67-89"])
    rows = call_log(
        "c-1;2026-03-03 11:00:00;101;8 (912) 345-67-89;outgoing;125;https://pbx.example.ru/r/1.wav"
    )

    result = call_records_import(rows=rows)

    assert (result.created, result.already_imported, result.without_hunter, result.without_client) == (
        1,
        0,
        [],
        0,
    )
    record = CallRecord.objects.get(external_id="c-1")
    assert (record.hunter, record.client, record.other_number) == (hunter, client, "+79123456789")
    assert record.recording_url == "https://pbx.example.ru/r/1.wav"
    activity = record.activity
    assert activity.owner == hunter
    assert activity.client == client
    assert (activity.kind, activity.source, activity.direction) == (
        ActivityKind.CALL,
        ActivitySource.TELEPHONY,
        CallDirection.OUTGOING,
    )
    assert activity.duration_s == 125
    assert activity.at == datetime(2026, 3, 3, 6, 0, tzinfo=UTC)  # 11:00 in Yekaterinburg
    assert calls_in_march(hunter) == 1


def test_a_row_with_an_unknown_extension_is_reported_and_creates_no_activity(hunter):
    rows = call_log(
        "c-1;2026-03-03 11:00:00;555;+79123456789;outgoing;60;",
        "c-2;2026-03-03 11:05:00;101;+79123456780;outgoing;60;",
    )

    result = call_records_import(rows=rows)

    assert [row.external_id for row in result.without_hunter] == ["c-1"]
    assert result.without_hunter[0].extension == "555"
    unmatched = CallRecord.objects.get(external_id="c-1")
    assert (unmatched.hunter, unmatched.activity) == (None, None)
    assert Activity.objects.count() == 1
    assert Activity.objects.get().call_record.external_id == "c-2"


def test_an_extension_of_a_user_who_is_not_a_hunter_matches_no_hunter(hunter, sales_head):
    sales_head.extension = "150"
    sales_head.save(update_fields=["extension"])

    result = call_records_import(rows=call_log("c-1;2026-03-03 11:00:00;150;+79123456789;outgoing;60;"))

    assert len(result.without_hunter) == 1
    assert not Activity.objects.exists()


def test_importing_the_same_rows_twice_creates_no_duplicates(hunter):
    make_client(acting_user=hunter, phones=["+79123456789"])
    rows = call_log(
        "c-1;2026-03-03 11:00:00;101;+79123456789;outgoing;60;",
        "c-2;2026-03-04 12:00:00;101;+79990001122;outgoing;45;",
        "c-3;2026-03-04 12:30:00;555;+79990001122;outgoing;45;",
    )
    call_records_import(rows=rows)

    again = call_records_import(rows=rows)

    assert (again.created, again.already_imported, again.without_hunter, again.without_client) == (
        0,
        3,
        [],
        0,
    )
    assert CallRecord.objects.count() == 3
    assert Activity.objects.count() == 2
    assert calls_in_march(hunter) == 2


def test_a_file_overlapping_an_earlier_import_adds_only_the_new_calls(hunter):
    call_records_import(rows=call_log("c-1;2026-03-03 11:00:00;101;+79123456789;outgoing;60;"))

    result = call_records_import(
        rows=call_log(
            "c-1;2026-03-03 11:00:00;101;+79123456789;outgoing;60;",
            "c-2;2026-03-05 11:00:00;101;+79123456789;outgoing;60;",
        )
    )

    assert (result.created, result.already_imported) == (1, 1)
    assert calls_in_march(hunter) == 2


def test_a_call_to_another_hunters_client_counts_for_the_caller_but_is_not_linked_to_that_client(
    hunter, other_hunter
):
    foreign_client = make_client(acting_user=other_hunter, phones=["+79123456789"])

    result = call_records_import(rows=call_log("c-1;2026-03-03 11:00:00;101;89123456789;outgoing;90;"))

    activity = CallRecord.objects.get(external_id="c-1").activity
    assert activity.owner == hunter
    assert activity.client is None
    assert not foreign_client.activities.exists()
    assert result.without_client == 0  # the number is in the base, just not the caller's
    assert calls_in_march(hunter) == 1
    assert calls_in_march(other_hunter) == 0


def test_a_call_to_a_number_not_in_the_base_still_counts_and_is_reported_without_client(hunter):
    result = call_records_import(rows=call_log("c-1;2026-03-03 11:00:00;101;+79990001122;outgoing;60;"))

    assert result.without_client == 1
    assert Activity.objects.get().client is None
    assert calls_in_march(hunter) == 1


def test_imported_calls_count_only_when_outgoing_and_long_enough(hunter, settings):
    settings.KPI_MIN_CALL_SECONDS = 30
    rows = call_log(
        "c-1;2026-03-03 11:00:00;101;+79990001122;outgoing;00:00:30;",
        "c-2;2026-03-03 11:10:00;101;+79990001122;исходящий;29;",
        "c-3;2026-03-03 11:20:00;101;+79990001122;incoming;600;",
        "c-4;2026-03-03 11:30:00;101;+79990001122;outgoing;;",
    )

    call_records_import(rows=rows)

    assert Activity.objects.count() == 4
    assert calls_in_march(hunter) == 1


def test_call_log_times_are_yekaterinburg_wall_clock_for_the_month_boundary(hunter):
    call_records_import(
        rows=call_log(
            "c-1;31.03.2026 23:30;101;+79990001122;outgoing;60;",
            "c-2;01.04.2026 00:30;101;+79990001122;outgoing;60;",
        )
    )

    both = (
        month_counters(month=MARCH, hunter_ids=[hunter.pk]),
        month_counters(month=APRIL, hunter_ids=[hunter.pk]),
    )
    assert [counters[hunter.pk].calls for counters in both] == [1, 1]
    assert CallRecord.objects.get(external_id="c-2").started_at == datetime(2026, 3, 31, 19, 30, tzinfo=UTC)


def test_each_hunter_gets_their_own_calls_from_one_file(hunter, other_hunter):
    third = make_hunter(extension="1001")

    call_records_import(
        rows=call_log(
            "c-1;2026-03-03 11:00:00;101;+79990001122;outgoing;60;",
            "c-2;2026-03-03 11:00:00;102;+79990001122;outgoing;60;",
            "c-3;2026-03-03 11:01:00;102;+79990001123;outgoing;60;",
            "c-4;2026-03-03 11:02:00;1001;+79990001124;outgoing;60;",
        )
    )

    counts = month_counters(month=MARCH, hunter_ids=[hunter.pk, other_hunter.pk, third.pk])
    assert [counts[user.pk].calls for user in (hunter, other_hunter, third)] == [1, 2, 1]


# --- the call-log import in the background ------------------------------------------------------------------


def queued_call_log_job(acting_user, *lines: str, capture) -> ImportJob:
    data = "\r\n".join([HEADER, *lines]).encode("utf-8")
    with capture(execute=False):  # queued: the test runs it
        return call_log_import_enqueue(acting_user=acting_user, data=data, file_name="calls.csv")


FIVE_CALLS = [f"c-{n};2026-03-0{n} 11:00:00;101;+7912345678{n};outgoing;60;" for n in range(1, 6)]


def test_a_call_log_job_stores_the_calls_chunk_by_chunk_with_its_progress(
    hunter, sales_head, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(kpi_services, "CALL_IMPORT_CHUNK", 2)
    job = queued_call_log_job(
        sales_head,
        *FIVE_CALLS,
        "c-9;когда-то;101;+79123456789;outgoing;60;",
        capture=django_capture_on_commit_callbacks,
    )
    seen = []
    real = kpi_services.call_records_import

    def recording(*, rows):
        seen.append((len(rows), ImportJob.objects.get(pk=job.pk).processed))
        return real(rows=rows)

    monkeypatch.setattr(kpi_services, "call_records_import", recording)

    call_log_import_run(job_id=job.pk)

    job.refresh_from_db()
    assert seen == [(2, 0), (2, 2), (1, 4)]  # each chunk commits with how far the job got
    assert (job.status, job.total, job.processed, job.attempts) == ("done", 5, 5, 1)
    assert (job.result["created"], job.result["error_count"]) == (5, 1)
    assert job.result["errors"] == [{"row": 7, "message": "не распознано время начала «когда-то»"}]
    assert CallRecord.objects.count() == 5 and calls_in_march(hunter) == 5


def test_an_interrupted_call_log_job_goes_on_from_its_last_stored_chunk(
    hunter, sales_head, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(kpi_services, "CALL_IMPORT_CHUNK", 2)
    job = queued_call_log_job(sales_head, *FIVE_CALLS, capture=django_capture_on_commit_callbacks)
    real = kpi_services.call_records_import
    calls = {"n": 0}

    def database_gone_on_the_second_chunk(*, rows):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OperationalError("server closed the connection unexpectedly")
        return real(rows=rows)

    monkeypatch.setattr(kpi_services, "call_records_import", database_gone_on_the_second_chunk)
    with pytest.raises(OperationalError):  # the task retries it
        call_log_import_run(job_id=job.pk)
    job.refresh_from_db()
    assert (job.status, job.processed, CallRecord.objects.count()) == ("running", 2, 2)

    call_log_import_run(job_id=job.pk)  # the retry

    job.refresh_from_db()
    assert (job.status, job.processed, job.attempts) == ("done", 5, 2)
    assert (job.result["created"], job.result["already_imported"]) == (5, 0)  # the report counts once
    assert CallRecord.objects.count() == 5 and Activity.objects.count() == 5


def test_a_finished_call_log_job_is_not_run_again(hunter, sales_head, django_capture_on_commit_callbacks):
    job = queued_call_log_job(sales_head, *FIVE_CALLS, capture=django_capture_on_commit_callbacks)
    call_log_import_run(job_id=job.pk)

    call_log_import_run(job_id=job.pk)

    job.refresh_from_db()
    assert (job.attempts, job.result["created"], job.result["already_imported"]) == (1, 5, 0)
    assert CallRecord.objects.count() == 5


def test_only_the_head_queues_call_log_imports(hunter, accountant):
    for user in (hunter, accountant):
        with pytest.raises(PermissionDenied):
            call_log_import_enqueue(acting_user=user, data=HEADER.encode(), file_name="calls.csv")
    assert not ImportJob.objects.exists()
