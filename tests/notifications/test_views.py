"""The bell and its pages as people use them: the unread count on every page, one's own notifications
only, reading them, following their links (never off the portal) and choosing what comes by email."""

import re
from html import unescape

import pytest
from django.urls import reverse

from notifications.models import EmailOptOut, Notification, NotificationKind
from notifications.reminders import Reminder
from notifications.services import notifications_create, notifications_mark_read

from .conftest import TUESDAY

LIST_URL = reverse("notifications:list")


def page_text(response) -> str:
    html = response.content.decode()
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def bell_count(response) -> int | None:
    """The number on the bell, or None when it shows none."""
    match = re.search(r'id="notification-count">(\d+)<', response.content.decode())
    return int(match.group(1)) if match else None


def notify(user, title: str, *, url: str = "", kind=NotificationKind.FOLLOW_UP_DUE) -> Notification:
    subject = f"test:{Notification.objects.count() + 1}"
    notifications_create(
        reminders=[Reminder(recipient_id=user.pk, kind=kind, subject_key=subject, title=title, url=url)],
        for_day=TUESDAY,
    )
    return Notification.objects.get(recipient=user, subject_key=subject)


def open_url(notification: Notification) -> str:
    return reverse("notifications:open", args=[notification.pk])


# --- the bell ------------------------------------------------------------------------------------


def test_the_bell_shows_the_unread_count_on_every_page(client, hunter, other_hunter):
    notify(hunter, "Сегодня связаться с «Кафе «Берёзка»»")
    notify(hunter, "День рождения: Мария Соколова («Салон «Лотос»»)", kind=NotificationKind.CELEBRATION)
    read = notify(hunter, "Сделка с «Кафе «Обь»» без движения", kind=NotificationKind.DEAL_IDLE)
    notifications_mark_read(acting_user=hunter, ids=[read.pk])
    notify(other_hunter, "Сегодня связаться с «Кафе «Чужое»»")
    client.force_login(hunter)

    home = client.get(reverse("home"), follow=True)
    assert home.status_code == 200 and home.redirect_chain  # the hunter's day
    assert bell_count(home) == 2
    for url in (reverse("clients:list"), LIST_URL):
        assert bell_count(client.get(url)) == 2

    notifications_mark_read(acting_user=hunter)
    assert bell_count(client.get(reverse("clients:list"))) is None


def test_the_bell_is_there_for_every_role(client, accountant):
    notify(accountant, "Просрочена оплата «Салон «Лотос»»", kind=NotificationKind.PAYMENT_OVERDUE)
    client.force_login(accountant)

    assert bell_count(client.get(reverse("home"), follow=True)) == 1


# --- the list ------------------------------------------------------------------------------------


def test_the_list_shows_only_the_users_own_notifications(client, hunter, other_hunter):
    notify(hunter, "Сегодня связаться с «Кафе «Берёзка»»")
    notify(other_hunter, "Сегодня связаться с «Кафе «Чужое»»")
    client.force_login(hunter)

    text = page_text(client.get(LIST_URL))

    assert "Сегодня связаться с «Кафе «Берёзка»»" in text
    assert "Кафе «Чужое»" not in text


def test_the_list_can_show_only_unread(client, hunter):
    notify(hunter, "Сегодня связаться с «Кафе «Берёзка»»")
    read = notify(hunter, "Сегодня связаться с «Кафе «Прочитано»»")
    notifications_mark_read(acting_user=hunter, ids=[read.pk])
    client.force_login(hunter)

    assert "Кафе «Прочитано»" in page_text(client.get(LIST_URL))
    text = page_text(client.get(LIST_URL, {"unread": "1"}))
    assert "Кафе «Берёзка»" in text and "Кафе «Прочитано»" not in text


def test_an_empty_list_says_so(client, hunter):
    client.force_login(hunter)

    assert "Уведомлений нет." in page_text(client.get(LIST_URL))


# --- reading -------------------------------------------------------------------------------------


def test_read_all_marks_only_the_users_own_notifications(client, hunter, other_hunter):
    notify(hunter, "Сегодня связаться с «Кафе «Берёзка»»")
    notify(hunter, "Сегодня связаться с «Кафе «Обь»»")
    others = notify(other_hunter, "Сегодня связаться с «Кафе «Чужое»»")
    client.force_login(hunter)

    response = client.post(reverse("notifications:read_all"), follow=True)

    assert response.redirect_chain[-1][0] == LIST_URL
    assert "Отмечено прочитанными: 2." in page_text(response)
    assert bell_count(response) is None
    assert not Notification.objects.filter(recipient=hunter).unread().exists()
    assert Notification.objects.get(pk=others.pk).read_at is None


