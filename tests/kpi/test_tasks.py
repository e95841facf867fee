"""Tasks (kpi.Task): every next contact agreed with a client — on a call, a meeting, a message, a follow-up
or a proposal — is a task, open until done or moved; «Мой день» lists those due and overdue and closes or
moves them in place; ``Deal.next_contact_on`` follows the deal's open task."""

import re
from datetime import time, timedelta
from importlib import import_module

import pytest
from django.apps import apps
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from deals.models import Deal
from deals.services import deal_transfer, follow_up_record, proposal_record
from deals.stages import Stage
from kpi.models import Activity, ActivityKind, Task
from kpi.services import activity_log, task_done, task_move
from tests.deals.factories import make_client, make_deal

from .test_views import section, text

HTMX = {"HX-Request": "true"}


@pytest.fixture
def today():
    return timezone.localdate()


def open_tasks(**lookup) -> list[Task]:
    return list(Task.objects.filter(status=Task.Status.OPEN, **lookup))


# --- where tasks come from ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [ActivityKind.MEETING, ActivityKind.CALL, ActivityKind.MESSAGE])
def test_the_next_contact_of_a_meeting_call_or_message_outside_a_deal_is_a_task(hunter, today, kind):
    client = make_client(acting_user=hunter, name="Гостиница «Обь»")

    activity = activity_log(
        acting_user=hunter,
        kind=kind,
        client=client,
        outcome="Ждут прайс на 20 л",
        next_contact_on=today + timedelta(days=2),
        next_contact_time=time(16, 30),
    )

    [task] = open_tasks(client=client)
    assert (task.deal, task.activity, task.due_on, task.due_time) == (
        None,
        activity,
        today + timedelta(days=2),
        time(16, 30),
    )
    assert (task.what, task.created_by) == ("Ждут прайс на 20 л", hunter)


@pytest.mark.parametrize("kind", [ActivityKind.MEETING, ActivityKind.CALL, ActivityKind.MESSAGE])
def test_the_next_contact_of_an_activity_on_a_deal_is_the_deals_task_and_next_contact(hunter, today, kind):
    deal = make_deal(acting_user=hunter)

    activity_log(
        acting_user=hunter,
        kind=kind,
        client=deal.client,
        deal=deal,
        note="Обещали ответить после планёрки",
        next_contact_on=today + timedelta(days=1),
    )

    [task] = open_tasks(deal=deal)
    assert (task.client_id, task.what) == (deal.client_id, "Обещали ответить после планёрки")
    assert Deal.objects.get(pk=deal.pk).next_contact_on == today + timedelta(days=1)


def test_an_activity_without_a_next_contact_makes_no_task_and_leaves_the_open_one(hunter, today):
    deal = make_deal(acting_user=hunter)
    activity_log(
        acting_user=hunter, kind=ActivityKind.CALL, client=deal.client, deal=deal, next_contact_on=today
    )

    activity_log(
        acting_user=hunter, kind=ActivityKind.MEETING, client=deal.client, deal=deal, outcome="Зашёл"
    )

    [task] = open_tasks(deal=deal)
    assert task.due_on == today
    assert Task.objects.count() == 1


def test_a_later_next_contact_on_the_same_deal_moves_its_open_task(hunter, today):
    deal = make_deal(acting_user=hunter)
    first = activity_log(
        acting_user=hunter, kind=ActivityKind.CALL, client=deal.client, deal=deal, next_contact_on=today
    )

    activity_log(
        acting_user=hunter,
        kind=ActivityKind.MESSAGE,
        client=deal.client,
        deal=deal,
        next_contact_on=today + timedelta(days=5),
    )

    old = Task.objects.get(activity=first)
    [new] = open_tasks(deal=deal)
    assert (old.status, old.moved_to, old.closed_by) == (Task.Status.MOVED, new, hunter)
    assert old.closed_at is not None
    assert Deal.objects.get(pk=deal.pk).next_contact_on == today + timedelta(days=5)


def test_a_client_has_one_task_outside_deals_beside_each_deals_own(hunter, today):
    deal = make_deal(acting_user=hunter)
    client = deal.client
    activity_log(acting_user=hunter, kind=ActivityKind.CALL, client=client, deal=deal, next_contact_on=today)
    for days in (1, 2):
        activity_log(
            acting_user=hunter,
            kind=ActivityKind.MEETING,
            client=client,
            next_contact_on=today + timedelta(days),
        )

    assert {(task.deal_id, task.due_on) for task in open_tasks(client=client)} == {
        (deal.pk, today),
        (None, today + timedelta(days=2)),
    }


