from django.urls import reverse

from tests.factories import TEST_PASSWORD


def test_sign_in_page_switches_to_english_and_back(client, db):
    response = client.post(reverse("set_language"), {"language": "en", "next": reverse("login")})
    assert response.status_code == 302
    page = client.get(reverse("login")).content.decode()
    assert '<html lang="en">' in page
    assert "Sales department portal. Sign in to continue." in page

    client.post(reverse("set_language"), {"language": "ru", "next": reverse("login")})
    assert "Портал отдела продаж" in client.get(reverse("login")).content.decode()


def test_hunter_home_in_english(client, hunter):
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    client.post(reverse("login"), {"username": hunter.username, "password": TEST_PASSWORD})
    page = client.get(reverse("kpi:my_day")).content.decode()
    assert "My day" in page
    assert "Hunter" in page


def test_english_browser_still_gets_russian_until_the_user_chooses(client, db):
    page = client.get(reverse("login"), headers={"accept-language": "en-US,en;q=0.9"}).content.decode()
    assert '<html lang="ru">' in page
    assert "Портал отдела продаж" in page


def test_empty_choice_is_russian(client, hunter):
    client.post(reverse("login"), {"username": hunter.username, "password": TEST_PASSWORD})
    page = client.get(reverse("deals:create")).content.decode()
    assert "— выберите —" in page
    assert "Select an option" not in page
