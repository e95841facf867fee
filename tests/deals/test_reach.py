"""One tap to reach a client (deals.reach): phones with extensions shown by area code, the links they
become, and every page where a client appears (client list and card, deal page, board, «Мой день», the
header search) offering them; the forms open the right keyboard."""

import re
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from deals.models import ClientPhone, Contact
from deals.phones import Phone, format_phone, parse_phone, split_phones
from deals.reach import mailto_href, map_href, phone_reach, tel_href, website_href
from deals.services import contact_add
from deals.stages import Stage
from kpi.models import ActivityKind
from tests.deals.factories import make_client, make_deal
from tests.kpi.factories import log_activity

MOBILE = "+79124102203"
SURGUT = "+73462551234"

# --- numbers: extensions kept, shown by area code -------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    [
        "+7 3462 55-12-34 доб. 123",
        "8 (3462) 55-12-34 доб 123",
        "8 3462 551234 добавочный 123",
        "+7 3462 55-12-34 ext. 123",
        "+7 3462 55-12-34,123",
        "+7 3462 55-12-34, 123",
        "+73462551234;ext=123",
        "8 3462 551234 x123",
        "8 3462 551234 #123",
    ],
)
def test_an_extension_is_kept_apart_from_the_number(typed):
    assert parse_phone(typed) == Phone(number=SURGUT, extension="123")


def test_a_number_without_extension_and_bad_extensions():
    assert parse_phone("8 912 410-22-03") == Phone(number=MOBILE)
    with pytest.raises(ValidationError):
        parse_phone("+7 3462 55-12-34 доб. 1234567")  # longer than any office extension
    with pytest.raises(ValidationError):
        parse_phone("доб. 123")


def test_several_numbers_in_one_field_keep_their_extensions():
    typed = "8 912 410-22-03, +7 3462 55-12-34,123; 8 912 000 00 00\n+73462551235;ext=45"
    assert split_phones(typed) == [
        "8 912 410-22-03",
        "+7 3462 55-12-34,123",
        "8 912 000 00 00",
        "+73462551235;ext=45",
    ]


@pytest.mark.parametrize(
    ("number", "extension", "shown"),
    [
        (SURGUT, "", "+7 3462 55-12-34"),  # Surgut: a four-digit code
        (SURGUT, "123", "+7 3462 55-12-34 доб. 123"),
        ("+73466751234", "", "+7 34667 5-12-34"),  # Kogalym: five digits
        ("+73452551234", "", "+7 3452 55-12-34"),  # Tyumen
        ("+74955551234", "", "+7 495 555-12-34"),  # Moscow: three
        (MOBILE, "", "+7 912 410-22-03"),
        ("+4930901820", "", "+49 30 901820"),
    ],
)
def test_numbers_are_shown_by_area_code(number, extension, shown):
    assert format_phone(number, extension) == shown
    assert parse_phone(shown) == Phone(number=number, extension=extension)  # and read back


# --- the links ------------------------------------------------------------------------------------------


def test_a_mobile_number_reaches_the_phone_whatsapp_and_telegram():
    reach = phone_reach(MOBILE)
    assert (reach.tel, reach.whatsapp, reach.telegram) == (
        "tel:+79124102203",
        "https://wa.me/79124102203",
        "https://t.me/+79124102203",
    )


def test_a_landline_is_called_with_its_extension_and_has_no_messengers():
    reach = phone_reach(SURGUT, "123")
    assert reach.tel == tel_href(SURGUT, "123") == "tel:+73462551234,123"
    assert (reach.whatsapp, reach.telegram) == ("", "")
    assert reach.label == "+7 3462 55-12-34 доб. 123"


@pytest.mark.parametrize(
    ("site", "href"),
    [
        ("sharm.ru", "https://sharm.ru"),
        ("vk.com/sharm_surgut", "https://vk.com/sharm_surgut"),
        ("http://sharm.ru", "http://sharm.ru"),
        ("HTTPS://sharm.ru/", "HTTPS://sharm.ru/"),
        ("//sharm.ru", "https://sharm.ru"),
        ("", ""),
        ("спросить у администратора", ""),  # no address: shown as text
    ],
)
def test_a_site_becomes_a_link_with_https_added(site, href):
    assert website_href(site) == href


def test_the_address_opens_yandex_maps_and_email_a_letter():
    assert map_href("ул. Мира, 7", "Сургут") == (
        "https://yandex.ru/maps/?text=%D0%A1%D1%83%D1%80%D0%B3%D1%83%D1%82%2C%20%D1%83%D0%BB.%20"
        "%D0%9C%D0%B8%D1%80%D0%B0%2C%207"
    )
    assert map_href("г. Сургут, ул. Мира, 7", "Сургут").endswith(
        "%D0%B3.%20%D0%A1%D1%83%D1%80%D0%B3%D1%83%D1%82%2C%20%D1%83%D0%BB.%20%D0%9C%D0%B8%D1%80%D0%B0%2C%207"
    )  # the city is not repeated
    assert map_href("", "") == ""
    assert mailto_href("info+shop@sharm.ru") == "mailto:info+shop@sharm.ru"


