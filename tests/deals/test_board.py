"""The board: moves answered in place (the card leaves its column, both counts change, the card joins its new
column), a move back asked for its comment in the card itself, one stage at a time on a phone (kept in the
address), and the filters: overdue, due today, search."""

import re
from datetime import timedelta
from urllib.parse import quote

import pytest
from django.urls import reverse
from django.utils import timezone

from deals.models import Deal, StageChange
from deals.stages import Stage
from kpi.models import ActivityKind
from kpi.services import activity_log
from tests.deals.factories import make_client, make_deal, make_deal_due

from .test_views import page_text

BOARD = reverse("deals:board")


def htmx(board_address: str = BOARD) -> dict:
    """The headers htmx sends from the board page at ``board_address``."""
    return {"HX-Request": "true", "HX-Current-URL": f"http://testserver{board_address}"}


def advance(client, deal, data=None, *, board_address=BOARD):
    return client.post(reverse("deals:advance", args=[deal.pk]), data or {}, headers=htmx(board_address))


def oob(html: str, element_id: str) -> str:
    """The text of the out-of-band element with that id in an htmx answer."""
    match = re.search(rf'<(\w+)[^>]*id="{element_id}"[^>]*hx-swap-oob="true"[^>]*>(.*?)</\1>', html, re.S)
    assert match, f"no out-of-band #{element_id}"
    return page_text_of(match.group(2))


def page_text_of(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).replace("\xa0", " ").split())


def main_content(html: str) -> str:
    """What replaces the card itself: the answer without its out-of-band parts."""
    html = re.sub(r'<div hx-swap-oob="afterbegin:[^"]*">.*?</article></div>', "", html, flags=re.S)
    html = re.sub(r'<div id="board-notice".*?</button>\s*</div>\s*</div>', "", html, flags=re.S)
    return re.sub(r'<(\w+)[^>]*hx-swap-oob="true"[^>]*>.*?</\1>', "", html, flags=re.S).strip()


@pytest.fixture
def lead(hunter):
    """A lead ready for «Звонок» (its card has a name, an address and a phone)."""
    return make_deal(acting_user=hunter, client=make_client(acting_user=hunter, name="Кафе «Северное»"))


def test_a_forward_move_answers_with_the_cards_new_place_and_both_counts(client, hunter, lead):
    make_deal(acting_user=hunter)  # another lead, which stays
    client.force_login(hunter)

    response = advance(client, lead)

    assert response.status_code == 200
    html = response.content.decode()
    assert main_content(html) == ""  # the card leaves its column
    assert oob(html, "stats-lead").startswith("1 ·")
    assert oob(html, "stats-call").startswith("1 ·")
    assert (oob(html, "tab-count-lead"), oob(html, "tab-count-call")) == ("1", "1")
    joined = re.search(r'<div hx-swap-oob="afterbegin:#cards-call">(.*?)</article></div>', html, re.S)
    assert (
        joined and f'id="card-{lead.pk}"' in joined.group(1) and 'data-card-stage="call"' in joined.group(1)
    )
    assert "Сделка «Кафе «Северное»» перешла на этап «Звонок»." in oob(html, "board-notice")
    assert Deal.objects.get(pk=lead.pk).stage == Stage.CALL


def test_a_move_back_with_its_comment_is_made_in_place(client, pipeline):
    deal = pipeline.advance_to(make_deal(acting_user=pipeline.hunter), Stage.SAMPLES)
    client.force_login(pipeline.hunter)

    response = advance(client, deal, {"to_stage": "call", "comment": "Сменился ЛПР"})

    assert response.status_code == 200
    html = response.content.decode()
    assert main_content(html) == ""
    assert oob(html, "stats-samples").startswith("0 ·") and oob(html, "stats-call").startswith("1 ·")
    assert 'hx-swap-oob="afterbegin:#cards-call"' in html
    back = StageChange.objects.filter(deal=deal, kind=StageChange.Kind.BACK).get()
    assert (back.from_stage, back.to_stage, back.comment, back.by) == (
        "samples",
        "call",
        "Сменился ЛПР",
        deal.owner,
    )


