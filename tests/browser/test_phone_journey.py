"""A hunter's day in the field, on a phone (390×844, touch): the board one stage at a time with each card
moved from its menu in place, a next contact agreed at a meeting done from «Мой день», the deal's whole
story on its page, and an expense claimed for the meeting. One desktop check: a card dropped on an earlier
column asks for the comment in place.

Every page is watched for CSP refusals, JavaScript errors and server errors (as in test_role_journeys)."""

import re
from datetime import time, timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.roles import Role
from compensation.models import Expense
from deals.models import Deal, StageChange
from deals.services import contact_add
from deals.stages import Stage
from kpi.models import Activity, ActivityKind, Task
from kpi.services import activity_log
from onboarding.models import Section
from onboarding.models import TestAttempt as Attempt
from onboarding.services import section_acknowledge, section_save
from tests.browser.conftest import SCREENSHOT_DIR
from tests.browser.helpers import sign_in
from tests.browser.test_role_journeys import Console
from tests.deals.factories import Pipeline, make_client, make_deal, make_deal_due
from tests.factories import UserFactory

RECEIPT_PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture
def hunter(migrated_data):
    """A hunter who has read the regulations and passed the test (no onboarding banner)."""
    hunter = UserFactory(role=Role.HUNTER, full_name="Иван Иванов", extension="101")
    head = UserFactory(role=Role.SALES_HEAD, full_name="Ольга Петрова")
    section = Section.objects.create(slug="rules", title="Правила отдела")
    section_save(acting_user=head, section=section, body="Звоним клиенту в день, о котором договорились.")
    section_acknowledge(acting_user=hunter, section=section)
    Attempt.objects.create(user=hunter, score=100, pass_mark=80, passed=True)
    return hunter


def phone_screen(page, name: str) -> None:
    """What the phone's screen shows now, not the whole page (into SCREENSHOT_DIR, as ``screenshot``)."""
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT_DIR / f"{name}.png"))


@pytest.fixture
def pipeline(hunter):
    production = UserFactory(role=Role.PRODUCTION, full_name="Сергей Кузнецов")
    accountant = UserFactory(role=Role.ACCOUNTANT, full_name="Евгения Шибанова")
    return Pipeline(hunter=hunter, production=production, accountant=accountant)


def scroll_y(page) -> float:
    return page.evaluate("window.scrollY")


def test_phone_board_moves_a_card_forward_and_back_in_place(phone, hunter):
    console = Console()
    console.watch(phone)
    # Twelve leads ready for «Звонок» (name, address, phone), more than a phone's screen holds.
    names = [f"Кафе №{number}" for number in range(1, 13)]
    for name in names:
        make_deal(acting_user=hunter, client=make_client(acting_user=hunter, name=name))
    sign_in(phone, hunter.username)

    phone.goto("/deals/board/")
    lead = phone.locator("[data-stage=lead]")
    expect(lead).to_be_visible()
    expect(phone.locator("[data-stage=call]")).to_be_hidden()  # one stage at a time
    expect(phone.locator("#tab-count-lead")).to_have_text("12")
    expect(phone.locator("#tab-count-call")).to_have_text("0")
    # Each card calls its client in one tap.
    first_card = lead.locator("article.board-card", has_text="Кафе №1").first
    expect(first_card.locator('a[href^="tel:"]')).to_be_visible()
    phone_screen(phone, "phone-board-stage")

    # Forward from the card's menu, scrolled down the column: the card leaves, the counts change, and
    # the stage and the scroll position stay where they were.
    card = lead.locator("article.board-card", has_text="Кафе №9")
    card.evaluate("card => window.scrollTo(0, card.getBoundingClientRect().top + window.scrollY - 300)")
    before = scroll_y(phone)
    assert before > 0
    card.locator("summary").tap()
    card.get_by_role("button", name="Вперёд: «Звонок»").tap()
    expect(card).to_have_count(0)
    expect(phone.locator("#tab-count-lead")).to_have_text("11")
    expect(phone.locator("#tab-count-call")).to_have_text("1")
    expect(phone.locator("#board-notice")).to_contain_text("перешла на этап «Звонок»")
    assert abs(scroll_y(phone) - before) < 2
    assert "stage=" not in phone.url or "stage=lead" in phone.url
    expect(lead).to_be_visible()
    assert Deal.objects.get(client__name="Кафе №9").stage == Stage.CALL

    # The «Звонок» tab: switched in place and kept in the address; the card is there.
    phone.locator("[data-stage-tab=call]").tap()
    expect(phone.locator("[data-stage=call]")).to_be_visible()
    expect(lead).to_be_hidden()
    assert phone.url.endswith("?stage=call")
    moved = phone.locator("[data-stage=call] article.board-card", has_text="Кафе №9")
    expect(moved).to_be_visible()

    # Back, with the comment asked for in the card itself.
    moved.locator("summary").tap()
    moved.get_by_role("link", name="Вернуть на прежний этап…").tap()
    expect(moved.get_by_label("Вернуть на этап")).to_have_value("lead")
    moved.get_by_label("Почему возвращаете").fill("Телефон не тот: уточню в 2ГИС")
    phone.locator("#board-notice .btn-close").tap()  # the notice floats over the cards until closed
    expect(phone.locator("#board-notice .alert")).to_have_count(0)
    phone.evaluate("window.scrollTo(0, 0)")
    phone_screen(phone, "phone-board")
    moved.get_by_role("button", name="Вернуть", exact=True).tap()
    expect(moved).to_have_count(0)
    expect(phone.locator("#tab-count-call")).to_have_text("0")
    expect(phone.locator("#tab-count-lead")).to_have_text("12")
    assert phone.url.endswith("?stage=call")
    back = StageChange.objects.filter(kind=StageChange.Kind.BACK).get()
    assert (back.from_stage, back.to_stage, back.comment) == ("call", "lead", "Телефон не тот: уточню в 2ГИС")

    # A reload keeps the chosen stage.
    phone.reload()
    expect(phone.locator("[data-stage=call]")).to_be_visible()
    expect(phone.locator("[data-stage-tab=call]")).to_have_class(re.compile(r"\bactive\b"))
    console.assert_clean()