def test_opening_a_notification_marks_it_read_and_goes_to_its_page(client, hunter):
    notification = notify(hunter, "Сегодня связаться с «Кафе «Берёзка»»", url="/deals/17/")
    other = notify(hunter, "Сегодня связаться с «Кафе «Обь»»", url="/deals/18/")
    client.force_login(hunter)

    response = client.post(open_url(notification))

    assert response.status_code == 302
    assert response["Location"] == "/deals/17/"
    assert Notification.objects.get(pk=notification.pk).read_at is not None
    assert Notification.objects.get(pk=other.pk).read_at is None


def test_opening_a_notification_without_a_link_returns_to_the_list(client, hunter):
    notification = notify(hunter, "Расчётные листы ждут утверждения")
    client.force_login(hunter)

    response = client.post(open_url(notification))

    assert response["Location"] == LIST_URL
    assert Notification.objects.get(pk=notification.pk).read_at is not None


@pytest.mark.parametrize(
    "url", ["https://evil.example/login", "//evil.example/deals/1/", "http://testserver.evil.example/"]
)
def test_a_link_off_the_portal_is_not_followed(client, hunter, url):
    notification = notify(hunter, "Сегодня связаться с «Кафе «Берёзка»»", url=url)
    client.force_login(hunter)

    response = client.post(open_url(notification))

    assert response.status_code == 302
    assert response["Location"] == LIST_URL
    assert Notification.objects.get(pk=notification.pk).read_at is not None


def test_another_users_notification_cannot_be_opened(client, hunter, other_hunter):
    others = notify(other_hunter, "Сегодня связаться с «Кафе «Чужое»»", url="/deals/5/")
    client.force_login(hunter)

    assert client.post(open_url(others)).status_code == 404
    assert Notification.objects.get(pk=others.pk).read_at is None


def test_opening_is_a_post_so_following_a_link_never_marks_read(client, hunter):
    notification = notify(hunter, "Сегодня связаться с «Кафе «Берёзка»»", url="/deals/17/")
    client.force_login(hunter)

    assert client.get(open_url(notification)).status_code == 405
    assert Notification.objects.get(pk=notification.pk).read_at is None


# --- email preferences ---------------------------------------------------------------------------


def checked_kinds(response) -> set[str]:
    html = response.content.decode()
    inputs = re.findall(r'<input[^>]*name="email_kinds"[^>]*>', html)
    assert len(inputs) == len(NotificationKind.values)
    return {re.search(r'value="([^"]+)"', tag).group(1) for tag in inputs if re.search(r"\schecked\b", tag)}


def test_every_kind_is_emailed_until_the_user_chooses_otherwise(client, hunter):
    client.force_login(hunter)

    assert checked_kinds(client.get(LIST_URL)) == set(NotificationKind.values)


def test_email_preferences_form_saves(client, hunter, other_hunter):
    client.force_login(hunter)
    wanted = [NotificationKind.FOLLOW_UP_DUE, NotificationKind.CELEBRATION]

    response = client.post(reverse("notifications:email_preferences"), {"email_kinds": wanted}, follow=True)

    assert response.redirect_chain[-1][0] == LIST_URL
    assert "Настройки почты сохранены." in page_text(response)
    assert checked_kinds(response) == set(wanted)
    assert set(EmailOptOut.objects.filter(user=hunter).values_list("kind", flat=True)) == (
        set(NotificationKind.values) - set(wanted)
    )
    assert not EmailOptOut.objects.filter(user=other_hunter).exists()

    # Nothing ticked: no reminder by email at all.
    client.post(reverse("notifications:email_preferences"), {})
    assert EmailOptOut.objects.filter(user=hunter).count() == len(NotificationKind.values)


def test_an_unknown_kind_is_refused_and_preferences_stay(client, hunter):
    client.force_login(hunter)
    client.post(reverse("notifications:email_preferences"), {"email_kinds": [NotificationKind.DEAL_IDLE]})

    response = client.post(
        reverse("notifications:email_preferences"),
        {"email_kinds": [NotificationKind.CELEBRATION, "newsletter"]},
        follow=True,
    )

    assert "Не удалось сохранить настройки" in page_text(response)
    assert checked_kinds(response) == {NotificationKind.DEAL_IDLE}


# --- signing in ----------------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_sign_in(client, hunter):
    notification = notify(hunter, "Сегодня связаться с «Кафе «Берёзка»»", url="/deals/17/")
    sign_in = reverse("login")

    for method, url in (
        ("get", LIST_URL),
        ("post", reverse("notifications:read_all")),
        ("post", open_url(notification)),
        ("post", reverse("notifications:email_preferences")),
    ):
        response = getattr(client, method)(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(f"{sign_in}?next="), url

    assert Notification.objects.get(pk=notification.pk).read_at is None
    assert not EmailOptOut.objects.exists()