def test_a_move_back_without_a_comment_comes_back_as_the_card_asking_for_it(client, pipeline):
    deal = pipeline.advance_to(make_deal(acting_user=pipeline.hunter), Stage.SAMPLES)
    client.force_login(pipeline.hunter)

    response = advance(client, deal, {"to_stage": "call", "comment": " "})

    assert response.status_code == 422
    card = main_content(response.content.decode())
    assert card.startswith('<article class="board-card') and f'id="card-{deal.pk}"' in card
    assert "Чтобы вернуть сделку на прежний этап, напишите комментарий." in page_text_of(card)
    assert '<details class="card-menu" open>' in card
    assert re.search(
        r'<option value="call" selected>2\. Звонок</option>', card
    )  # the stage it was dropped on
    assert Deal.objects.get(pk=deal.pk).stage == Stage.SAMPLES


def test_a_refused_forward_move_comes_back_as_the_card_with_what_is_missing(client, hunter):
    deal = make_deal(acting_user=hunter, client=make_client(acting_user=hunter, address=""))
    client.force_login(hunter)

    response = advance(client, deal)

    assert response.status_code == 422
    html = response.content.decode()
    assert "в карточке клиента указан адрес" in page_text_of(main_content(html))
    assert "не может перейти дальше" in oob(html, "board-notice")
    assert Deal.objects.get(pk=deal.pk).stage == Stage.LEAD


def test_another_hunters_card_cannot_be_moved(client, other_hunter, lead):
    client.force_login(other_hunter)

    assert advance(client, lead).status_code == 404
    assert Deal.objects.get(pk=lead.pk).stage == Stage.LEAD


def test_without_javascript_the_cards_back_form_posts_and_returns_to_the_board(client, pipeline):
    deal = pipeline.advance_to(make_deal(acting_user=pipeline.hunter), Stage.PROPOSAL)
    client.force_login(pipeline.hunter)
    board = f"{BOARD}?stage=proposal"

    response = client.post(
        reverse("deals:advance", args=[deal.pk]),
        {"to_stage": "lead", "comment": "Не тот адрес", "next": board},
    )

    assert (response.status_code, response["Location"]) == (302, board)
    assert Deal.objects.get(pk=deal.pk).stage == Stage.LEAD


def test_each_cards_menu_moves_forward_or_back(client, pipeline):
    deal = pipeline.advance_to(make_deal(acting_user=pipeline.hunter), Stage.PROPOSAL)
    client.force_login(pipeline.hunter)

    html = client.get(BOARD).content.decode()

    card = re.search(rf'<article [^>]*id="card-{deal.pk}".*?</article>', html, re.S).group(0)
    assert "Вперёд: «Передача пробников»" in page_text_of(card)
    # Back: without JavaScript the deal's move-back form on a page of its own; with it, the board's form
    # copied into the card.
    assert f'href="/deals/{deal.pk}/forms/move_back/"' in card and "data-back" in card
    template = re.search(r'<template id="card-back-template">(.*?)</template>', html, re.S).group(1)
    assert 'name="comment"' in template and "required" in template
    assert re.findall(r'<option value="(\w+)">', template) == [
        "lead",
        "call",
        "proposal",
        "samples",
        "follow_up",
        "deal",
        "shipment",
        "payment",
        "closed",
    ]


# --- one stage at a time, and the filters ------------------------------------------------------------


def stage_columns(html: str) -> dict[str, bool]:
    """Each column of the board and whether it is the one a phone shows."""
    return {
        stage: "is-selected" in classes
        for classes, stage in re.findall(r'<section class="board-column([^"]*)" data-stage="(\w+)"', html)
    }


