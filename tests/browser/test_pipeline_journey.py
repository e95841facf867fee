"""A hunter's day in the browser: a new client, a deal driven from stage 1 to stage 6, a refusal explained."""

import io
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone
from playwright.sync_api import expect

from accounts.roles import Role
from deals.models import Deal, Product
from deals.units import Unit
from tests.browser.helpers import sign_in
from tests.factories import UserFactory


def advance(page):
    page.get_by_role("button", name="Следующий этап").click()


def test_hunter_drives_a_deal_from_lead_to_deal_stage(page, new_page, screenshot):
    hunter = UserFactory(role=Role.HUNTER, full_name="Иван Иванов")
    production = UserFactory(role=Role.PRODUCTION, full_name="Сергей Кузнецов")
    Product.objects.create(
        name="Мыло жидкое 5 л", unit=Unit.CANISTER, list_price=Decimal("1000"), cost=Decimal("700")
    )
    sign_in(page, hunter.username)

    # Stage 1: the client card.
    page.get_by_role("link", name="Клиенты").click()
    page.get_by_role("link", name="Новый клиент").click()
    page.get_by_label("Название").fill("Салон красоты «Лотос»")
    page.get_by_label("Адрес").fill("Сургут, пр. Мира, 7")
    page.get_by_label("Телефоны").fill("8 912 410-22-03")
    page.get_by_label("ЛПР: имя").fill("Ирина Викторовна")
    page.get_by_role("button", name="Сохранить").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Салон красоты «Лотос»")
    expect(page.locator("main")).to_contain_text("+7 912 410-22-03")
    page.get_by_role("link", name="Новая сделка").click()
    page.get_by_role("button", name="Создать").click()
    expect(page.locator("#checklist")).to_contain_text("Этап 1: Выборка потенциальных клиентов")
    advance(page)

    # Stage 2: a move before the call is logged is refused, and the page says what is missing.
    expect(page.locator("#checklist")).to_contain_text("Этап 2: Звонок")
    advance(page)
    refusal = page.locator(".alert-danger")
    expect(refusal).to_contain_text("не может перейти дальше")
    expect(refusal).to_contain_text("звонок записан с результатом")
    screenshot(page, "deal-refused-move")
    page.get_by_label("Результат звонка").select_option(label="Согласен получить пробники")
    page.get_by_label("Описание звонка").fill("Рассказал о профессиональной линейке, интересуются.")
    page.get_by_label("Описание клиента").fill("Три салона, закупают раз в месяц.")
    page.get_by_label("Рабочая почта ЛПР").fill("director@lotos.ru")
    page.get_by_role("button", name="Записать звонок").click()
    expect(page.locator("#checklist li.text-danger")).to_have_count(0)
    advance(page)

    # Stage 3: the proposal.
    expect(page.locator("#checklist")).to_contain_text("Этап 3: Отправка КП")
    page.get_by_label("Шаблон КП").fill("КП для салонов красоты")
    page.get_by_label("Когда отправлено").fill(timezone.localtime().strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("Дата обратного звонка").fill((timezone.localdate() + timedelta(days=2)).isoformat())
    page.get_by_role("button", name="Записать отправку КП").click()
    advance(page)

    # Stage 4: samples requested from production, which prepares and hands them over.
    expect(page.locator("#checklist")).to_contain_text("Этап 4: Передача пробников")
    page.get_by_role("group", name="Позиция 1").get_by_label("Товар").select_option(label="Мыло жидкое 5 л")
    page.get_by_label("Телефон получателя").fill("+7 912 000-11-22")
    page.get_by_label("Потенциальный оптовый объём").fill("40 л в месяц")
    page.get_by_role("button", name="Отправить заявку").click()
    expect(page.locator("main")).to_contain_text("Запрошены")
    factory = new_page()
    sign_in(factory, production.username)
    expect(factory.locator("#samples")).to_contain_text("Салон красоты «Лотос»")
    factory.get_by_role("button", name="Подготовлены").click()
    factory.get_by_role("button", name="Переданы клиенту").click()
    expect(factory.locator("#samples")).to_contain_text("Заявок на пробники нет")
    page.reload()
    advance(page)

    # Stage 5: follow-up until the client confirms.
    expect(page.locator("#checklist")).to_contain_text("Этап 5: Дожим")
    page.get_by_label("Итог контакта").fill("Пробники понравились, готовы заказать.")
    page.get_by_label("Клиент подтвердил желание купить").check()
    page.get_by_role("button", name="Записать контакт").click()
    advance(page)

    expect(page.locator("#checklist")).to_contain_text("Этап 6: Сделка")
    expect(page.locator("#checklist")).to_contain_text("Есть заказ с позициями")
    screenshot(page, "deal-page")
    deal = Deal.objects.get(client__name="Салон красоты «Лотос»")
    assert deal.stage == "deal"
    assert list(deal.stage_changes.values_list("to_stage", flat=True)) == [
        "lead",
        "call",
        "proposal",
        "samples",
        "follow_up",
        "deal",
    ]

    page.get_by_role("link", name="Воронка").click()
    expect(page.locator("[data-stage=deal]")).to_contain_text("Салон красоты «Лотос»")


def test_board_drag_and_drop_refusal_is_explained_and_the_card_stays(page):
    hunter = UserFactory(role=Role.HUNTER)
    from tests.deals.factories import make_client, make_deal

    deal = make_deal(acting_user=hunter, client=make_client(acting_user=hunter, name="Кафе «Северное»"))
    sign_in(page, hunter.username)
    page.goto("/deals/board/")
    card = page.locator("article.board-card", has_text="Кафе «Северное»")
    card.drag_to(page.locator("[data-stage=proposal]"))
    expect(page.locator("#board-notice")).to_contain_text("только на следующий этап")
    expect(page.locator("[data-stage=lead]")).to_contain_text("Кафе «Северное»")

    page.locator("article.board-card", has_text="Кафе «Северное»").drag_to(page.locator("[data-stage=call]"))
    expect(page.locator("#board-notice")).to_contain_text("перешла на этап «Звонок»")
    expect(page.locator("[data-stage=call]")).to_contain_text("Кафе «Северное»")
    assert Deal.objects.get(pk=deal.pk).stage == "call"


def test_head_sees_every_hunters_deals_on_the_board(page, screenshot):
    from django.core.management import call_command

    from accounts.demo import DEMO_PASSWORD

    call_command("seed_demo", stdout=io.StringIO())
    page.set_viewport_size({"width": 1920, "height": 1000})
    sign_in(page, "head", DEMO_PASSWORD)
    page.goto("/deals/board/")
    for stage in [
        "lead",
        "call",
        "proposal",
        "samples",
        "follow_up",
        "deal",
        "shipment",
        "payment",
        "closed",
    ]:
        expect(page.locator(f"[data-stage={stage}] .board-card").first).to_be_visible()
    expect(page.locator("[data-stage=call] .board-count")).to_have_text("2")
    expect(page.locator("[data-stage=call]")).to_contain_text("Анна Смирнова")
    screenshot(page, "board")
    page.locator("[data-stage=deal] .board-card a").first.click()
    expect(page.locator("#checklist")).to_contain_text("Этап 6: Сделка")
    screenshot(page, "deal-page-head")
