import pytest
from playwright.sync_api import expect

from accounts.roles import Role
from tests.factories import TEST_PASSWORD, UserFactory

HOME_HEADINGS = {
    Role.HUNTER: "Мой день",
    Role.SALES_HEAD: "Показатели отдела",
    Role.ACCOUNTANT: "Бухгалтерия: что сделать сегодня",
    Role.PRODUCTION: "Очередь производства",
}


def sign_in(page, username, password=TEST_PASSWORD):
    page.goto("/")
    expect(page).to_have_url("/accounts/login/?next=/")
    page.get_by_label("Имя пользователя").fill(username)
    page.get_by_label("Пароль").fill(password)
    page.get_by_role("button", name="Войти").click()


@pytest.mark.parametrize("role", list(HOME_HEADINGS))
def test_each_role_signs_in_and_sees_its_russian_home_page(page, screenshot, role):
    user = UserFactory(role=role, full_name="Иван Иванов")
    sign_in(page, user.username)
    expect(page.get_by_role("heading", level=1)).to_contain_text(HOME_HEADINGS[role])
    expect(page.locator("nav")).to_contain_text(str(role.label))
    screenshot(page, f"home-{role.value}")


def test_wrong_password_is_explained_and_sign_out_returns_to_sign_in(page, screenshot):
    user = UserFactory(role=Role.HUNTER)
    sign_in(page, user.username, "wrong-password")
    expect(page.locator("main")).to_contain_text("правильные имя пользователя и пароль")
    screenshot(page, "sign-in-refused")

    sign_in(page, user.username)
    expect(page.get_by_role("heading", level=1)).to_have_text("Мой день")
    page.get_by_role("button", name=user.full_name).click()
    page.get_by_role("button", name="Выйти").click()
    expect(page).to_have_url("/accounts/login/")


def test_navigation_collapses_into_a_menu_on_a_phone(page):
    user = UserFactory(role=Role.HUNTER)
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, user.username)
    menu_button = page.get_by_role("button", name="Меню")
    expect(menu_button).to_be_visible()
    expect(page.get_by_role("link", name="Мой день")).to_be_hidden()
    menu_button.click()
    expect(page.get_by_role("link", name="Мой день")).to_be_visible()
