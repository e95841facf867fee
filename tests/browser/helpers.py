from playwright.sync_api import expect

from tests.factories import TEST_PASSWORD


def sign_in(page, username: str, password: str = TEST_PASSWORD) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Имя пользователя").fill(username)
    page.get_by_label("Пароль").fill(password)
    page.get_by_role("button", name="Войти").click()
    expect(page.locator("nav")).to_be_visible()
