"""The versions the dashboard keeps its drawn parts under (``kpi.selectors.stored_versions``)."""

from datetime import timedelta

from django.utils import timezone

from kpi.models import MonthlyProgress
from kpi.progress import progress_recalculate
from kpi.selectors import stored_versions

from .factories import make_hunter, set_plan


def test_a_recalculation_that_commits_after_a_later_one_still_moves_the_version(sales_head):
    first, second = make_hunter(), make_hunter()
    month = timezone.localdate().replace(day=1)
    progress_recalculate(month=month)
    before = stored_versions(month)
    latest = MonthlyProgress.objects.filter(hunter=second).values_list("calculated_at", flat=True).get()

    # The first hunter's recalculation started earlier but commits now: the newest time stays the same.
    MonthlyProgress.objects.filter(hunter=first).update(calculated_at=latest - timedelta(seconds=5), calls=7)

    after = stored_versions(month)
    assert max(MonthlyProgress.objects.values_list("calculated_at", flat=True)) == latest
    assert after.progress != before.progress


def test_a_plan_a_name_and_a_new_hunter_each_move_the_version(sales_head):
    hunter = make_hunter()
    month = timezone.localdate().replace(day=1)
    seen = [stored_versions(month)]

    set_plan(sales_head, hunter, month, calls_target=10)
    seen.append(stored_versions(month))
    hunter.full_name = "Пётр Петров"
    hunter.save(update_fields=["full_name"])
    seen.append(stored_versions(month))
    make_hunter()
    seen.append(stored_versions(month))

    assert len(set(seen)) == len(seen)
    assert seen[1].plans != seen[0].plans
    assert seen[2].hunters != seen[1].hunters
