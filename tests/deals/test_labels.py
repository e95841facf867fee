"""How pickers name deals and meetings (deals/labels.py)."""

from datetime import UTC, date, datetime
from types import SimpleNamespace

from deals.labels import event_picker_label, moment_label


def test_a_moment_is_told_in_local_time_without_this_years_year():
    at = datetime(2026, 3, 12, 9, 30, tzinfo=UTC)  # 14:30 in Surgut (Asia/Yekaterinburg)
    assert moment_label(at, today=date(2026, 12, 7)) == "12.03 14:30"


def test_a_moment_of_another_year_names_its_year():
    at = datetime(2025, 12, 31, 20, 0, tzinfo=UTC)  # already 1 January 2026, 01:00, in Surgut
    assert moment_label(at, today=date(2026, 12, 7)) == "01.01 01:00"
    assert moment_label(at, today=date(2027, 1, 5)) == "01.01.2026 01:00"


def test_a_meeting_without_a_deal_is_named_by_its_moment_and_client():
    meeting = SimpleNamespace(
        at=datetime(2026, 3, 12, 9, 30, tzinfo=UTC), client=SimpleNamespace(name="Кафе «Обь»"), deal=None
    )
    assert event_picker_label(meeting, today=date(2026, 3, 12)) == "12.03 14:30 — Кафе «Обь»"