# --- every page where a client appears ------------------------------------------------------------------


def links(html: str) -> set[str]:
    return set(re.findall(r'href="([^"]+)"', html.replace("&amp;", "&")))


def shown(html: str) -> str:
    """The page's text as read: tags dropped, runs of white space one space."""
    return " ".join(re.sub(r"<[^>]+>", "", html).split())


def anchors(html: str) -> list[str]:
    return re.findall(r"<a\b[^>]*>", html)


def assert_opens_in_new_tab(html: str, href_start: str) -> None:
    tags = [tag for tag in anchors(html) if f'href="{href_start}' in tag]
    assert tags, href_start
    assert all('target="_blank"' in tag and 'rel="noopener"' in tag for tag in tags), tags


@pytest.fixture
def reachable(hunter):
    """A client with a mobile number, a Surgut landline with an extension, e-mail, site, address, a decision
    maker and a contact."""
    card = make_client(
        acting_user=hunter,
        name="Салон «Шарм»",
        address="ул. Мира, 7",
        city="Сургут",
        phones=["8 912 410-22-03", "8 (3462) 55-12-34 доб. 123"],
        email="info@sharm.ru",
        website="sharm.ru",
        decision_maker_name="Ирина Викторовна",
        decision_maker_email="director@sharm.ru",
    )
    contact_add(
        acting_user=hunter, client=card, name="Алёна", phone="+7 912 777-66-55", email="alena@sharm.ru"
    )
    return card


MAP = map_href("ул. Мира, 7", "Сургут")


def test_client_card_offers_every_way_to_reach_the_client(client, hunter, reachable):
    client.force_login(hunter)
    html = client.get(reverse("clients:detail", args=[reachable.pk])).content.decode()
    assert {
        "tel:+79124102203",
        "https://wa.me/79124102203",
        "https://t.me/+79124102203",
        "tel:+73462551234,123",
        "mailto:info@sharm.ru",
        "https://sharm.ru",
        "mailto:director@sharm.ru",
        MAP,
        "tel:+79127776655",
        "mailto:alena@sharm.ru",
    } <= links(html)
    assert "+7 3462 55-12-34 доб. 123" in shown(html)
    assert "https://wa.me/73462551234" not in html  # a landline has no messengers
    for external in ("https://sharm.ru", "https://wa.me/", "https://t.me/", "https://yandex.ru/maps/"):
        assert_opens_in_new_tab(html, external)


def test_deal_page_shows_the_clients_phones_and_decision_maker_at_the_top(client, hunter, reachable):
    deal = make_deal(acting_user=hunter, client=reachable)
    client.force_login(hunter)
    html = client.get(reverse("deals:detail", args=[deal.pk])).content.decode()
    top = html[: html.index('class="stage-track')]
    assert {"tel:+79124102203", "https://wa.me/79124102203", "tel:+73462551234,123", MAP} <= links(top)
    assert "Ирина Викторовна" in top and "mailto:director@sharm.ru" in links(top)


def test_client_list_calls_and_maps_each_client(client, hunter, reachable):
    client.force_login(hunter)
    html = client.get(reverse("clients:list")).content.decode()
    assert {"tel:+79124102203", "https://wa.me/79124102203", "https://t.me/+79124102203", MAP} <= links(html)


def test_board_cards_call_and_map_the_client(client, hunter, reachable):
    make_deal(acting_user=hunter, client=reachable)
    client.force_login(hunter)
    html = client.get(reverse("deals:board")).content.decode()
    card = re.search(r'<article class="board-card.*?</article>', html, re.S).group(0)
    assert {"tel:+79124102203", "https://wa.me/79124102203", "https://t.me/+79124102203", MAP} <= links(card)
    assert "Позвонить: +7 912 410-22-03" in card


def test_board_queries_do_not_grow_with_the_cards_phones(client, hunter, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    make_deal(acting_user=hunter)
    client.force_login(hunter)
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("deals:board"))
    for _ in range(5):
        make_deal(acting_user=hunter)
    with django_assert_max_num_queries(len(few)):
        client.get(reverse("deals:board"))


