"""Stored plan progress: what changes it, the debouncing of recalculations, and who reads it."""

import re
from datetime import date, timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from deals.models import Payment
from deals.stages import Stage
from kpi import progress
from kpi.models import ActivityKind, DirtyMonth, MonthlyProgress
from kpi.progress import progress_recalculate, progress_recalculate_history, stored_counters
from kpi.selectors import team_records
from kpi.services import PlanRow, plans_save
from tests.deals.factories import Pipeline, make_client, make_deal

from .factories import ORDER_TOTAL, local, log_activity, make_hunter, paid_deal, pbx_call
from .test_views import results_board, section, text

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


def stored(hunter, month: date) -> MonthlyProgress:
    return MonthlyProgress.objects.get(hunter=hunter, month=month)


def test_recalculation_stores_each_hunters_counters_and_plan_verdicts(sales_head, production, accountant):
    hunter, idle = make_hunter(), make_hunter()
    today = timezone.localdate()
    month = today.replace(day=1)
    plans_save(
        acting_user=sales_head,
        month=month,
        rows=[PlanRow(hunter=hunter, revenue_target=ORDER_TOTAL, deals_target=1, calls_target=2)],
    )
    pbx_call(hunter, at=timezone.now(), duration_s=90)
    pbx_call(hunter, at=timezone.now(), duration_s=30)
    log_activity(hunter, ActivityKind.MEETING, at=timezone.now())
    paid_deal(Pipeline(hunter=hunter, production=production, accountant=accountant), (ORDER_TOTAL, today))

    assert progress_recalculate(month=month) >= 2

    row = stored(hunter, month)
    assert (row.calls, row.meetings, row.revenue, row.deals) == (2, 1, ORDER_TOTAL, 1)
    assert row.sales_plan_fulfilled is True
    assert row.kpi_plan_met is True
    assert (stored(idle, month).calls, stored(idle, month).revenue) == (0, Decimal("0"))


def test_running_the_recalculation_twice_writes_the_same_figures_once(sales_head):
    hunter = make_hunter()
    month = timezone.localdate().replace(day=1)
    pbx_call(hunter, at=timezone.now())
    progress_recalculate(month=month)
    progress_recalculate(month=month)

    assert MonthlyProgress.objects.filter(hunter=hunter, month=month).count() == 1
    assert stored(hunter, month).calls == 1


def test_a_change_after_commit_updates_the_stored_progress(django_capture_on_commit_callbacks):
    hunter = make_hunter()
    month = timezone.localdate().replace(day=1)
    progress_recalculate(month=month)
    assert stored(hunter, month).meetings == 0

    with django_capture_on_commit_callbacks(execute=True):
        log_activity(hunter, ActivityKind.MEETING, at=timezone.now())

    assert stored(hunter, month).meetings == 1


def test_a_rolled_back_change_queues_nothing(django_capture_on_commit_callbacks):
    hunter = make_hunter()
    with django_capture_on_commit_callbacks() as callbacks:
        log_activity(hunter, ActivityKind.MEETING, at=timezone.now())
    # Nothing is queued inside the transaction itself: only its commit would run these.
    assert callbacks
    assert not MonthlyProgress.objects.exists()


def test_a_burst_of_a_thousand_activities_is_one_recalculation(settings, django_capture_on_commit_callbacks):
    # Wider than the burst takes on a loaded machine, so the window cannot close in the middle of it.
    settings.PLAN_PROGRESS_DEBOUNCE_SECONDS = 3600
    hunter = make_hunter()
    client = make_client(acting_user=hunter, created_at=local(2020, 1, 15))
    with mock.patch("kpi.tasks.progress_recalculate", wraps=progress_recalculate) as recalculation:
        for _ in range(1000):
            with django_capture_on_commit_callbacks(execute=True):
                log_activity(hunter, ActivityKind.MESSAGE, at=timezone.now(), client=client)

    assert recalculation.call_count == 1
    month = timezone.localdate().replace(day=1)
    # Eager tasks run at once; a real worker waits out the window and so counts the whole burst.
    assert stored(hunter, month).messages >= 1