def test_a_follow_up_agrees_the_deals_task_and_the_clients_confirmation_closes_it(pipeline, today):
    deal = pipeline.advance_to(make_deal(acting_user=pipeline.hunter), Stage.FOLLOW_UP)
    hunter = pipeline.hunter

    follow_up_record(
        acting_user=hunter,
        deal=deal,
        outcome="Понравились пробники",
        objection="Дорого",
        next_contact_on=today + timedelta(days=3),
        next_contact_time=time(10, 0),
    )
    [task] = open_tasks(deal=deal)
    assert (task.what, task.due_time) == ("Понравились пробники; возражение: Дорого", time(10, 0))
    assert Deal.objects.get(pk=deal.pk).next_contact_on == today + timedelta(days=3)

    follow_up_record(acting_user=hunter, deal=deal, outcome="Готовы заказать", client_confirmed=True)

    task.refresh_from_db()
    assert (task.status, task.closed_by) == (Task.Status.DONE, hunter)
    assert open_tasks(deal=deal) == []
    assert Deal.objects.get(pk=deal.pk).next_contact_on is None


def test_a_proposals_callback_date_is_a_task(pipeline, today):
    deal = pipeline.advance_to(make_deal(acting_user=pipeline.hunter), Stage.PROPOSAL)

    proposal_record(
        acting_user=pipeline.hunter,
        deal=deal,
        template_name="КП для HoReCa",
        sent_to_email="zakupki@example.ru",
        sent_at=timezone.now(),
        callback_on=today + timedelta(days=2),
    )

    [task] = open_tasks(deal=deal)
    assert task.due_on == today + timedelta(days=2)
    assert "zakupki@example.ru" in task.what
    assert Deal.objects.get(pk=deal.pk).next_contact_on == today + timedelta(days=2)


def test_a_transferred_deal_takes_its_task_to_the_new_hunter(hunter, other_hunter, sales_head, today):
    deal = make_deal(acting_user=hunter)
    activity_log(
        acting_user=hunter, kind=ActivityKind.CALL, client=deal.client, deal=deal, next_contact_on=today
    )

    deal_transfer(acting_user=sales_head, deal=deal, to_owner=other_hunter)

    assert list(Task.objects.visible_to(other_hunter)) == open_tasks(deal=deal)
    assert not Task.objects.visible_to(hunter).exists()


# --- done and moved ------------------------------------------------------------------------------------


def due_task(hunter, *, name="Кафе «Северное»", due_on=None, deal: bool = True) -> Task:
    client = make_client(acting_user=hunter, name=name)
    deal_ = make_deal(acting_user=hunter, client=client) if deal else None
    activity_log(
        acting_user=hunter,
        kind=ActivityKind.MEETING,
        client=client,
        deal=deal_,
        outcome="Ждут прайс",
        next_contact_on=due_on or timezone.localdate(),
    )
    return Task.objects.get(client=client, status=Task.Status.OPEN)


def test_the_hunter_marks_a_task_done_in_place(client, hunter, today):
    task = due_task(hunter)
    due_task(hunter, name="Салон «Лотос»")
    client.force_login(hunter)

    response = client.post(reverse("kpi:task_done", args=[task.pk]), headers=HTMX)

    assert response.status_code == 200
    html = response.content.decode()
    assert "<li" not in html  # the task's line leaves the list
    assert re.search(r'id="task-count" hx-swap-oob="true">1</span>', html)
    assert "Задача выполнена: Кафе «Северное»." in text(html)
    task.refresh_from_db()
    assert (task.status, task.closed_by) == (Task.Status.DONE, hunter)
    assert Deal.objects.get(pk=task.deal_id).next_contact_on is None


def test_the_last_task_done_leaves_the_empty_list_message(client, hunter):
    task = due_task(hunter)
    client.force_login(hunter)

    html = client.post(reverse("kpi:task_done", args=[task.pk]), headers=HTMX).content.decode()

    assert "На сегодня задач нет." in html
    assert re.search(r'class="badge text-bg-primary d-none" id="task-count"', html)


