"""The benchmark's SQL floor reproduces the dashboard's figures: the same counts the stored plan progress
holds and the results board shows, on generated data (a floor that counts something else is no floor)."""

from datetime import datetime

from django.utils import timezone

from atlanset_portal import data_generator
from atlanset_portal.benchmark import dashboard_floor
from kpi.counters import month_counters
from kpi.months import month_start, previous_month
from kpi.progress import progress_recalculate, stored_counters

NOW = timezone.make_aware(datetime(2026, 3, 18, 15, 30))


def test_the_floor_counts_what_the_dashboard_shows_on_generated_data(db):
    sizes = data_generator.Sizes(hunters=3, clients=60, deals=200, activities=3000, payments=150)
    data_generator.generate(sizes=sizes, months=4, seed=5, now=NOW, busy_open_deals=20)
    hunters = list(data_generator._generated_hunters().values_list("pk", flat=True))
    month = month_start(NOW.date())
    seen = []
    for _ in range(3):
        progress_recalculate(month=month)
        floor = dashboard_floor(month)
        assert set(floor) == set(hunters)
        assert floor == stored_counters(month=month, hunter_ids=hunters)
        assert floor == month_counters(month=month, hunter_ids=hunters)
        seen += floor.values()
        month = previous_month(month)
    # Every figure is there to compare: telephony calls (which the floor once never counted), meetings,
    # messages, leads, revenue and completed deals.
    for name in ("calls", "meetings", "messages", "leads", "revenue", "deals"):
        assert any(getattr(counters, name) for counters in seen), name
