"""Lists ordered by time page by cursor (atlanset_portal/keyset.py): walking a list page by page, forward
and back, shows every row exactly once in order, rows recorded at the same moment included, and a row
added meanwhile does not shift the page being read."""

import re
from datetime import timedelta
from decimal import Decimal
from html import unescape

import pytest
from django.urls import reverse
from django.utils import timezone

from compensation import selectors as pay_selectors
from deals.models import Deal, Payment
from deals.services import payment_record
from deals.stages import Stage
from deals.views.pipeline import DealListView
from tests.deals.factories import Pipeline, make_client, make_deal


@pytest.fixture
def pipeline(hunter, production, accountant, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return Pipeline(hunter=hunter, production=production, accountant=accountant)


def _links(html: str, name: str) -> list[str]:
    return [unescape(link) for link in re.findall(rf'href="(\?[^"]*\b{name}=[^"]*)"', html)]


def walk(client, url: str, rows, *, direction: str = "older") -> list[list[str]]:
    """The pages met following the ``direction`` links from ``url`` until there are none."""
    pages, seen_urls = [], set()
    while url:
        assert url not in seen_urls, "a link led back to a page already read"
        seen_urls.add(url)
        html = client.get(url).content.decode()
        pages.append(rows(html))
        links = _links(html, direction)
        url = (url.split("?")[0] + links[0].split("#")[0]) if links else ""
    return pages


def flat(pages: list[list[str]]) -> list[str]:
    return [row for page in pages for row in page]


def payment_documents(html: str) -> list[str]:
    recent = html.split('id="recent"', 1)[1]
    return re.findall(r"<td>(п/п [^<]+)</td>", recent)


def test_the_payments_page_shows_every_payment_once_in_order_across_pages(
    client, accountant, pipeline, monkeypatch
):
    deal = pipeline.advance_to(make_deal(acting_user=pipeline.hunter), Stage.PAYMENT)
    moment = timezone.now().replace(microsecond=0) - timedelta(hours=2)
    # Four of the seven payments are recorded at the very same moment: pages must split the tie by id.
    offsets = [-5, 0, 0, 0, 5, 10, 0]
    for number, offset in enumerate(offsets, start=1):
        payment_record(
            acting_user=accountant,
            deal=deal,
            amount=Decimal("100.00"),
            received_on=timezone.localdate(),
            bank_document=f"п/п {number}",
            recorded_at=moment + timedelta(minutes=offset),
        )
    expected = [
        payment.bank_document for payment in Payment.objects.filter(deal=deal).order_by("-recorded_at", "-pk")
    ]
    monkeypatch.setattr(pay_selectors, "PAYMENTS_PAGE", 2)
    client.force_login(accountant)
    url = reverse("compensation:payments")

    forward = walk(client, url, payment_documents)
    assert [len(page) for page in forward] == [2, 2, 2, 1]
    assert flat(forward) == expected

    # Back from the last page by the «Назад» links: the same pages in reverse.
    last = url + _links(client.get(url).content.decode(), "older")[0].split("#")[0]
    for _ in range(2):
        last = url + _links(client.get(last).content.decode(), "older")[0].split("#")[0]
    backward = walk(client, last, payment_documents, direction="newer")
    assert backward == forward[::-1]


def test_a_payment_recorded_while_reading_does_not_shift_the_next_page(
    client, accountant, pipeline, monkeypatch
):
    deal = pipeline.advance_to(make_deal(acting_user=pipeline.hunter), Stage.PAYMENT)
    for number in range(1, 5):
        payment_record(
            acting_user=accountant,
            deal=deal,
            amount=Decimal("100.00"),
            received_on=timezone.localdate(),
            bank_document=f"п/п {number}",
            recorded_at=timezone.now() - timedelta(minutes=10 - number),
        )
    monkeypatch.setattr(pay_selectors, "PAYMENTS_PAGE", 2)
    client.force_login(accountant)
    url = reverse("compensation:payments")
    first = client.get(url).content.decode()
    assert payment_documents(first) == ["п/п 4", "п/п 3"]
    payment_record(
        acting_user=accountant,
        deal=deal,
        amount=Decimal("100.00"),
        received_on=timezone.localdate(),
        bank_document="п/п 5",
    )
    second = client.get(url + _links(first, "older")[0].split("#")[0]).content.decode()
    assert payment_documents(second) == ["п/п 2", "п/п 1"]


def test_a_broken_cursor_in_the_address_shows_the_first_page(client, accountant, pipeline):
    deal = pipeline.advance_to(make_deal(acting_user=pipeline.hunter), Stage.PAYMENT)
    payment_record(
        acting_user=accountant, deal=deal, amount=Decimal("100.00"), received_on=timezone.localdate()
    )
    client.force_login(accountant)
    for cursor in ("garbage", "2026-13-40T00:00~1", "2026-03-01T10:00:00~x", "2026-03-01T10:00:00~5"):
        response = client.get(reverse("compensation:payments"), {"older": cursor})
        assert response.status_code == 200
        assert "Последние внесённые оплаты" in response.content.decode()


def deal_clients(html: str) -> list[str]:
    return re.findall(r'<td><a href="/deals/\d+/">([^<]+)</a>', html)


def test_the_deal_list_pages_by_cursor_keeping_its_filters(client, sales_head, hunter, monkeypatch):
    deals = [
        make_deal(acting_user=hunter, client=make_client(acting_user=hunter, name=f"Салон {number:02d}"))
        for number in range(1, 8)
    ]
    moment = timezone.now().replace(microsecond=0) - timedelta(days=1)
    for deal, offset in zip(deals, [0, 0, 0, 1, 2, 0, -1], strict=True):
        Deal.objects.filter(pk=deal.pk).update(created_at=moment + timedelta(minutes=offset))
    monkeypatch.setattr(DealListView, "paginate_by", 3)
    client.force_login(sales_head)
    expected = [
        deal.client.name for deal in Deal.objects.select_related("client").order_by("-created_at", "-pk")
    ]

    pages = walk(client, reverse("deals:list"), deal_clients)
    assert flat(pages) == expected
    assert [len(page) for page in pages] == [3, 3, 1]

    filtered = walk(client, reverse("deals:list") + f"?owner={hunter.pk}&status=open", deal_clients)
    assert flat(filtered) == expected
    page = client.get(reverse("deals:list"), {"status": "open"}).content.decode()
    assert all("status=open" in link for link in _links(page, "older"))
    assert re.search(r"Сделки\s*<span[^>]*>7</span>", page)
