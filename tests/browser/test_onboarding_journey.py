"""A new hunter reads every section, fails the test once, passes it, and can then open a deal."""

from playwright.sync_api import expect

from accounts.roles import Role
from onboarding.demo import seed_demo_onboarding
from onboarding.models import Question
from tests.browser.helpers import sign_in
from tests.deals.factories import make_client
from tests.factories import UserFactory


def answer_test(page, *, correctly: bool) -> None:
    page.goto("/onboarding/test/")
    for question in Question.objects.prefetch_related("choices"):
        for choice in question.choices.all():
            box = page.locator(f"#c{choice.pk}")
            if choice.is_correct == correctly:
                box.check()
                if question.kind == "single":
                    break
    page.get_by_role("button", name="Завершить тест").click()


def test_new_hunter_finishes_onboarding_then_opens_a_deal(page, new_page, settings, screenshot):
    settings.ONBOARDING_REQUIRED_FOR_DEALS = True
    head = UserFactory(role=Role.SALES_HEAD, full_name="Ольга Петрова")
    hunter = UserFactory(role=Role.HUNTER, full_name="Павел Новиков")
    seed_demo_onboarding(author=head)
    client = make_client(acting_user=hunter, name="Кафе «Северное»")

    sign_in(page, hunter.username)
    expect(page.locator("#onboarding-banner")).to_be_visible()
    page.goto(f"/deals/new/?client={client.pk}")
    page.get_by_role("button", name="Создать").click()
    expect(page.locator("main")).to_contain_text("пройдите обучение")

    page.goto("/onboarding/")
    links = page.locator("main .list-group-item a")
    titles = links.all_inner_texts()
    for title in titles:
        page.goto("/onboarding/")
        page.get_by_role("link", name=title, exact=True).first.click()
        if title.startswith("Этап 4"):
            expect(page.locator("#criteria")).to_contain_text("Передача пробников подтверждена")
            screenshot(page, "regulation-stage")
        if title == "Условия оплаты":
            expect(page.locator("#scheme")).to_contain_text("10 000,00 ₽")
        page.get_by_role("button", name="Прочитал").click()
        expect(page.locator(".alert-success")).to_contain_text("прочитан")

    answer_test(page, correctly=False)
    expect(page.locator("main")).to_contain_text("Тест не сдан")
    answer_test(page, correctly=True)
    expect(page.locator("main")).to_contain_text("Тест сдан")
    screenshot(page, "test-result")

    page.goto(f"/deals/new/?client={client.pk}")
    expect(page.locator("#onboarding-banner")).to_have_count(0)
    page.get_by_role("button", name="Создать").click()
    expect(page.locator("#checklist")).to_contain_text("Этап 1")

    head_page = new_page()
    sign_in(head_page, head.username)
    head_page.goto("/onboarding/progress/")
    expect(head_page.locator("tr", has_text="Павел Новиков")).to_contain_text("да")
    screenshot(head_page, "onboarding-progress")
