"""A hunter's day in the field, on a phone (390×844, touch): the header's search finds a client typed in
lower case, and the deal page, the board and «Мой день» call the client in one tap."""

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from accounts.roles import Role
from deals.services import contact_add
from kpi.models import ActivityKind
from tests.browser.conftest import SCREENSHOT_DIR
from tests.browser.helpers import PHONE, sign_in
from tests.deals.factories import make_client, make_deal
from tests.factories import UserFactory
from tests.kpi.factories import log_activity


@pytest.fixture
def phone(browser, migrated_data, live_server):
    context = browser.new_context(base_url=live_server.url, locale="en-US", **PHONE)
    page = context.new_page()
    page.set_default_timeout(15_000)
    blocked = []
    page.on(
        "console", lambda message: "Content Security Policy" in message.text and blocked.append(message.text)
    )
    yield page
    context.close()
    assert blocked == [], blocked  # the search box and the links need nothing the CSP forbids


def phone_screenshot(page, name: str) -> None:
    """The screen as the phone shows it (the screenshot fixture takes the whole page)."""
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT_DIR / f"{name}.png"))


def test_hunter_finds_a_client_in_lower_case_and_reaches_it_in_one_tap(phone):
    # SQLite (the test database) folds only ASCII letters: «шарм» finds «Шарм» through the search text.
    hunter = UserFactory(role=Role.HUNTER, full_name="Иван Иванов")
    other = UserFactory(role=Role.HUNTER, full_name="Анна Смирнова")
    card = make_client(
        acting_user=hunter,
        name="Салон «Шарм»",
        address="ул. Мира, 7",
        city="Сургут",
        phones=["8 912 410-22-03", "8 (3462) 55-12-34 доб. 123"],
        decision_maker_name="Ирина Викторовна",
        decision_maker_email="director@sharm.ru",
    )
    contact_add(acting_user=hunter, client=card, name="Алёна Шарманова", phone="+7 912 777-66-55")
    deal = make_deal(acting_user=hunter, client=card, title="Пробная партия")
    log_activity(
        hunter,
        ActivityKind.CALL,
        at=timezone.now(),
        client=card,
        deal=deal,
        next_contact_on=timezone.localdate(),
    )
    make_client(acting_user=other, name="Салон «Шарм-Люкс»", phones=["+7 912 000-11-22"])

    sign_in(phone, hunter.username)

    # «Мой день»: today's task calls the client.
    expect(phone.locator("#tasks")).to_contain_text("Салон «Шарм»")
    expect(phone.locator('#tasks a[href="tel:+79124102203"]')).to_be_visible()
    expect(phone.locator('#tasks a[href="https://wa.me/79124102203"]')).to_be_visible()

    # The search box sits in the bar on a phone, with no menu to open first.
    box = phone.get_by_role("searchbox", name="Поиск: клиенты, сделки, контакты")
    expect(box).to_be_visible()
    box.tap()
    box.fill("шарм")
    results = phone.locator("#header-search-results")
    expect(results).to_contain_text("Салон «Шарм»")
    expect(results).to_contain_text("Пробная партия")
    expect(results).to_contain_text("Алёна Шарманова")
    expect(results).not_to_contain_text("Шарм-Люкс")  # another hunter's client
    expect(results.locator('a[href="tel:+79124102203"]')).to_be_visible()
    phone_screenshot(phone, "phone-search")

    # The deal from the results: the client's phones and the decision maker at the top.
    results.locator(f'a[href="/deals/{deal.pk}/"]').tap()
    reach = phone.locator("#client-reach")
    expect(reach.locator('a[href="tel:+79124102203"]')).to_be_visible()
    expect(reach.locator('a[href="tel:+73462551234,123"]')).to_contain_text("+7 3462 55-12-34 доб. 123")
    expect(reach.locator('a[href="https://wa.me/79124102203"]')).to_be_visible()
    expect(reach.locator('a[href="https://t.me/+79124102203"]')).to_be_visible()
    expect(reach.locator('a[href^="https://yandex.ru/maps/?text="]')).to_contain_text("ул. Мира, 7")
    expect(phone.locator("#decision-maker")).to_contain_text("Ирина Викторовна")
    expect(phone.locator('#decision-maker a[href="mailto:director@sharm.ru"]')).to_be_visible()
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    phone.screenshot(
        path=str(SCREENSHOT_DIR / "phone-contact.png")
    )  # the top of the page, as a phone shows it

    # The board: the card calls the client too.
    phone.goto("/deals/board/")
    card_links = phone.locator("article.board-card").filter(has_text="Салон «Шарм»")
    expect(card_links.locator('a[href="tel:+79124102203"]')).to_have_count(1)
    expect(card_links.locator('a[href="https://wa.me/79124102203"]')).to_have_count(1)


def test_the_hunters_pages_fit_the_phone_without_sideways_scrolling(phone):
    hunter = UserFactory(role=Role.HUNTER, full_name="Иван Иванов")
    card = make_client(
        acting_user=hunter,
        name="Общество с ограниченной ответственностью «Сургутская гостиничная компания»",
        address="г. Сургут, проспект Ленина, д. 43, корпус 2, офис 315 (вход со двора)",
        city="Сургут",
        phones=["8 912 410-22-03", "8 (3462) 55-12-34 доб. 123"],
        decision_maker_name="Ирина Викторовна",
        decision_maker_email="zakupki.director@surgut-hotels.example.ru",
    )
    contact_add(acting_user=hunter, client=card, name="Алёна Шарманова", phone="+7 912 777-66-55")
    deal = make_deal(acting_user=hunter, client=card, title="Химия для прачечной на весь сезон")
    sign_in(phone, hunter.username)

    for path in (
        reverse("clients:detail", args=[card.pk]),
        reverse("deals:detail", args=[deal.pk]),
        reverse("deals:board"),
        reverse("kpi:my_day"),
        reverse("compensation:my_statement"),
        reverse("clients:list"),
    ):
        phone.goto(path)
        expect(phone.locator("main")).to_be_visible()
        width, window = phone.evaluate("[document.documentElement.scrollWidth, innerWidth]")
        assert width <= window == 390, f"{path}: {width} px wide on a {window} px phone"
