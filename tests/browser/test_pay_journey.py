"""The accountant records a payment, the hunter sees its commission, a locked month stays as it was."""

from django.utils import timezone
from playwright.sync_api import expect

from accounts.roles import Role
from deals.stages import Stage
from tests.browser.helpers import sign_in
from tests.deals.factories import Pipeline, make_client, make_deal
from tests.factories import UserFactory


def record_payment(page, deal, amount: str, document: str) -> None:
    page.goto(f"/deals/{deal.pk}/")
    form = page.locator("#payment")
    form.get_by_label("Сумма, ₽").fill(amount)
    form.get_by_label("Дата поступления").fill(timezone.localdate().isoformat())
    form.get_by_label("Номер платёжного поручения").fill(document)
    form.get_by_role("button", name="Внести").click()
    expect(page.locator(".alert-success")).to_contain_text("Оплата внесена")


def test_payment_reaches_the_hunters_statement_and_a_locked_month_never_changes(page, new_page, screenshot):
    hunter = UserFactory(role=Role.HUNTER, full_name="Иван Иванов")
    accountant = UserFactory(role=Role.ACCOUNTANT, full_name="Евгения Шибанова")
    pipeline = Pipeline(hunter=hunter, production=UserFactory(role=Role.PRODUCTION), accountant=accountant)
    first = pipeline.advance_to(
        make_deal(acting_user=hunter, client=make_client(acting_user=hunter, name="Кафе «Уют»")),
        Stage.PAYMENT,
    )
    second = pipeline.advance_to(
        make_deal(acting_user=hunter, client=make_client(acting_user=hunter, name="Столовая «Вахта»")),
        Stage.PAYMENT,
    )

    sign_in(page, accountant.username)
    record_payment(page, first, "5000", "101")
    screenshot(page, "accountant-deal-payment")

    hunter_page = new_page()
    sign_in(hunter_page, hunter.username)
    hunter_page.get_by_role("link", name="Мой расчётный лист").click()
    lines = hunter_page.locator("#lines")
    expect(lines).to_contain_text("Кафе «Уют»")
    expect(lines.locator("tr[data-kind=commission]")).to_contain_text("250,00")
    screenshot(hunter_page, "statement")

    page.goto("/compensation/statements/")
    page.get_by_role("button", name="Закрыть месяц").click()
    expect(page.locator(".alert-success")).to_contain_text("Месяц закрыт")
    expect(page.locator("main")).to_contain_text("Закрыт бухгалтерией")
    screenshot(page, "statements-locked")

    record_payment(page, second, "5000", "102")
    hunter_page.reload()
    expect(hunter_page.locator("main")).to_contain_text("Закрыт бухгалтерией")
    expect(hunter_page.locator("#lines tr[data-kind=commission]")).to_have_count(1)
    expect(hunter_page.locator("#lines")).not_to_contain_text("Столовая «Вахта»")
