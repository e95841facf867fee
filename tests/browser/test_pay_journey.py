"""The accountant records last month's payment, the hunter sees its commission, the head approves the
month, the accountant confirms and locks it, and the locked month stays as it was."""

import re
from datetime import timedelta

from django.utils import timezone
from playwright.sync_api import expect

from accounts.roles import Role
from deals.stages import Stage
from tests.browser.helpers import sign_in
from tests.deals.factories import Pipeline, make_client, make_deal
from tests.factories import UserFactory


def record_payment(page, deal, amount: str, document: str, received_on) -> None:
    page.goto(f"/deals/{deal.pk}/")
    form = page.locator("#payment")
    form.get_by_label("Сумма, ₽").fill(amount)
    form.get_by_label("Дата поступления").fill(received_on.isoformat())
    form.get_by_label("Номер платёжного поручения").fill(document)
    form.get_by_role("button", name="Внести").click()
    expect(page.locator(".alert-success")).to_contain_text("Оплата внесена")


def test_payment_reaches_the_hunters_statement_and_a_locked_month_never_changes(page, new_page, screenshot):
    hunter = UserFactory(role=Role.HUNTER, full_name="Иван Иванов")
    accountant = UserFactory(role=Role.ACCOUNTANT, full_name="Евгения Шибанова")
    head = UserFactory(role=Role.SALES_HEAD, full_name="Ольга Петрова")
    pipeline = Pipeline(hunter=hunter, production=UserFactory(role=Role.PRODUCTION), accountant=accountant)
    first = pipeline.advance_to(
        make_deal(acting_user=hunter, client=make_client(acting_user=hunter, name="Кафе «Уют»")),
        Stage.PAYMENT,
    )
    second = pipeline.advance_to(
        make_deal(acting_user=hunter, client=make_client(acting_user=hunter, name="Столовая «Вахта»")),
        Stage.PAYMENT,
    )

    last_month = timezone.localdate().replace(day=1) - timedelta(days=1)
    sign_in(page, accountant.username)
    record_payment(page, first, "5000", "101", last_month)
    screenshot(page, "accountant-deal-payment")

    hunter_page = new_page()
    sign_in(hunter_page, hunter.username)
    hunter_page.goto(f"/compensation/statements/{hunter.username}/{last_month:%Y-%m}/")
    lines = hunter_page.locator("#lines")
    expect(lines).to_contain_text("Кафе «Уют»")
    expect(lines.locator("tr[data-kind=commission]")).to_contain_text("250,00")
    screenshot(hunter_page, "statement")
    # On a phone the statement fits the screen: the payment's date and document go under its line.
    hunter_page.set_viewport_size({"width": 390, "height": 844})
    assert hunter_page.evaluate("document.documentElement.scrollWidth") <= 390
    expect(lines.locator("tr[data-kind=commission] .d-md-none")).to_contain_text(
        f"{last_month:%d.%m.%Y}, 101"
    )
    hunter_page.set_viewport_size({"width": 1280, "height": 900})

    month_page = f"/compensation/statements/?month={last_month:%Y-%m}"
    page.goto(month_page)
    expect(page.get_by_role("button", name="Утвердить")).to_have_count(0)  # the head's, not hers
    head_page = new_page()
    sign_in(head_page, head.username)
    head_page.goto(month_page)
    head_page.get_by_role("button", name="Утвердить черновики: 1").click()
    expect(head_page.locator(".alert-success")).to_contain_text("Утверждено расчётных листов: 1")

    page.goto(month_page)
    page.get_by_role("link", name="Закрыть месяц…").click()
    confirm = page.locator("#lock-confirm")
    expect(confirm).to_contain_text(re.compile(r"Иван Иванов — 250,00\s₽"))
    screenshot(page, "statements-lock-confirm")
    confirm.get_by_role("button", name="Закрыть расчётные листы: 1").click()
    expect(page.locator(".alert-success")).to_contain_text("Закрыто расчётных листов: 1")
    expect(page.locator("main")).to_contain_text("Закрыт бухгалтерией")
    screenshot(page, "statements-locked")

    record_payment(page, second, "5000", "102", last_month)
    hunter_page.reload()
    expect(hunter_page.locator("main")).to_contain_text("Закрыт бухгалтерией")
    expect(hunter_page.locator("#lines tr[data-kind=commission]")).to_have_count(1)
    expect(hunter_page.locator("#lines")).not_to_contain_text("Столовая «Вахта»")
    # The late payment counts in this month, marked as arriving after the lock.
    hunter_page.goto(f"/compensation/statements/{hunter.username}/{timezone.localdate():%Y-%m}/")
    expect(hunter_page.locator("#lines")).to_contain_text("Столовая «Вахта»")
    expect(hunter_page.locator("#lines")).to_contain_text("после закрытия месяца")