def test_the_hunter_moves_a_task_to_another_day_and_it_leaves_today(client, hunter, today):
    task = due_task(hunter)
    client.force_login(hunter)

    response = client.post(
        reverse("kpi:task_move", args=[task.pk]),
        {"due_on": (today + timedelta(days=3)).isoformat(), "due_time": "11:00"},
        headers=HTMX,
    )

    assert response.status_code == 200
    assert "<li" not in response.content.decode()
    task.refresh_from_db()
    new = task.moved_to
    assert task.status == Task.Status.MOVED
    assert (new.status, new.due_on, new.due_time, new.what) == (
        Task.Status.OPEN,
        today + timedelta(days=3),
        time(11, 0),
        "Ждут прайс",
    )
    assert Deal.objects.get(pk=task.deal_id).next_contact_on == today + timedelta(days=3)


def test_an_overdue_task_moved_to_today_stays_in_the_list_as_todays(client, hunter, today):
    task = due_task(hunter, due_on=today - timedelta(days=2))
    client.force_login(hunter)

    response = client.post(
        reverse("kpi:task_move", args=[task.pk]), {"due_on": today.isoformat()}, headers=HTMX
    )

    line = text(response.content.decode())
    assert response.status_code == 200
    assert "Кафе «Северное»" in line and "связаться сегодня" in line and "просрочено" not in line


def test_a_task_is_not_moved_into_the_past_and_says_so_in_its_line(client, hunter, today):
    task = due_task(hunter)
    client.force_login(hunter)

    response = client.post(
        reverse("kpi:task_move", args=[task.pk]),
        {"due_on": (today - timedelta(days=1)).isoformat()},
        headers=HTMX,
    )

    assert response.status_code == 422
    html = response.content.decode()
    assert "Перенести можно на сегодня или позже." in html
    assert '<details class="task-move" open>' in html
    task.refresh_from_db()
    assert task.status == Task.Status.OPEN


def test_without_javascript_done_and_moved_return_to_my_day_with_a_message(client, hunter, today):
    done, moved = due_task(hunter), due_task(hunter, name="Салон «Лотос»")
    client.force_login(hunter)

    response = client.post(reverse("kpi:task_done", args=[done.pk]), follow=True)
    assert response.redirect_chain == [(reverse("kpi:my_day") + "#tasks", 302)]
    assert "Задача выполнена: Кафе «Северное»." in text(response.content.decode())

    response = client.post(
        reverse("kpi:task_move", args=[moved.pk]),
        {"due_on": (today + timedelta(days=1)).isoformat()},
        follow=True,
    )
    tasks = text(section(response.content.decode(), "tasks"))
    assert f"Задача перенесена на {today + timedelta(days=1):%d.%m.%Y}" in text(response.content.decode())
    assert "На сегодня задач нет." in tasks

    response = client.post(reverse("kpi:task_move", args=[moved.pk]), {"due_on": ""}, follow=True)
    assert "Обязательное поле." in text(response.content.decode())
    response = client.post(
        reverse("kpi:task_move", args=[moved.pk]),
        {"due_on": (today + timedelta(days=2)).isoformat()},
        follow=True,
    )
    assert "Задача уже закрыта" in text(response.content.decode())


@pytest.mark.parametrize("action", ["kpi:task_done", "kpi:task_move"])
def test_another_hunter_gets_404_and_the_task_stays(client, hunter, other_hunter, today, action):
    task = due_task(hunter)
    client.force_login(other_hunter)

    response = client.post(reverse(action, args=[task.pk]), {"due_on": today.isoformat()}, headers=HTMX)

    assert response.status_code == 404
    task.refresh_from_db()
    assert task.status == Task.Status.OPEN


@pytest.mark.parametrize("role_fixture", ["accountant", "production"])
def test_people_who_do_not_work_the_pipeline_cannot_touch_tasks(client, request, hunter, role_fixture):
    task = due_task(hunter)
    client.force_login(request.getfixturevalue(role_fixture))

    assert client.post(reverse("kpi:task_done", args=[task.pk])).status_code == 403
    with pytest.raises(PermissionDenied):
        task_done(acting_user=request.getfixturevalue(role_fixture), task=task)


def test_the_head_may_close_a_hunters_task_and_another_hunter_may_not(hunter, other_hunter, sales_head):
    task = due_task(hunter)
    with pytest.raises(PermissionDenied):
        task_done(acting_user=other_hunter, task=task)

    task_done(acting_user=sales_head, task=task)

    assert Task.objects.get(pk=task.pk).status == Task.Status.DONE
    with pytest.raises(ValidationError, match="уже закрыта"):
        task_move(acting_user=sales_head, task=task, due_on=timezone.localdate())


