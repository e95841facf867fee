"""Parts of a page kept drawn in the cache under a digest of what they show."""

import os
from unittest import mock

import pytest
from django.core.cache import cache
from django.utils import translation

from atlanset_portal import fragments

TEMPLATE = "kpi/dashboard.html#quality-claims"


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


def claims(*texts):
    from datetime import UTC, datetime

    from deals.selectors import QualityClaim

    return [
        QualityClaim(
            deal_id=n, client_name="Кафе", owner="Иванов", at=datetime(2026, 12, 1, tzinfo=UTC), text=t
        )
        for n, t in enumerate(texts, 1)
    ]


def draw(rows, calls):
    def context():
        calls.append(1)
        return {"quality_claims": rows}

    return fragments.drawn(TEMPLATE, fingerprint=rows, context=context)


def test_the_same_values_are_drawn_once_and_other_values_are_drawn_again():
    calls = []
    first = draw(claims("Протекают"), calls)
    again = draw(claims("Протекают"), calls)
    changed = draw(claims("Протекают", "Трескаются"), calls)

    assert first == again and "Протекают" in first
    assert "Трескаются" in changed
    assert len(calls) == 2  # the second visit read the kept part


def test_a_part_is_drawn_in_the_language_of_the_reader():
    calls = []
    russian = draw([], calls)
    with translation.override("en"):
        draw([], calls)

    assert len(calls) == 2  # kept per language, not shared between readers of different languages
    assert "претензий не было" in russian


def test_another_release_draws_its_parts_again():
    calls = []
    draw(claims("Протекают"), calls)
    with mock.patch.object(fragments, "release", return_value="next"):
        draw(claims("Протекают"), calls)

    assert len(calls) == 2


def test_without_a_cache_every_part_is_drawn_and_the_page_still_answers():
    calls = []
    with (
        mock.patch.object(fragments, "cache_get", return_value=None),
        mock.patch.object(fragments, "cache_set"),
    ):
        html = draw(claims("Протекают"), calls)
        draw(claims("Протекают"), calls)

    assert "Протекают" in html and len(calls) == 2


def test_the_release_changes_with_a_template(settings):
    fragments.release.cache_clear()
    before = fragments.release()
    template = settings.BASE_DIR / "templates" / "base.html"
    stat = template.stat()
    try:
        os.utime(template, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
        fragments.release.cache_clear()
        assert fragments.release() != before
    finally:
        os.utime(template, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        fragments.release.cache_clear()


def test_a_lists_filter_bar_shows_what_was_typed_and_its_errors_on_every_visit(client, sales_head):
    from django.urls import reverse

    from atlanset_portal.benchmark import _confirm_second_factor

    client.force_login(sales_head)
    _confirm_second_factor(client, sales_head)
    url = reverse("kpi:activities")
    first = client.get(url, {"month": "2026-03"}).content.decode()
    second = client.get(url, {"month": "2026-04"}).content.decode()
    wrong = client.get(url, {"month": "март"}).content.decode()

    assert 'value="2026-03"' in first and 'value="2026-04"' not in first
    assert 'value="2026-04"' in second and 'value="2026-03"' not in second
    assert "Укажите месяц в виде ГГГГ-ММ" in wrong
    assert "Укажите месяц в виде ГГГГ-ММ" not in client.get(url, {"month": "2026-03"}).content.decode()
