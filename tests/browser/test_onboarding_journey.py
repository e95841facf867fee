"""A new hunter reads every section, sends a blank test (refused), fails the test, waits, passes it, and
can then open a deal."""

from datetime import timedelta

from playwright.sync_api import expect

from accounts.roles import Role
from onboarding.demo import seed_demo_onboarding
from onboarding.models import Question
from onboarding.models import TestAttempt as Attempt
from tests.browser.helpers import answer_the_drawn_test, sign_in
from tests.deals.factories import make_client
from tests.factories import UserFactory


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

    # A blank sheet is refused and does not count; the same questions stay on the page.
    page.goto("/onboarding/test/")
    asked = page.locator("fieldset.question legend").all_inner_texts()
    assert len(asked) == settings.ONBOARDING_TEST_QUESTIONS < Question.objects.count()
    page.get_by_role("button", name="Завершить тест").click()
    expect(page.locator("#test-error")).to_have_text(
        "Вы не ответили ни на один вопрос: попытка не засчитана."
    )
    assert page.locator("fieldset.question legend").all_inner_texts() == asked
    page.reload()
    assert page.locator("fieldset.question legend").all_inner_texts() == asked
    assert not Attempt.objects.exists()

    # A failed attempt names the wrong questions and where to read, never the right answers.
    answer_the_drawn_test(page, correctly=False)
    expect(page.locator("main")).to_contain_text("Тест не сдан")
    expect(page.locator("#wrong-questions li")).to_have_count(len(asked))
    expect(page.locator("#wrong-questions a").first).to_contain_text("Раздел:")
    expect(page.locator("main")).not_to_contain_text("Верно:")
    screenshot(page, "test-failed")
    page.goto("/onboarding/test/")
    expect(page.locator("#test-wait")).to_contain_text("Следующая попытка — с")
    screenshot(page, "test-wait")

    # The waiting time has passed: a new draw, and this time the right answers.
    failed = Attempt.objects.get()
    Attempt.objects.filter(pk=failed.pk).update(
        finished_at=failed.finished_at - timedelta(minutes=settings.ONBOARDING_RETRY_WAIT_MINUTES)
    )
    page.goto("/onboarding/test/")
    answer_the_drawn_test(page, correctly=True)
    expect(page.locator("main")).to_contain_text("Тест сдан")
    expect(page.locator("main")).to_contain_text("Верно:")
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