# --- «Мой день» ----------------------------------------------------------------------------------------


def test_my_day_lists_due_and_overdue_tasks_with_client_deal_and_agreement(client, hunter, today):
    due_task(hunter, name="Салон «Сегодня»")
    due_task(hunter, name="Салон «Вчера»", due_on=today - timedelta(days=1), deal=False)
    due_task(hunter, name="Салон «Завтра»", due_on=today + timedelta(days=1))
    client.force_login(hunter)

    tasks = section(client.get(reverse("kpi:my_day")).content.decode(), "tasks")

    assert re.search(r'id="task-count">2</span>', tasks)
    lines = [text(line) for line in re.findall(r'<li class="task[^"]*">(.*?)</li>', tasks, re.S)]
    assert len(lines) == 2
    assert lines[0].startswith("Салон «Вчера»") and "просрочено с" in lines[0]
    assert lines[1].startswith("Салон «Сегодня»") and "Выборка потенциальных клиентов" in lines[1]
    assert all("Договорились: Ждут прайс" in line for line in lines)
    assert 'href="tel:+7950' in tasks  # one tap to call the client


def test_my_day_lists_none_of_another_hunters_tasks_and_the_head_sees_them_all(
    client, hunter, other_hunter, sales_head
):
    mine = due_task(hunter, name="Салон «Мой»")
    theirs = due_task(other_hunter, name="Салон «Чужой»", deal=False)
    client.force_login(hunter)

    tasks = text(section(client.get(reverse("kpi:my_day")).content.decode(), "tasks"))

    assert "Салон «Мой»" in tasks and "Салон «Чужой»" not in tasks
    assert list(Task.objects.visible_to(hunter)) == [mine]
    assert set(Task.objects.visible_to(sales_head)) == {mine, theirs}


def test_a_transferred_clients_task_outside_deals_leaves_the_old_hunters_day(
    client, hunter, other_hunter, sales_head
):
    from deals.services import client_transfer

    task = due_task(hunter, name="Салон «Переданный»", deal=False)
    client_transfer(acting_user=sales_head, client=task.client, to_owner=other_hunter, reason="Отпуск")

    def my_tasks(user) -> str:
        client.force_login(user)
        return text(section(client.get(reverse("kpi:my_day")).content.decode(), "tasks"))

    assert "Салон «Переданный»" not in my_tasks(hunter)
    assert client.post(reverse("kpi:task_done", args=[task.pk]), headers=HTMX).status_code == 404
    assert "Салон «Переданный»" in my_tasks(other_hunter)


# --- the migration --------------------------------------------------------------------------------------


def test_the_migration_makes_a_task_of_every_next_contact_agreed_before_tasks(hunter, pipeline, today):
    migration = import_module("kpi.migrations.0007_tasks_from_next_contact_dates")
    deal = pipeline.advance_to(make_deal(acting_user=pipeline.hunter), Stage.FOLLOW_UP)
    follow_up_record(
        acting_user=pipeline.hunter, deal=deal, outcome="Перезвонить после отпуска", next_contact_on=today
    )
    meeting_client = make_client(acting_user=hunter, name="Кафе «Встреча»")
    old_client = make_client(acting_user=hunter, name="Кафе «Давнее»")
    for client, due_on in (
        (meeting_client, today + timedelta(days=1)),
        (old_client, today - timedelta(days=90)),
    ):
        activity_log(
            acting_user=hunter,
            kind=ActivityKind.MEETING,
            client=client,
            outcome="Договорились",
            next_contact_on=due_on,
        )
    # The state before tasks: the dates are on the deal and the activities only.
    Task.objects.all().delete()
    Deal.objects.filter(pk=deal.pk).update(next_contact_on=today)

    migration.tasks_from_next_contact_dates(apps, schema_editor=None)

    deal_task = Task.objects.get(deal=deal)
    assert (deal_task.due_on, deal_task.what, deal_task.status) == (
        today,
        "Перезвонить после отпуска",
        Task.Status.OPEN,
    )
    meeting_task = Task.objects.get(client=meeting_client)
    assert meeting_task.activity == Activity.objects.get(client=meeting_client)
    assert not Task.objects.filter(client=old_client).exists()  # due 90 days ago, shown nowhere before
    # Every deal that had a next contact has its open task, so the date stays in step.
    assert set(Deal.objects.filter(next_contact_on__isnull=False).values_list("pk", flat=True)) == set(
        Task.objects.filter(deal__isnull=False, status=Task.Status.OPEN).values_list("deal_id", flat=True)
    )