def test_my_day_calls_the_clients_of_tasks_and_open_deals(client, hunter, pipeline, reachable):
    today = timezone.localdate()
    deal = make_deal(acting_user=hunter, client=reachable)
    log_activity(
        hunter, ActivityKind.CALL, at=timezone.now(), client=reachable, deal=deal, next_contact_on=today
    )
    follow_up_client = make_client(acting_user=hunter, name="Кафе «Ёлочка»", phones=["+7 912 555-44-33"])
    log_activity(
        hunter,
        ActivityKind.FOLLOW_UP,
        at=timezone.now(),
        client=follow_up_client,
        next_contact_on=today - timedelta(days=1),
        outcome="Перезвонить",
    )
    ordered_client = make_client(acting_user=hunter, name="Студия «Ирис»", phones=["+7 912 111-22-33"])
    pipeline.record_deal(
        pipeline.advance_to(make_deal(acting_user=hunter, client=ordered_client), Stage.DEAL)
    )
    client.force_login(hunter)
    html = client.get(reverse("kpi:my_day")).content.decode()
    tasks = re.search(r'<section[^>]*id="tasks"(.*?)</section>', html, re.S).group(1)
    assert {"tel:+79124102203", "https://wa.me/79124102203", MAP, "tel:+79125554433"} <= links(tasks)
    pay = re.search(r'<section[^>]*id="pay"(.*?)</section>', html, re.S).group(1)
    assert "tel:+79121112233" in links(pay)


# --- the keyboards and the extension through the forms --------------------------------------------------


def input_tag(html: str, name: str) -> str:
    return re.search(rf'<input[^>]*name="{name}"[^>]*>', html).group(0)


def test_phone_fields_open_the_phone_keypad_and_requisites_the_numeric_one(client, hunter, reachable):
    client.force_login(hunter)
    create = client.get(reverse("clients:create")).content.decode()
    assert all(f in input_tag(create, "phones_text") for f in ('type="tel"', 'autocomplete="tel"'))
    card = client.get(reverse("clients:detail", args=[reachable.pk])).content.decode()
    assert all(f in input_tag(card, "phone") for f in ('type="tel"', 'autocomplete="tel"'))
    requisites = client.get(reverse("clients:requisites", args=[reachable.pk])).content.decode()
    for name in ("inn", "kpp", "ogrn", "bik", "settlement_account", "correspondent_account"):
        assert 'inputmode="numeric"' in input_tag(requisites, name), name


def test_a_phone_typed_with_an_extension_is_stored_and_shown_back_for_editing(client, hunter):
    client.force_login(hunter)
    response = client.post(
        reverse("clients:create"),
        {
            "name": "Офис «Югра»",
            "address": "Сургут, ул. Мира, 1",
            "phones_text": "8 912 410-22-03; 8 (3462) 55-12-34,123",
            "source": "2gis",
        },
    )
    assert response.status_code == 302
    assert set(ClientPhone.objects.values_list("number", "extension")) == {(MOBILE, ""), (SURGUT, "123")}
    card = ClientPhone.objects.get(number=SURGUT).client
    form = client.get(reverse("clients:edit", args=[card.pk])).context["form"]
    assert form.initial["phones_text"] == "+79124102203; +73462551234 доб. 123"
    client.post(
        reverse("clients:edit", args=[card.pk]),
        {
            "name": card.name,
            "address": card.address,
            "phones_text": form.initial["phones_text"],
            "source": "2gis",
        },
    )
    assert set(ClientPhone.objects.values_list("number", "extension")) == {(MOBILE, ""), (SURGUT, "123")}

    client.post(
        reverse("clients:contact_add", args=[card.pk]), {"name": "Алёна", "phone": "+7 3462 55-12-35 доб. 7"}
    )
    assert Contact.objects.values_list("phone", "phone_extension").get() == ("+73462551235", "7")
    html = client.get(reverse("clients:detail", args=[card.pk])).content.decode()
    assert "tel:+73462551235,7" in links(html) and "+7 3462 55-12-35 доб. 7" in shown(html)


def test_a_phone_with_an_extension_breaks_only_before_the_extension_on_a_narrow_screen():
    reach = phone_reach("+73462551234", "123")
    assert (reach.number_label, reach.extension_label) == ("+7 3462 55-12-34", "доб. 123")
    assert phone_reach("+79124102203").extension_label == ""


def test_a_phone_and_an_address_drawn_once_are_drawn_again_in_another_language():
    from django.utils import translation

    from deals import reach

    reach._phone_links_html.cache_clear()
    reach._address_link_html.cache_clear()
    russian = (reach.phone_links_html(MOBILE), reach.address_link_html("ул. Мира, 1", "Сургут"))
    with translation.override("en"):
        reach.phone_links_html(MOBILE)
        reach.address_link_html("ул. Мира, 1", "Сургут")

    # Each language drew its own; the same values in the same language are the same drawing.
    assert reach._phone_links_html.cache_info().misses == 2
    assert reach._address_link_html.cache_info().misses == 2
    assert (reach.phone_links_html(MOBILE), reach.address_link_html("ул. Мира, 1", "Сургут")) == russian
    assert "Написать в WhatsApp: +7 912 410-22-03" in russian[0] and "Открыть в Яндекс Картах" in russian[1]
    assert reach.phone_links_html(MOBILE, button=True) != russian[0]