def test_a_meetings_next_contact_is_a_task_done_from_my_day(phone, hunter):
    console = Console()
    console.watch(phone)
    client = make_client(acting_user=hunter, name="Гостиница «Обь»")
    deal = make_deal(acting_user=hunter, client=client, title="Химия для прачечной")
    cafe = make_client(acting_user=hunter, name="Кафе «Северное»")
    sign_in(phone, hunter.username)

    # At the client's: the meeting logged from the deal's page, the next contact agreed for today at 16:30.
    phone.goto(f"/deals/{deal.pk}/")
    phone.get_by_role("link", name="Записать активность").tap()
    expect(phone.get_by_label("Сделка")).to_have_value(str(deal.pk))
    expect(phone.get_by_label("Сделка").locator("option:checked")).to_have_text(
        "Гостиница «Обь» — Химия для прачечной (Выборка потенциальных клиентов)"
    )
    phone.get_by_label("Что было").select_option(label="Встреча")
    phone.get_by_label("Итог").fill("Показал пробники, ждут прайс на 20 л")
    phone.get_by_label("Следующий контакт").fill(timezone.localdate().isoformat())
    phone.get_by_label("Во сколько").fill("16:30")
    phone.get_by_role("button", name="Записать").tap()
    expect(phone.locator(".alert-success")).to_contain_text("Записано: Встреча")

    # A message to another client, with a next contact yesterday: overdue.
    activity_log(
        acting_user=hunter,
        kind=ActivityKind.MESSAGE,
        client=cafe,
        outcome="Отправил КП в WhatsApp",
        next_contact_on=timezone.localdate() - timedelta(days=1),
    )
    phone.goto("/kpi/my/")
    tasks = phone.locator("#tasks")
    expect(phone.locator("#task-count")).to_have_text("2")
    meeting_task = tasks.locator("li.task", has_text="Гостиница «Обь»")
    expect(meeting_task).to_contain_text("связаться сегодня в 16:30")
    expect(meeting_task).to_contain_text("Договорились: Показал пробники, ждут прайс на 20 л")
    expect(tasks.locator("li.task", has_text="Кафе «Северное»")).to_contain_text("просрочено с")
    expect(meeting_task.locator('a[href^="tel:"]')).to_be_visible()  # one tap to call back
    tasks.scroll_into_view_if_needed()
    phone_screen(phone, "phone-my-day")

    meeting_task.scroll_into_view_if_needed()
    before = scroll_y(phone)
    meeting_task.get_by_role("button", name="Готово").tap()
    expect(meeting_task).to_have_count(0)
    expect(phone.locator("#task-count")).to_have_text("1")
    expect(phone.locator("#task-notice")).to_contain_text("Задача выполнена: Гостиница «Обь»")
    assert abs(scroll_y(phone) - before) < 2
    task = Task.objects.get(deal=deal)
    assert task.status == Task.Status.DONE and task.closed_by == hunter
    assert Deal.objects.get(pk=deal.pk).next_contact_on is None

    # The overdue one is put off to tomorrow: it leaves today's list, and nothing is left.
    tasks.locator("li.task", has_text="Кафе «Северное»").get_by_role("button", name="На завтра").tap()
    expect(phone.locator("#tasks li.task")).to_have_count(0)
    expect(phone.locator("#tasks-empty")).to_contain_text("На сегодня задач нет.")
    assert Task.objects.get(status=Task.Status.OPEN).due_on == timezone.localdate() + timedelta(days=1)

    # The deal's page tells its story: the meeting and the task it agreed.
    phone.goto(f"/deals/{deal.pk}/")
    timeline = phone.locator("#timeline")
    expect(timeline).to_contain_text("Встреча: Показал пробники, ждут прайс на 20 л")
    expect(timeline).to_contain_text("Сделка создана на этапе «Выборка потенциальных клиентов»")
    console.assert_clean()