# --- the activity form ------------------------------------------------------------------------------


def test_the_activity_forms_deal_picker_names_the_client_the_deal_and_its_stage(client, hunter):
    lotus = make_client(acting_user=hunter, name="Салон «Лотос»")
    titled = make_deal(acting_user=hunter, client=lotus, title="Поставка к весне")
    untitled = make_deal(acting_user=hunter, client=lotus)
    client.force_login(hunter)

    html = client.get(reverse("kpi:activity_create"), {"deal": titled.pk}).content.decode()

    options = dict(
        re.findall(r'<option value="(\d+)"(?: selected)?>(.*?)</option>', section_of(html, "id_deal"))
    )
    assert options[str(titled.pk)] == "Салон «Лотос» — Поставка к весне (Выборка потенциальных клиентов)"
    assert options[str(untitled.pk)] == "Салон «Лотос» — Выборка потенциальных клиентов"
    assert "Сделка №" not in html


def section_of(html: str, select_id: str) -> str:
    return re.search(rf'<select[^>]*id="{select_id}".*?</select>', html, re.S).group(0)


def test_a_time_without_a_day_is_refused(client, hunter, today):
    lotus = make_client(acting_user=hunter)
    client.force_login(hunter)

    response = client.post(
        reverse("kpi:activity_create"),
        {
            "kind": ActivityKind.CALL,
            "client": lotus.pk,
            "at": f"{today:%Y-%m-%d}T00:30",
            "next_contact_time": "16:30",
        },
    )

    assert response.status_code == 400
    assert "Укажите и день следующего контакта." in response.content.decode()
    assert not Task.objects.exists()


def task_names(html: str) -> list[str]:
    return [
        text(line).split(" · ")[0].split(" просрочено")[0].split(" связаться")[0]
        for line in re.findall(r'<li class="task[^"]*">(.*?)</li>', html, re.S)
    ]


def test_my_day_shows_the_first_tasks_and_the_rest_page_by_page_with_none_lost_when_one_is_done(
    client, hunter, other_hunter, today, monkeypatch
):
    from kpi import selectors

    monkeypatch.setattr(selectors, "TASK_PAGE", 2)
    tasks = [
        due_task(hunter, name=f"Салон №{number}", due_on=today - timedelta(days=5 - number), deal=False)
        for number in range(5)
    ]
    due_task(other_hunter, name="Салон «Чужой»", due_on=today - timedelta(days=9), deal=False)
    client.force_login(hunter)

    page = section(client.get(reverse("kpi:my_day")).content.decode(), "tasks")
    assert task_names(page) == ["Салон №0", "Салон №1"]  # the most overdue first
    assert re.search(r'id="task-count">5</span>', page)
    assert "Показать ещё (осталось: 3)" in text(page)
    more = re.search(r'hx-get="([^"]+)"', page).group(1)

    # The first task is done before the next ones are asked for: none is skipped.
    client.post(reverse("kpi:task_done", args=[tasks[0].pk]), headers=HTMX)
    second = client.get(more, headers=HTMX).content.decode()
    assert task_names(second) == ["Салон №2", "Салон №3"]
    assert "Показать ещё (осталось: 1)" in text(second)

    last = client.get(re.search(r'hx-get="([^"]+)"', second).group(1), headers=HTMX).content.decode()
    assert task_names(last) == ["Салон №4"] and "Показать ещё" not in last

    # Without JavaScript the button opens «Мой день» at the next tasks.
    fallback = re.search(r'id="tasks-more".*?href="([^"]+)"', second, re.S).group(1).replace("&amp;", "&")
    assert task_names(section(client.get(fallback).content.decode(), "tasks")) == ["Салон №4"]


def test_another_hunters_task_does_not_open_a_page_of_tasks(client, hunter, other_hunter):
    theirs = due_task(other_hunter, deal=False)
    client.force_login(hunter)

    response = client.get(reverse("kpi:tasks_more"), {"after": theirs.pk})

    assert response.status_code == 400 and "обновите страницу" in response.content.decode()
