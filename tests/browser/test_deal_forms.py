"""The deal page's rare forms open where their link was, on a phone and on a desktop, and without
JavaScript on a page of their own; a refused one comes back open with the reason."""

from decimal import Decimal

from django.utils import timezone
from playwright.sync_api import expect

from accounts.roles import Role
from deals.models import Deal, OrderVersion
from deals.services import payment_record
from deals.stages import Stage
from tests.browser.helpers import PHONE, sign_in
from tests.browser.test_role_journeys import Console
from tests.deals.factories import Pipeline, make_client, make_deal
from tests.factories import UserFactory


def pipeline_of(hunter) -> Pipeline:
    return Pipeline(
        hunter=hunter,
        production=UserFactory(role=Role.PRODUCTION),
        accountant=UserFactory(role=Role.ACCOUNTANT),
    )


def test_on_a_phone_the_hunter_opens_the_change_of_an_approved_order_in_place(phone, screenshot):
    console = Console()
    console.watch(phone)
    hunter = UserFactory(role=Role.HUNTER, full_name="Иван Иванов")
    pipeline = pipeline_of(hunter)
    client = make_client(acting_user=hunter, name="Кафе «Уют»")
    deal = pipeline.advance_to(make_deal(acting_user=hunter, client=client), Stage.PAYMENT)
    payment_record(
        acting_user=pipeline.accountant, deal=deal, amount=Decimal("1000"), received_on=timezone.localdate()
    )
    sign_in(phone, hunter.username)
    phone.goto(f"/deals/{deal.pk}/")

    order = phone.locator("#order")
    expect(order.get_by_role("group", name="Позиция 1")).to_have_count(0)
    order.get_by_role("link", name="Изменить заказ…").tap()
    first = order.get_by_role("group", name="Позиция 1")
    expect(first.get_by_label("Количество")).to_have_value("10")
    # The lines script took the form that arrived: lines are added in place and the total follows.
    order.get_by_role("button", name="Добавить позицию").tap()
    expect(order.get_by_role("group", name="Позиция 2")).to_be_visible()
    first.get_by_label("Количество").fill("12")
    expect(order.locator("[data-order-total]")).to_have_text("6\u00a0000,00\u00a0₽")
    assert phone.url.endswith(f"/deals/{deal.pk}/")  # still the deal page: opened in place

    back = phone.locator("#move_back")
    back.get_by_role("link", name="Вернуть на прежний этап…").tap()
    expect(back.get_by_label("Этап")).to_have_value("shipment")
    widths = phone.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert widths[0] <= widths[1], f"page {widths[0]} px wide in a {widths[1]} px window"
    phone.locator("#other-actions").scroll_into_view_if_needed()
    screenshot(phone, "phone-deal-move-back-opened", full_page=False)
    order.scroll_into_view_if_needed()
    screenshot(phone, "phone-deal-order-change-opened", full_page=False)

    order.get_by_label("Что изменилось и почему").fill("Вторая точка")
    order.get_by_role("button", name="Отправить изменение на согласование").tap()
    expect(phone.locator(".alert-success")).to_contain_text("сохранено как версия №2")
    assert OrderVersion.objects.filter(order__deal=deal, status=OrderVersion.Status.PENDING).exists()
    console.assert_clean()


def test_on_a_desktop_a_refused_refusal_comes_back_open_with_the_reason(page, screenshot):
    console = Console()
    console.watch(page)
    hunter = UserFactory(role=Role.HUNTER, full_name="Иван Иванов")
    deal = pipeline_of(hunter).advance_to(make_deal(acting_user=hunter), Stage.PROPOSAL)
    sign_in(page, hunter.username)
    page.goto(f"/deals/{deal.pk}/")

    lost = page.locator("#lost")
    lost.get_by_role("link", name="Отказ клиента…").click()
    expect(lost.get_by_label("Причина отказа")).to_be_visible()
    expect(page.locator("#move_back").get_by_role("link", name="Вернуть на прежний этап…")).to_be_visible()
    screenshot(page, "desktop-deal-lost-opened", full_page=False)
    lost.get_by_label("Комментарий").fill("Нашли дешевле")
    lost.get_by_role("button", name="Закрыть с отказом").click()

    expect(page.locator(".alert-danger")).to_contain_text("Не сохранено: исправьте ошибки в форме.")
    lost = page.locator("#lost")
    expect(lost).to_contain_text("Обязательное поле.")
    expect(lost.get_by_label("Комментарий")).to_have_value("Нашли дешевле")
    lost.get_by_label("Причина отказа").select_option(index=1)
    lost.get_by_role("button", name="Закрыть с отказом").click()
    expect(page.locator(".alert-success")).to_contain_text("Сделка закрыта с отказом.")
    assert Deal.objects.get(pk=deal.pk).status == "lost"
    console.assert_clean()


def test_without_javascript_the_link_leads_to_the_form_on_a_page_of_its_own(
    browser, migrated_data, live_server
):
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False, **PHONE)
    page = context.new_page()
    page.set_default_timeout(15_000)
    hunter = UserFactory(role=Role.HUNTER)
    deal = pipeline_of(hunter).advance_to(make_deal(acting_user=hunter), Stage.PROPOSAL)
    sign_in(page, hunter.username)
    page.goto(f"/deals/{deal.pk}/")

    page.get_by_role("link", name="Вернуть на прежний этап…").click()
    assert page.url.endswith(f"/deals/{deal.pk}/forms/move_back/")
    expect(page.get_by_label("Этап")).to_have_value("call")
    page.get_by_role("button", name="Вернуть", exact=True).click()
    # Refused without a comment: the deal page with the form open and the reason.
    expect(page.locator("#move_back")).to_contain_text("напишите комментарий")
    page.locator("#move_back").get_by_label("Комментарий").fill("Сменился ЛПР")
    page.locator("#move_back").get_by_role("button", name="Вернуть", exact=True).click()
    expect(page.locator(".alert-success")).to_contain_text("Сделка возвращена на прежний этап.")
    assert Deal.objects.get(pk=deal.pk).stage == Stage.CALL
    context.close()
