"""A hunter in the field enters an order on a phone: a price with a decimal comma, lines added and removed,
the running total and the units as typed, then the order saved and shown as it was typed."""

from decimal import Decimal

from playwright.sync_api import expect

from accounts.roles import Role
from deals.models import Order
from deals.stages import Stage
from deals.units import Unit
from tests.browser.conftest import SCREENSHOT_DIR
from tests.browser.helpers import PHONE, sign_in
from tests.browser.test_role_journeys import Console
from tests.deals.factories import Pipeline, make_client, make_deal, make_product
from tests.factories import UserFactory


def test_hunter_enters_an_order_with_a_decimal_comma_price_on_a_phone(phone):
    console = Console()
    console.watch(phone)
    hunter = UserFactory(role=Role.HUNTER, full_name="Иван Иванов")
    pipeline = Pipeline(
        hunter=hunter,
        production=UserFactory(role=Role.PRODUCTION),
        accountant=UserFactory(role=Role.ACCOUNTANT),
    )
    make_product(
        name="Мыло жидкое 5 л", unit=Unit.CANISTER, list_price=Decimal("250.00"), cost=Decimal("150")
    )
    make_product(name="Антисептик для рук 1 л", unit=Unit.BOTTLE, list_price=Decimal("390.00"))
    deal = pipeline.advance_to(
        make_deal(acting_user=hunter, client=make_client(acting_user=hunter, name="Кафе «Уют»")), Stage.DEAL
    )
    sign_in(phone, hunter.username)
    phone.goto(f"/deals/{deal.pk}/#order")

    order = phone.locator("#order")
    first = order.get_by_role("group", name="Позиция 1")
    first.get_by_label("Товар").select_option(label="Мыло жидкое 5 л — 250,00 ₽ / канистра")
    first.get_by_label("Количество").fill("10")
    first.get_by_label("Цена, ₽").fill("237,50")
    expect(first.locator(".input-group-text")).to_have_text("канистр")
    expect(first.locator("[data-line-total]")).to_have_text("= 2\u00a0375,00\u00a0₽")
    expect(order.locator("[data-order-total]")).to_have_text("2\u00a0375,00\u00a0₽")

    # A second line (at the list price), then taken out again: the total follows.
    order.get_by_role("button", name="Добавить позицию").tap()
    second = order.get_by_role("group", name="Позиция 2")
    second.get_by_label("Товар").select_option(label="Антисептик для рук 1 л — 390,00 ₽ / бутылка")
    second.get_by_label("Количество").fill("1,5")
    expect(second.locator(".input-group-text")).to_have_text("бутылки")
    expect(order.locator("[data-order-total]")).to_have_text("2\u00a0960,00\u00a0₽")
    # «1.500» could be 1,5 or 1 500: the total says it cannot tell rather than guess.
    second.get_by_label("Количество").fill("1.500")
    expect(order.locator("[data-order-total]")).to_have_text("—")
    second.get_by_role("button", name="Убрать позицию").tap()
    expect(order.get_by_role("group", name="Позиция 2")).to_have_count(0)
    expect(order.locator("[data-order-total]")).to_have_text("2\u00a0375,00\u00a0₽")

    widths = phone.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert widths[0] <= widths[1], f"page {widths[0]} px wide in a {widths[1]} px window"
    order.scroll_into_view_if_needed()
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    order.screenshot(path=str(SCREENSHOT_DIR / "phone-order-form.png"))

    order.get_by_role("button", name="Сохранить заказ").tap()
    expect(phone.locator(".alert-success")).to_contain_text("Заказ сохранён и отправлен на согласование")
    saved = Order.objects.get(deal=deal)
    assert list(saved.lines.values_list("quantity", "price")) == [(Decimal("10"), Decimal("237.50"))]
    assert saved.total == Decimal("2375.00")
    versions = phone.locator("#order-versions")
    expect(versions).to_contain_text("10 канистр")
    expect(versions).to_contain_text("237,50 ₽")
    expect(versions.locator("tfoot")).to_contain_text("2 375,00 ₽")
    # The form shows the order back as it was typed: «10» and «237,50», not «10.000» or «237.50».
    again = phone.locator("#order").get_by_role("group", name="Позиция 1")
    expect(again.get_by_label("Количество")).to_have_value("10")
    expect(again.get_by_label("Цена, ₽")).to_have_value("237,50")
    expect(phone.locator("#order [data-order-total]")).to_have_text("2\u00a0375,00\u00a0₽")
    console.assert_clean()


def test_without_javascript_the_order_form_still_saves_and_removes_lines(browser, migrated_data, live_server):
    """The basic submit needs no script: the page shows one empty row more, and a box takes a line out."""
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False, **PHONE)
    page = context.new_page()
    page.set_default_timeout(15_000)
    hunter = UserFactory(role=Role.HUNTER)
    pipeline = Pipeline(
        hunter=hunter,
        production=UserFactory(role=Role.PRODUCTION),
        accountant=UserFactory(role=Role.ACCOUNTANT),
    )
    make_product(name="Мыло жидкое 5 л", unit=Unit.CANISTER, list_price=Decimal("250.00"))
    make_product(name="Перчатки", unit=Unit.PAIR, list_price=Decimal("90.00"))
    deal = pipeline.advance_to(make_deal(acting_user=hunter), Stage.DEAL)
    sign_in(page, hunter.username)
    page.goto(f"/deals/{deal.pk}/")

    order = page.locator("#order")
    expect(order.get_by_role("button", name="Добавить позицию")).to_be_hidden()
    first = order.get_by_role("group", name="Позиция 1")
    first.get_by_label("Товар").select_option(label="Мыло жидкое 5 л — 250,00 ₽ / канистра")
    first.get_by_label("Количество").fill("2,5")
    first.get_by_label("Цена, ₽").fill("237,50")
    order.get_by_role("button", name="Сохранить заказ").click()
    expect(page.locator(".alert-success")).to_contain_text("Заказ сохранён")
    assert list(Order.objects.get(deal=deal).lines.values_list("quantity", "price")) == [
        (Decimal("2.5"), Decimal("237.50"))
    ]

    # The saved line and one empty row: the line is ticked out and gloves go in the empty row.
    order = page.locator("#order")
    order.get_by_role("group", name="Позиция 1").get_by_label("Убрать позицию").check()
    second = order.get_by_role("group", name="Позиция 2")
    second.get_by_label("Товар").select_option(label="Перчатки — 90,00 ₽ / пара")
    second.get_by_label("Количество").fill("3")
    order.get_by_role("button", name="Сохранить заказ").click()
    expect(page.locator(".alert-success")).to_contain_text("Заказ сохранён")
    saved = Order.objects.get(deal=deal)
    assert list(saved.lines.values_list("product__name", "quantity", "price")) == [
        ("Перчатки", Decimal("3"), Decimal("90.00"))
    ]
    expect(page.locator("#order-total")).to_contain_text("270,00 ₽")
    context.close()