def test_each_month_touched_is_queued_once_per_window(settings, django_capture_on_commit_callbacks):
    settings.PLAN_PROGRESS_DEBOUNCE_SECONDS = 30
    hunter = make_hunter()
    client = make_client(acting_user=hunter, created_at=local(2020, 1, 15))
    with mock.patch("kpi.tasks.recalculate_plan_progress.apply_async") as queued:
        for when in [local(2026, 3, 2), local(2026, 3, 20), local(2026, 4, 1), local(2026, 3, 31)]:
            with django_capture_on_commit_callbacks(execute=True):
                log_activity(hunter, ActivityKind.MEETING, at=when, client=client)

    months = sorted(call.kwargs["args"][0] for call in queued.call_args_list)
    assert months == ["2026-03-01", "2026-04-01"]
    assert {call.kwargs["countdown"] for call in queued.call_args_list} == {30}


def test_a_new_window_opens_when_the_last_one_closed(settings, django_capture_on_commit_callbacks):
    settings.PLAN_PROGRESS_DEBOUNCE_SECONDS = 30
    hunter = make_hunter()
    client = make_client(acting_user=hunter, created_at=local(2020, 1, 15))
    with mock.patch("kpi.tasks.recalculate_plan_progress.apply_async") as queued:
        with django_capture_on_commit_callbacks(execute=True):
            log_activity(hunter, ActivityKind.MEETING, at=local(2026, 3, 2), client=client)
        cache.delete(progress.debounce_key(date(2026, 3, 1)))  # the window's time is up
        with django_capture_on_commit_callbacks(execute=True):
            log_activity(hunter, ActivityKind.MEETING, at=local(2026, 3, 3), client=client)

    assert queued.call_count == 2


