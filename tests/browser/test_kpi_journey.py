"""The head sets a month's plans, hunters log their work, the dashboard shows it with best and worst."""

import re

from django.utils import timezone
from playwright.sync_api import expect

from accounts.roles import Role
from tests.browser.helpers import sign_in
from tests.deals.factories import make_client
from tests.factories import UserFactory


def log_activity(page, kind: str, client: str, outcome: str) -> None:
    page.goto("/kpi/my/")
    form = page.locator("#activity")
    form.get_by_role("link", name="Записать активность").click()  # the form opens in place
    form.get_by_label("Что было").select_option(label=kind)
    form.get_by_label("Клиент").select_option(label=client)
    form.get_by_label("Итог").fill(outcome)
    form.get_by_role("button", name="Записать").click()
    expect(page.locator(".alert-success")).to_contain_text("Записано")


def test_head_sets_plans_hunters_log_activities_and_the_dashboard_shows_them(page, new_page, screenshot):
    head = UserFactory(role=Role.SALES_HEAD, full_name="Ольга Петрова")
    ivanov = UserFactory(role=Role.HUNTER, full_name="Иван Иванов", extension="101")
    smirnova = UserFactory(role=Role.HUNTER, full_name="Анна Смирнова", extension="102")
    make_client(acting_user=ivanov, name="Кафе «Северное»")
    make_client(acting_user=smirnova, name="Гостиница «Обь»")
    month = f"{timezone.localdate():%Y-%m}"

    sign_in(page, head.username)
    page.locator("nav").get_by_role("link", name="Планы").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Планы на")
    for hunter in (ivanov, smirnova):
        row = page.locator("tr", has_text=hunter.full_name)
        row.get_by_label(f"{hunter.full_name}: Выручка, ₽").fill("300000")
        row.get_by_label(f"{hunter.full_name}: Сделки").fill("2")
        # Every cell of a plan is filled: 0 means no target for that counter, an empty row means no plan.
        row.get_by_label(f"{hunter.full_name}: Лиды").fill("0")
        row.get_by_label(f"{hunter.full_name}: Звонки").fill("0")
        row.get_by_label(f"{hunter.full_name}: Встречи").fill("2")
        row.get_by_label(f"{hunter.full_name}: Сообщения").fill("1")
    page.get_by_role("button", name="Сохранить планы").click()
    expect(page.locator(".alert-success")).to_contain_text("сохранены")
    screenshot(page, "plan-grid")

    hunter_page = new_page()
    sign_in(hunter_page, ivanov.username)
    log_activity(hunter_page, "Встреча", "Кафе «Северное»", "Провёл презентацию")
    log_activity(hunter_page, "Встреча", "Кафе «Северное»", "Обсудили пробную партию")
    log_activity(hunter_page, "Сообщение", "Кафе «Северное»", "Отправил прайс в WhatsApp")
    expect(hunter_page.locator("#plan")).to_contain_text("Встречи")
    expect(hunter_page.locator("#plan")).to_contain_text("2 / 2")
    screenshot(hunter_page, "my-day")

    other_page = new_page()
    sign_in(other_page, smirnova.username)
    log_activity(other_page, "Сообщение", "Гостиница «Обь»", "Написала ЛПР")

    page.goto(f"/kpi/?month={month}")
    board = page.locator("#results")
    ivanov_row = board.locator("tr", has_text="Иван Иванов")
    smirnova_row = board.locator("tr", has_text="Анна Смирнова")
    expect(ivanov_row.locator("[data-column=meetings]")).to_contain_text("2")
    expect(ivanov_row.locator("[data-column=meetings]")).to_have_class(re.compile("cell-best"))
    expect(smirnova_row.locator("[data-column=meetings]")).to_have_class(re.compile("cell-worst"))
    expect(smirnova_row.locator("[data-column=messages]")).to_contain_text("1")
    expect(page.locator("#funnel")).to_be_visible()
    screenshot(page, "kpi-dashboard")