def test_the_deals_story_on_a_phone(phone, hunter, pipeline):
    deal = make_deal(acting_user=hunter, client=make_client(acting_user=hunter, name="Салон «Лотос»"))
    deal = pipeline.advance_to(deal, Stage.SHIPMENT)
    activity_log(
        acting_user=hunter,
        kind=ActivityKind.CALL,
        client=deal.client,
        deal=deal,
        outcome="Уточнил адрес доставки",
        next_contact_on=timezone.localdate() + timedelta(days=2),
    )
    contact_add(
        acting_user=hunter,
        client=deal.client,
        name="Мария Соколова",
        position="управляющая",
        phone="+79501112233",
    )
    sign_in(phone, hunter.username)
    phone.goto(f"/deals/{deal.pk}/")
    # At the top: the client's phones and contacts, each called in one tap.
    expect(phone.locator('#client-reach a[href^="tel:"]').first).to_be_in_viewport()
    expect(phone.locator("#client-contacts")).to_contain_text("Мария Соколова")
    expect(phone.locator('#client-contacts a[href="tel:+79501112233"]')).to_be_visible()
    phone_screen(phone, "phone-deal-top")
    timeline = phone.locator("#timeline")
    for text in (
        "Звонок: Уточнил адрес доставки",
        "Этап: «Сделка» → «Контроль отгрузки»",
        "Счёт №",
        "Заказ, версия №1",
        "Производство согласовало версию №1",
        "КП отправлено на director@example.ru",
    ):
        expect(timeline).to_contain_text(text)
    expect(phone.locator("#next-contact")).to_contain_text("Уточнил адрес доставки")
    # On a phone the story is far below the stage forms: a link at the top leads to it.
    phone.get_by_role("link", name="Ход сделки").tap()
    expect(timeline).to_be_in_viewport()
    phone_screen(phone, "phone-deal")