def test_plan_changes_recalculate_the_verdicts(sales_head, django_capture_on_commit_callbacks):
    hunter = make_hunter()
    month = timezone.localdate().replace(day=1)
    pbx_call(hunter, at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        plans_save(acting_user=sales_head, month=month, rows=[PlanRow(hunter=hunter, calls_target=5)])
    assert stored(hunter, month).kpi_plan_met is False

    with django_capture_on_commit_callbacks(execute=True):
        plans_save(acting_user=sales_head, month=month, rows=[PlanRow(hunter=hunter, calls_target=1)])
    assert stored(hunter, month).kpi_plan_met is True


def test_call_imports_and_payments_queue_their_months(
    production, accountant, django_capture_on_commit_callbacks
):
    hunter = make_hunter()
    with django_capture_on_commit_callbacks(execute=True):
        pbx_call(hunter, at=local(2026, 2, 10))
    assert stored(hunter, date(2026, 2, 1)).calls == 1

    today = timezone.localdate()
    with django_capture_on_commit_callbacks(execute=True):
        paid_deal(Pipeline(hunter=hunter, production=production, accountant=accountant), (ORDER_TOTAL, today))
    assert stored(hunter, today.replace(day=1)).revenue == ORDER_TOTAL


def test_stored_counters_count_a_never_recalculated_month_once():
    hunter = make_hunter()
    pbx_call(hunter, at=local(2025, 6, 10))

    assert stored_counters(month=date(2025, 6, 1), hunter_ids=[hunter.pk])[hunter.pk].calls == 1
    assert stored(hunter, date(2025, 6, 1)).calls == 1


def test_the_dashboard_shows_the_stored_figures_not_a_recount(client, sales_head):
    hunter = make_hunter(full_name="Хантер Записанный")
    month = timezone.localdate().replace(day=1)
    pbx_call(hunter, at=timezone.now())
    progress_recalculate(month=month)
    MonthlyProgress.objects.filter(hunter=hunter, month=month).update(calls=41)

    client.force_login(sales_head)
    board = results_board(client.get(reverse("kpi:dashboard")))

    assert board["Хантер Записанный"]["calls"][1].startswith("41")


def test_the_drawn_board_is_drawn_again_when_a_figure_a_plan_or_a_name_changes(client, sales_head):
    """The board's rows are kept between visits under a digest of what they show: never a stale figure."""
    hunter = make_hunter(full_name="Хантер Записанный")
    month = timezone.localdate().replace(day=1)
    pbx_call(hunter, at=timezone.now())
    progress_recalculate(month=month)
    client.force_login(sales_head)
    assert results_board(client.get(reverse("kpi:dashboard")))["Хантер Записанный"]["calls"][1] == "1"

    pbx_call(hunter, at=timezone.now())
    progress_recalculate(month=month)
    assert results_board(client.get(reverse("kpi:dashboard")))["Хантер Записанный"]["calls"][1] == "2"

    plans_save(acting_user=sales_head, month=month, rows=[PlanRow(hunter=hunter, calls_target=4)])
    board = results_board(client.get(reverse("kpi:dashboard")))
    assert board["Хантер Записанный"]["calls"][1] == "2 / 4 · 50,0 %"

    # The heading names every column the rows draw.
    html = client.get(reverse("kpi:dashboard")).content.decode()
    heading = re.search(r"<thead>(.*?)</thead>", section(html, "results"), re.S).group(1)
    assert [text(cell) for cell in re.findall(r"<th[^>]*>(.*?)</th>", heading, re.S)][:8] == [
        "Хантер",
        "Лиды",
        "Звонки",
        "Встречи",
        "Сообщения",
        "Выручка",
        "Сделки",
        "Планы",
    ]

    hunter.full_name = "Хантер Переименованный"
    hunter.save()
    assert "Хантер Переименованный" in results_board(client.get(reverse("kpi:dashboard")))


def test_the_hunters_day_counts_the_month_now_only_when_something_changed_since_it_was_stored(
    client, sales_head
):
    hunter = make_hunter()
    month = timezone.localdate().replace(day=1)
    pbx_call(hunter, at=timezone.now())
    client.force_login(hunter)

    def calls_shown() -> str:
        plan = section(client.get(reverse("kpi:my_day")).content.decode(), "plan")
        return re.search(r"Звонки \(по АТС\).*?(\d+)", text(plan), re.S).group(1)

    plans_save(acting_user=sales_head, month=month, rows=[PlanRow(hunter=hunter, calls_target=100)])
    progress_recalculate(month=month)
    MonthlyProgress.objects.filter(hunter=hunter, month=month).update(calls=41)
    assert not DirtyMonth.objects.filter(hunter=hunter, month=month).exists()
    assert calls_shown() == "41"  # nothing changed since: the stored figure, not a recount

    pbx_call(hunter, at=timezone.now())  # marks the month: counted now until it is stored again
    assert DirtyMonth.objects.filter(hunter=hunter, month=month).exists()
    assert calls_shown() == "2"


def test_records_come_from_the_stored_history():
    first, second = make_hunter(full_name="Первый"), make_hunter(full_name="Второй")
    for _ in range(3):
        pbx_call(first, at=local(2025, 5, 12))
    pbx_call(second, at=local(2025, 9, 1))
    assert progress_recalculate_history() >= 4

    calls = next(record for record in team_records() if record.label == "Звонки за месяц")

    assert (calls.hunter, calls.month, calls.value) == (first, date(2025, 5, 1), 3)


def test_the_safety_net_recalculates_exactly_the_marked_months_whatever_the_month():
    from kpi.tasks import recalculate_plan_progress

    changed, untouched = make_hunter(), make_hunter()
    this_month = timezone.localdate().replace(day=1)
    progress_recalculate(month=this_month)
    MonthlyProgress.objects.filter(hunter=untouched, month=this_month).update(calls=41)
    # A call eight months back whose recalculation never ran (its on-commit hook is not run here).
    pbx_call(changed, at=timezone.now() - timedelta(days=240))
    old_month = DirtyMonth.objects.get(hunter=changed).month
    assert old_month < this_month - timedelta(days=180)
    assert not MonthlyProgress.objects.filter(hunter=changed, month=old_month).exists()

    assert recalculate_plan_progress.delay().get() == 1

    assert stored(changed, old_month).calls == 1
    assert stored(untouched, this_month).calls == 41  # what was not marked is not recounted
    assert not DirtyMonth.objects.exists()
    assert recalculate_plan_progress.delay().get() == 0


def test_every_change_marks_the_hunters_month_in_its_own_transaction(sales_head, production, accountant):
    hunter, other = make_hunter(), make_hunter()
    today = timezone.localdate()
    month = today.replace(day=1)

    card = make_client(acting_user=hunter, created_at=local(2020, 1, 15))
    assert set(DirtyMonth.objects.values_list("hunter_id", "month")) == {(hunter.pk, date(2020, 1, 1))}
    DirtyMonth.objects.all().delete()

    log_activity(hunter, ActivityKind.MEETING, at=timezone.now(), client=card)
    assert set(DirtyMonth.objects.values_list("hunter_id", "month")) == {(hunter.pk, month)}
    plans_save(acting_user=sales_head, month=month, rows=[PlanRow(hunter=other, calls_target=3)])
    pipeline = Pipeline(hunter=hunter, production=production, accountant=accountant)
    paid_deal(pipeline, (ORDER_TOTAL, today))

    marked = set(DirtyMonth.objects.values_list("hunter_id", "month"))
    assert {(hunter.pk, month), (other.pk, month)} <= marked
    assert {hunter_id for hunter_id, _month in marked} == {hunter.pk, other.pk}


def test_a_change_made_while_the_month_is_recalculated_keeps_it_marked():
    hunter = make_hunter()
    month = timezone.localdate().replace(day=1)
    log_activity(hunter, ActivityKind.MEETING, at=timezone.now())
    counted = progress.month_counters

    def counting_while_a_change_commits(**kwargs):
        figures = counted(**kwargs)
        # Another request records an activity after the counts were read: its mark is new.
        progress.progress_mark(months=[month], hunter_ids=[hunter.pk])
        return figures

    with mock.patch.object(progress, "month_counters", counting_while_a_change_commits):
        progress_recalculate(month=month)
    assert DirtyMonth.objects.filter(hunter=hunter, month=month).exists()

    progress_recalculate(month=month)  # the next recalculation sees the change and clears the mark
    assert not DirtyMonth.objects.filter(month=month).exists()


def test_a_payment_whose_commit_hook_was_lost_is_recounted_by_the_safety_net_even_when_resubmitted(
    client, accountant, production, django_capture_on_commit_callbacks
):
    """A web worker killed between COMMIT and the on-commit hook; the accountant resubmits, which records
    nothing new and so schedules nothing. The payment is months back: the old net covered only this
    month and last."""
    from kpi.tasks import recalculate_plan_progress

    hunter = make_hunter()
    deal = Pipeline(hunter=hunter, production=production, accountant=accountant).advance_to(
        make_deal(acting_user=hunter), Stage.PAYMENT
    )
    received_on = timezone.localdate().replace(day=1) - timedelta(days=100)
    month = received_on.replace(day=1)
    client.force_login(accountant)
    form = {"amount": str(ORDER_TOTAL), "received_on": received_on.isoformat(), "bank_document": "318"}

    with django_capture_on_commit_callbacks(execute=False):  # the process died before running them
        assert client.post(reverse("deals:payment", args=[deal.pk]), form).status_code == 302
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(reverse("deals:payment", args=[deal.pk]), form).status_code == 302
    assert Payment.objects.filter(deal=deal).count() == 1
    assert not MonthlyProgress.objects.filter(hunter=hunter, month=month, revenue=ORDER_TOTAL).exists()

    recalculate_plan_progress.delay().get()

    assert stored(hunter, month).revenue == ORDER_TOTAL
    assert not DirtyMonth.objects.exists()


def test_a_cache_that_fails_costs_no_page_and_no_recalculation(client, django_capture_on_commit_callbacks):
    """Redis stopped or frozen: the debounce's cache.add raised in the on-commit hook, the page answered
    500 although the activity was saved, and people submitted it again."""
    from redis.exceptions import TimeoutError as RedisTimeout

    hunter = make_hunter()
    card = make_client(acting_user=hunter, name="ООО «Ромашка»")
    client.force_login(hunter)
    form = {"kind": "meeting", "client": card.pk, "at": timezone.localtime().strftime("%Y-%m-%dT%H:%M")}

    with mock.patch.object(cache, "add", side_effect=RedisTimeout("Timeout reading from socket")) as add:
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(reverse("kpi:activity_create"), form)
        assert add.called

        assert response.status_code == 302
        assert stored(hunter, timezone.localdate().replace(day=1)).meetings == 1
        assert not DirtyMonth.objects.exists()

        # The cache is remembered as away for a while: the next change does not wait for it again.
        add.reset_mock()
        with django_capture_on_commit_callbacks(execute=True):
            assert client.post(reverse("kpi:activity_create"), form).status_code == 302
        assert not add.called
    assert stored(hunter, timezone.localdate().replace(day=1)).meetings == 2