def test_a_phone_shows_the_stage_in_the_address_or_the_first_one_with_deals(client, pipeline):
    pipeline.advance_to(make_deal(acting_user=pipeline.hunter), Stage.CALL)
    client.force_login(pipeline.hunter)

    first = stage_columns(client.get(BOARD).content.decode())
    chosen = client.get(BOARD, {"stage": "samples", "q": "Кафе"}).content.decode()

    assert [stage for stage, selected in first.items() if selected] == ["call"]
    assert [stage for stage, selected in stage_columns(chosen).items() if selected] == ["samples"]
    # Each tab keeps the filters; the filter form keeps the stage.
    assert 'href="?q=%D0%9A%D0%B0%D1%84%D0%B5&amp;stage=lead"' in chosen
    assert '<input type="hidden" name="stage" value="samples">' in chosen


def test_the_board_filters_overdue_due_today_and_by_search(client, hunter):
    today = timezone.localdate()
    for name, due_on in (
        ("Кафе «Вчера»", today - timedelta(days=1)),
        ("Кафе «Сегодня»", today),
        ("Салон «Завтра»", today + timedelta(days=1)),
        ("Салон «Без даты»", None),
    ):
        deal = make_deal(
            acting_user=hunter, client=make_client(acting_user=hunter, name=name), title="Поставка"
        )
        if due_on:
            activity_log(
                acting_user=hunter,
                kind=ActivityKind.CALL,
                client=deal.client,
                deal=deal,
                next_contact_on=due_on,
            )
    make_deal(
        acting_user=hunter, client=make_client(acting_user=hunter, name="Ателье"), title="Химчистка штор"
    )
    client.force_login(hunter)

    def shown(**params) -> tuple[list[str], str]:
        html = client.get(BOARD, params).content.decode()
        names = re.findall(r'class="fw-semibold text-decoration-none">(.*?)</a>', html)
        count = re.search(r'id="tab-count-lead">(\d+)<', html).group(1)
        return sorted(name.replace("&laquo;", "«").replace("&raquo;", "»") for name in names), count

    assert shown(due="overdue") == (["Кафе «Вчера»"], "1")
    assert shown(due="today") == (["Кафе «Сегодня»"], "1")
    assert shown(q="Салон") == (["Салон «Без даты»", "Салон «Завтра»"], "2")
    assert shown(q="штор") == (["Ателье"], "1")  # the deal's title
    assert shown(q="Кафе", due="overdue") == (["Кафе «Вчера»"], "1")
    assert shown(due="nonsense")[1] == "5"
    assert shown(q="салон")[0] == ["Салон «Без даты»", "Салон «Завтра»"]  # in lower case, in Russian


def test_a_hunters_board_search_never_shows_another_hunters_deal(client, hunter, other_hunter):
    make_deal(acting_user=hunter, client=make_client(acting_user=hunter, name="Кафе «Своё»"))
    make_deal(acting_user=other_hunter, client=make_client(acting_user=other_hunter, name="Кафе «Чужое»"))
    client.force_login(hunter)

    text = page_text(client.get(BOARD, {"q": "кафе"}))

    assert "Кафе «Своё»" in text and "Кафе «Чужое»" not in text


def test_the_filtered_board_and_a_move_cost_the_same_queries_however_many_cards(client, hunter):
    def measure() -> tuple[int, int]:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as board:
            assert client.get(BOARD, {"q": "кафе", "due": ""}).status_code == 200
        deal = make_deal(acting_user=hunter, client=make_client(acting_user=hunter, name="Кафе «Ход»"))
        with CaptureQueriesContext(connection) as move:
            assert advance(client, deal, board_address=f"{BOARD}?q=кафе").status_code == 200
        return len(board), len(move)

    make_deal(acting_user=hunter, client=make_client(acting_user=hunter, name="Кафе №0"))
    client.force_login(hunter)
    few = measure()
    for number in range(1, 16):
        make_deal(acting_user=hunter, client=make_client(acting_user=hunter, name=f"Кафе №{number}"))
    assert measure() == few