def test_an_expense_claimed_for_a_meeting_on_a_phone(phone, hunter, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    console = Console()
    console.watch(phone)
    client = make_client(acting_user=hunter, name="Ресторан «Сургут»")
    at = timezone.localtime().replace(hour=11, minute=15, second=0, microsecond=0)
    meeting = activity_log(
        acting_user=hunter, kind=ActivityKind.MEETING, client=client, at=at, outcome="Дегустация средств"
    )
    sign_in(phone, hunter.username)
    phone.goto("/compensation/expenses/")
    phone.get_by_label("Сумма, ₽").fill("850")
    # Named by the local time of the meeting and the client (not UTC, not «Сделка №…»).
    phone.get_by_label("Встреча с клиентом").select_option(label=f"{at:%d.%m} 11:15 — Ресторан «Сургут»")
    phone.get_by_label("Что оплачено").fill("Такси до ресторана и обратно")
    phone.get_by_label("Чек (PDF или фото)").set_input_files(
        {"name": "chek.pdf", "mimeType": "application/pdf", "buffer": RECEIPT_PDF}
    )
    phone.get_by_label("Сумма, ₽").scroll_into_view_if_needed()
    phone_screen(phone, "phone-expense")
    phone.get_by_role("button", name="Отправить руководителю").tap()
    expect(phone.locator(".alert-success")).to_contain_text("Заявка на возмещение отправлена")
    expense = Expense.objects.get()
    assert expense.meeting == meeting and expense.hunter == hunter
    expect(phone.locator("main")).to_contain_text(f"Ресторан «Сургут», {at:%d.%m.%Y} 11:15")
    assert Activity.objects.count() == 1
    console.assert_clean()


def test_desktop_drop_on_an_earlier_column_asks_for_the_comment_in_place(page, hunter, pipeline):
    console = Console()
    console.watch(page)
    deal = pipeline.advance_to(
        make_deal(acting_user=hunter, client=make_client(acting_user=hunter, name="Кафе «Южное»")),
        Stage.SAMPLES,
    )
    sign_in(page, hunter.username)
    page.goto("/deals/board/")
    board = page.locator("#board-columns")
    board.evaluate("board => { board.scrollLeft = 200; }")
    card = page.locator("article.board-card", has_text="Кафе «Южное»")
    card.drag_to(page.locator("[data-stage=call]"))
    # Nothing moved yet: the card's own form is open on «Звонок», waiting for the comment.
    expect(card.get_by_label("Вернуть на этап")).to_have_value("call")
    expect(card.get_by_label("Почему возвращаете")).to_be_focused()
    assert Deal.objects.get(pk=deal.pk).stage == Stage.SAMPLES
    card.get_by_label("Почему возвращаете").fill("ЛПР сменился, звоним заново")
    card.get_by_role("button", name="Вернуть", exact=True).click()
    expect(page.locator("#board-notice")).to_contain_text("перешла на этап «Звонок»")
    expect(page.locator("[data-stage=call] article.board-card", has_text="Кафе «Южное»")).to_be_visible()
    expect(page.locator("[data-stage=samples] article.board-card")).to_have_count(0)
    expect(page.locator("#stats-samples .board-count")).to_have_text("0")
    assert board.evaluate("board => board.scrollLeft") == 200
    assert Deal.objects.get(pk=deal.pk).stage == Stage.CALL
    console.assert_clean()


def test_a_long_column_and_a_long_day_show_more_in_place_on_a_phone(phone, hunter, monkeypatch):
    from deals import selectors as deal_selectors
    from kpi import selectors as kpi_selectors

    monkeypatch.setattr(deal_selectors, "BOARD_COLUMN_PAGE", 2)
    monkeypatch.setattr(kpi_selectors, "TASK_PAGE", 2)
    today = timezone.localdate()
    for number in range(5):
        make_deal_due(hunter=hunter, name=f"Кафе №{number}", on=today, at=time(10 + number))
    console = Console()
    console.watch(phone)
    sign_in(phone, hunter.username)

    phone.goto("/deals/board/")
    column = phone.locator("[data-stage=lead]")
    expect(column.locator(".board-card")).to_have_count(2)
    expect(column.locator(".board-more")).to_contain_text("Показаны 2 из 5.")
    column.get_by_role("link", name="Показать ещё").tap()
    expect(column.locator(".board-card")).to_have_count(4)
    expect(column.locator(".board-more")).to_contain_text("Показаны 4 из 5.")
    before = scroll_y(phone)
    column.get_by_role("link", name="Показать ещё").tap()
    expect(column.locator(".board-card")).to_have_count(5)
    expect(column.get_by_role("link", name="Показать ещё")).to_have_count(0)
    assert scroll_y(phone) >= before  # the page stays where the reader was
    # A card added by «Показать ещё» moves from its menu like the first ones.
    card = column.locator(".board-card", has_text="Кафе №0")
    card.locator("summary").tap()
    card.get_by_role("button", name="Вперёд: «Звонок»").tap()
    expect(column.locator(".board-card", has_text="Кафе №0")).to_have_count(0)
    assert Deal.objects.get(client__name="Кафе №0").stage == Stage.CALL

    phone.goto("/kpi/my/")
    tasks = phone.locator("#task-list")
    expect(tasks.locator("li.task")).to_have_count(2)
    expect(phone.locator("#task-count")).to_have_text("5")
    tasks.locator("li.task").first.get_by_role("button", name="Готово").tap()
    expect(tasks.locator("li.task")).to_have_count(1)
    phone.get_by_role("link", name="Показать ещё (осталось: 3)").tap()
    expect(tasks.locator("li.task")).to_have_count(3)
    expect(tasks.locator("li.task").nth(1)).to_contain_text("Кафе №2")  # none skipped by the one done
    phone_screen(phone, "phone-my-day-more")
    console.assert_clean()