def test_a_move_under_a_filter_counts_what_the_filter_shows(client, hunter):
    today = timezone.localdate()
    deal = make_deal(acting_user=hunter, client=make_client(acting_user=hunter, name="Кафе «Сегодня»"))
    activity_log(
        acting_user=hunter, kind=ActivityKind.CALL, client=deal.client, deal=deal, next_contact_on=today
    )
    make_deal(acting_user=hunter)  # no next contact: not on the filtered board
    client.force_login(hunter)

    html = advance(client, deal, board_address=f"{BOARD}?due=today&stage=lead").content.decode()

    assert oob(html, "tab-count-lead") == "0" and oob(html, "tab-count-call") == "1"
    assert 'hx-swap-oob="afterbegin:#cards-call"' in html


def test_the_heads_board_shows_one_hunters_deals_when_chosen(client, sales_head, hunter, other_hunter):
    make_deal(acting_user=hunter, client=make_client(acting_user=hunter, name="Кафе «Иванова»"))
    make_deal(acting_user=other_hunter, client=make_client(acting_user=other_hunter, name="Кафе «Смирновой»"))
    client.force_login(sales_head)

    text = page_text(client.get(BOARD, {"owner": hunter.pk}))

    assert "Кафе «Иванова»" in text and "Кафе «Смирновой»" not in text


def cards_in(html: str) -> list[str]:
    names = re.findall(r'class="fw-semibold text-decoration-none">(.*?)</a>', html)
    return [name.replace("&laquo;", "«").replace("&raquo;", "»") for name in names]


def test_a_long_column_shows_its_first_cards_and_the_rest_page_by_page(
    client, hunter, other_hunter, monkeypatch
):
    from deals import selectors

    monkeypatch.setattr(selectors, "BOARD_COLUMN_PAGE", 3)
    today = timezone.localdate()
    for number in range(7):  # the last made is due first
        make_deal_due(hunter=hunter, name=f"Кафе №{number}", on=today + timedelta(days=7 - number))
    make_deal(acting_user=hunter, client=make_client(acting_user=hunter, name="Ателье"))  # no next contact
    make_deal(acting_user=other_hunter, client=make_client(acting_user=other_hunter, name="Кафе «Чужое»"))
    client.force_login(hunter)

    board = client.get(BOARD, {"q": "кафе"}).content.decode()
    assert cards_in(board) == ["Кафе №6", "Кафе №5", "Кафе №4"]
    assert "Показаны 3 из 7." in page_text_of(board)
    more = re.search(r'hx-get="([^"]+)"[^>]*>Показать ещё', board).group(1).replace("&amp;", "&")
    assert "q=" in more and "stage=lead" in more and "offset=3" in more

    second = client.get(more, headers=htmx(f"{BOARD}?q=кафе")).content.decode()
    assert cards_in(second) == ["Кафе №3", "Кафе №2", "Кафе №1"]
    assert "Показаны 6 из 7." in page_text_of(second)
    # The cards come back to the board as it was filtered.
    board_path = quote("/deals/board/?q=%D0%BA%D0%B0%D1%84%D0%B5&stage=lead", safe="")
    assert f"next={board_path}" in second.replace("&amp;", "&")

    more = re.search(r'hx-get="([^"]+)"', second).group(1).replace("&amp;", "&")
    last = client.get(more).content.decode()
    assert cards_in(last) == ["Кафе №0"]
    assert "Показать ещё" not in last  # all seven shown

    # Without a filter the deal with no next contact comes last.
    whole = client.get(reverse("deals:board_more"), {"stage": "lead", "offset": 6}).content.decode()
    assert cards_in(whole) == ["Кафе №0", "Ателье"]


def test_a_column_page_with_a_broken_address_says_so(client, hunter):
    client.force_login(hunter)

    response = client.get(reverse("deals:board_more"), {"stage": "nowhere", "offset": "x"})

    assert response.status_code == 400
    assert "обновите доску" in response.content.decode()
