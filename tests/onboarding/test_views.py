"""The onboarding pages as hunters and the head use them: reading and acknowledging the regulations,
editing and their history, the test and its result, everyone's progress, the banner and the deal gate,
and the stage and pay pages that follow the portal's own rules."""

import re
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from html import unescape

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.text import capfirst

from compensation import rules
from compensation.services import scheme_save
from deals import stages
from deals.models import Deal
from onboarding import services
from onboarding.demo import seed_demo_onboarding
from onboarding.models import Question, Section, SectionVersion
from onboarding.models import TestAttempt as Attempt
from onboarding.selectors import onboarding_complete
from tests.deals.factories import make_client

BANNER = 'id="onboarding-banner"'


@pytest.fixture
def login(client):
    def as_user(user):
        client.force_login(user)
        return client

    return as_user


def text_of(response) -> str:
    """The page as a reader sees the text: entities decoded, no-break spaces as plain spaces."""
    return unescape(response.content.decode()).replace("\xa0", " ")


def make_section(author, *, slug="rules", title="Правила", body="Первая строка\nВторая строка", stage=""):
    section = Section.objects.create(slug=slug, title=title, stage=stage)
    services.section_save(acting_user=author, section=section, body=body, change_note="Первая версия")
    return section


def make_question(author, n, *, kind=Question.Kind.SINGLE):
    right = [f"Верный {n}"] if kind == Question.Kind.SINGLE else [f"Верный {n}", f"Тоже верный {n}"]
    return services.question_save(
        acting_user=author,
        text=f"Вопрос номер {n}?",
        kind=kind,
        explanation=f"Пояснение к вопросу {n}",
        choices=[(text, True) for text in right] + [(f"Неверный {n}", False), (f"Мимо {n}", False)],
    )


def complete_onboarding(user):
    for section in Section.objects.all():
        services.section_acknowledge(acting_user=user, section=section)
    Attempt.objects.create(user=user, score=100, pass_mark=80, passed=True)


def read_test_page(response) -> tuple[list[int], dict[int, list[int]]]:
    """The questions in the order the page asks them and each one's offered choice ids."""
    offered: dict[int, list[int]] = {}
    for qid, cid in re.findall(r'name="q(\d+)" value="(\d+)"', response.content.decode()):
        offered.setdefault(int(qid), []).append(int(cid))
    return list(offered), offered


def answers_post(order, *, correctly: bool) -> dict:
    data: dict = {}
    for question in Question.objects.filter(pk__in=order).prefetch_related("choices"):
        data[f"q{question.pk}"] = [
            str(choice.pk) for choice in question.choices.all() if choice.is_correct == correctly
        ][: None if correctly else 1]
    return data


# --- reading and sanitising --------------------------------------------------------------------------


def test_scripts_handlers_and_javascript_links_never_reach_the_section_page(login, sales_head, hunter):
    make_section(
        sales_head,
        body=(
            "## Как звонить\n\n"
            "Обычный **текст**.\n\n"
            "<script>alert(1)</script>\n\n"
            '<img src=x onerror="alert(2)">\n\n'
            "[ссылка](javascript:alert(3))\n"
        ),
    )

    response = login(hunter).get(reverse("onboarding:section", args=["rules"]))

    assert response.status_code == 200
    html = response.content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "alert(1)" not in html
    assert "onerror" not in html.lower()
    assert "<img" not in html.lower()
    assert "javascript:" not in html.lower()
    assert "<h2>Как звонить</h2>" in html
    assert "<strong>текст</strong>" in html
    assert ">ссылка</a>" in html


def test_hostile_markup_in_a_change_is_shown_as_text_not_run(login, sales_head, hunter):
    section = make_section(sales_head, body="Безобидный текст")
    services.section_acknowledge(acting_user=hunter, section=section)
    services.section_save(
        acting_user=sales_head, section=section, body="Безобидный текст\n<script>alert(1)</script>"
    )

    page = login(hunter).get(reverse("onboarding:section", args=["rules"]))
    history = login(hunter).get(reverse("onboarding:section_history", args=["rules"]))

    for response in (page, history):
        assert "<script>alert(1)</script>" not in response.content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in history.content.decode()


def test_tables_and_lists_render_on_the_section_page(login, sales_head, hunter):
    make_section(sales_head, body="- один\n- два\n\n| Этап | Срок |\n|---|---|\n| Звонок | 1 день |\n")

    html = login(hunter).get(reverse("onboarding:section", args=["rules"])).content.decode()

    assert "<li>один</li>" in html
    assert "<th>Этап</th>" in html and "<td>1 день</td>" in html


def test_the_overview_lists_every_section_and_what_is_left(login, sales_head, hunter):
    about = make_section(sales_head, slug="about", title="О компании")
    make_section(sales_head, slug="pay", title="Условия оплаты")
    services.section_acknowledge(acting_user=hunter, section=about)

    response = login(hunter).get(reverse("onboarding:overview"))

    text = text_of(response)
    assert "О компании" in text and "Условия оплаты" in text
    assert "(1 / 2)" in text
    assert "прочитано" in text and "нужно прочитать" in text
    assert "Тест ещё не сдан." in text


def test_production_does_not_read_the_regulations(login, sales_head, production):
    make_section(sales_head)

    assert login(production).get(reverse("onboarding:overview")).status_code == 403
    assert login(production).get(reverse("onboarding:section", args=["rules"])).status_code == 403


# --- editing and history -----------------------------------------------------------------------------


def test_the_head_saves_a_new_version_from_the_edit_page(login, sales_head):
    section = make_section(sales_head, body="Старый текст")

    response = login(sales_head).post(
        reverse("onboarding:section_edit", args=["rules"]),
        {"body": "Новый текст", "change_note": "Поменяли срок"},
    )

    assert response.status_code == 302
    assert response.url == reverse("onboarding:section", args=["rules"])
    newest = section.versions.first()
    assert (newest.number, newest.body, newest.change_note, newest.author) == (
        2,
        "Новый текст",
        "Поменяли срок",
        sales_head,
    )
    page = text_of(login(sales_head).get(response.url))
    assert "Версия 2" in page and "Поменяли срок" in page


def test_the_edit_page_refuses_unchanged_text(login, sales_head):
    section = make_section(sales_head, body="Текст раздела")

    response = login(sales_head).post(
        reverse("onboarding:section_edit", args=["rules"]), {"body": "Текст раздела", "change_note": ""}
    )

    assert response.status_code == 400
    assert "Текст не изменился." in text_of(response)
    assert section.versions.count() == 1


def test_the_edit_page_starts_from_the_current_text(login, sales_head):
    make_section(sales_head, body="Текущий текст раздела")

    response = login(sales_head).get(reverse("onboarding:section_edit", args=["rules"]))

    assert response.status_code == 200
    assert "Текущий текст раздела" in text_of(response)


def test_a_hunter_may_not_edit_the_regulations(login, sales_head, hunter):
    section = make_section(sales_head)
    url = reverse("onboarding:section_edit", args=["rules"])

    assert login(hunter).get(url).status_code == 403
    assert login(hunter).post(url, {"body": "Подменённый текст"}).status_code == 403
    assert section.versions.count() == 1
    page = login(hunter).get(reverse("onboarding:section", args=["rules"])).content.decode()
    assert url not in page


def test_the_history_shows_every_version_and_the_diff_between_them(login, sales_head, hunter):
    section = make_section(sales_head, body="Звонить утром\nПисать вечером")
    services.section_save(
        acting_user=sales_head,
        section=section,
        body="Звонить днём\nПисать вечером",
        change_note="Сдвинули время звонков",
    )

    response = login(hunter).get(reverse("onboarding:section_history", args=["rules"]))

    assert response.status_code == 200
    text = text_of(response)
    assert "Версия 1" in text and "Версия 2" in text
    assert "Ольга Петрова" in text
    assert "Сдвинули время звонков" in text
    assert "версия 1 → 2" in text
    html = response.content.decode()
    assert re.search(r'class="diff-removed">- Звонить утром<', html)
    assert re.search(r'class="diff-added">\+ Звонить днём<', html)
    assert "- Писать вечером" not in html and "+ Писать вечером" not in html


def test_the_history_compares_the_versions_asked_for(login, sales_head, hunter):
    section = make_section(sales_head, body="Версия один")
    services.section_save(acting_user=sales_head, section=section, body="Версия два")
    services.section_save(acting_user=sales_head, section=section, body="Версия три")

    response = login(hunter).get(
        reverse("onboarding:section_history", args=["rules"]), {"from": "1", "to": "3"}
    )

    text = text_of(response)
    assert "версия 1 → 3" in text
    assert "- Версия один" in text and "+ Версия три" in text
    assert "Версия два" not in text.split("Изменения")[-1]


# --- acknowledging and re-acknowledging --------------------------------------------------------------


def test_a_hunter_acknowledges_a_section(login, sales_head, hunter):
    make_section(sales_head)

    response = login(hunter).post(reverse("onboarding:section", args=["rules"]), follow=True)

    assert response.redirect_chain[-1][0] == reverse("onboarding:overview")
    assert "Отмечено: раздел «Правила» прочитан." in text_of(response)
    page = text_of(login(hunter).get(reverse("onboarding:section", args=["rules"])))
    assert "Вы подтвердили эту версию." in page
    assert "Прочитал" not in page


def test_a_changed_section_asks_for_acknowledgement_again_and_shows_what_changed(login, sales_head, hunter):
    section = make_section(sales_head, body="Звонить утром\nПисать вечером")
    make_section(sales_head, slug="pay", title="Оплата", body="Оклад")
    client = login(hunter)
    client.post(reverse("onboarding:section", args=["rules"]))
    client.post(reverse("onboarding:section", args=["pay"]))
    assert "(2 / 2)" in text_of(client.get(reverse("onboarding:overview")))

    services.section_save(acting_user=sales_head, section=section, body="Звонить днём\nПисать вечером")

    page = client.get(reverse("onboarding:section", args=["rules"]))
    text = text_of(page)
    assert "Раздел изменился" in text
    assert "+ Звонить днём" in text
    assert "- Звонить утром" in text
    assert "Прочитал" in text
    assert "(1 / 2)" in text_of(client.get(reverse("onboarding:overview")))

    client.post(reverse("onboarding:section", args=["rules"]))

    text = text_of(client.get(reverse("onboarding:section", args=["rules"])))
    assert "Раздел изменился" not in text
    assert "Вы подтвердили эту версию." in text
    assert "(2 / 2)" in text_of(client.get(reverse("onboarding:overview")))


def test_a_section_never_read_shows_no_changes_only_the_button(login, sales_head, hunter):
    section = make_section(sales_head, body="Первый текст")
    services.section_save(acting_user=sales_head, section=section, body="Второй текст")

    text = text_of(login(hunter).get(reverse("onboarding:section", args=["rules"])))

    assert "Раздел изменился" not in text
    assert "Прочитал" in text
    assert "Второй текст" in text


# --- the test ----------------------------------------------------------------------------------------


def test_the_test_page_draws_the_set_number_and_a_reload_shows_the_same(
    login, sales_head, hunter, other_hunter, settings
):
    settings.ONBOARDING_TEST_QUESTIONS = 12
    questions = [make_question(sales_head, n) for n in range(30)]
    inactive = make_question(sales_head, 99)
    Question.objects.filter(pk=inactive.pk).update(is_active=False)
    client = login(hunter)

    order, offered = read_test_page(client.get(reverse("onboarding:test")))
    again, offered_again = read_test_page(client.get(reverse("onboarding:test")))

    assert len(order) == len(set(order)) == 12
    assert set(order) <= {q.pk for q in questions}
    assert (again, offered_again) == (order, offered)
    assert "Вопросов в тесте: 12" in text_of(client.get(reverse("onboarding:test")))
    others, _offered = read_test_page(login(other_hunter).get(reverse("onboarding:test")))
    assert set(others) != set(order)


def test_passing_the_test_on_the_page_shows_the_right_answers_with_explanations(login, sales_head, hunter):
    for n in range(4):
        make_question(sales_head, n)
    make_question(sales_head, 4, kind=Question.Kind.MULTIPLE)
    client = login(hunter)
    order, _offered = read_test_page(client.get(reverse("onboarding:test")))

    response = client.post(reverse("onboarding:test"), answers_post(order, correctly=True))

    attempt = Attempt.objects.get(user=hunter)
    assert response.status_code == 302
    assert response.url == reverse("onboarding:attempt", args=[attempt.pk])
    assert attempt.score == 100 and attempt.passed
    assert attempt.answers.count() == 5
    result = text_of(client.get(response.url))
    assert "Тест сдан." in result
    for n in range(5):
        assert f"Пояснение к вопросу {n}" in result
    assert "Верный 0" in result


def test_a_failed_attempt_names_the_wrong_questions_and_their_sections_but_not_the_answers(
    login, sales_head, hunter
):
    pay = make_section(sales_head, slug="pay", title="Условия оплаты")
    questions = [make_question(sales_head, n) for n in range(3)]
    Question.objects.filter(pk=questions[0].pk).update(section=pay)
    client = login(hunter)
    order, _offered = read_test_page(client.get(reverse("onboarding:test")))

    response = client.post(reverse("onboarding:test"), answers_post(order, correctly=False), follow=True)

    attempt = Attempt.objects.get(user=hunter)
    assert attempt.score == 0 and not attempt.passed
    text = text_of(response)
    assert "Тест не сдан" in text
    assert "Верных ответов: 0 из 3" in text
    for n in range(3):
        assert f"Вопрос номер {n}?" in text
        assert f"Верный {n}" not in text
        assert f"Пояснение к вопросу {n}" not in text
    assert reverse("onboarding:section", args=["pay"]) in response.content.decode()
    assert "Раздел: Условия оплаты" in text
    assert "Следующая попытка — с" in text


def test_the_head_sees_the_right_answers_of_a_failed_attempt(login, sales_head, hunter):
    make_question(sales_head, 0)
    client = login(hunter)
    order, _offered = read_test_page(client.get(reverse("onboarding:test")))
    client.post(reverse("onboarding:test"), answers_post(order, correctly=False))
    attempt = Attempt.objects.get(user=hunter)

    text = text_of(login(sales_head).get(reverse("onboarding:attempt", args=[attempt.pk])))

    assert "Верный 0" in text and "Пояснение к вопросу 0" in text


def test_a_blank_sheet_is_refused_on_the_page_and_does_not_count(login, sales_head, hunter):
    for n in range(3):
        make_question(sales_head, n)
    client = login(hunter)
    order, _offered = read_test_page(client.get(reverse("onboarding:test")))

    response = client.post(reverse("onboarding:test"), {})

    assert response.status_code == 400
    assert "Вы не ответили ни на один вопрос: попытка не засчитана." in text_of(response)
    assert read_test_page(response)[0] == order
    assert not Attempt.objects.exists()
    assert read_test_page(client.get(reverse("onboarding:test")))[0] == order


def test_an_unanswered_question_is_named_and_the_ticked_answers_are_kept(login, sales_head, hunter):
    for n in range(3):
        make_question(sales_head, n)
    client = login(hunter)
    order, _offered = read_test_page(client.get(reverse("onboarding:test")))
    data = answers_post(order, correctly=True)
    del data[f"q{order[1]}"]

    response = client.post(reverse("onboarding:test"), data)

    assert response.status_code == 400
    text = text_of(response)
    assert "без ответа остался вопрос № 2" in text
    assert "Нет ответа." in text
    ticked = re.findall(r'name="q\d+" value="(\d+)" id="c\d+" checked', response.content.decode())
    assert sorted(ticked) == sorted(data[f"q{order[0]}"] + data[f"q{order[2]}"])
    assert not Attempt.objects.exists()


def test_answers_for_a_question_not_drawn_are_refused_on_the_page(login, sales_head, hunter, settings):
    settings.ONBOARDING_TEST_QUESTIONS = 2
    questions = [make_question(sales_head, n) for n in range(6)]
    client = login(hunter)
    order, _offered = read_test_page(client.get(reverse("onboarding:test")))
    other = next(q for q in questions if q.pk not in order)

    response = client.post(reverse("onboarding:test"), answers_post([*order, other.pk], correctly=True))

    assert response.status_code == 400
    assert "Ответы принимаются только на вопросы вашего теста." in text_of(response)
    assert not Attempt.objects.exists()


def test_after_a_failed_attempt_the_test_page_says_when_the_next_one_is(login, sales_head, hunter, settings):
    settings.ONBOARDING_RETRY_WAIT_MINUTES = 10
    make_question(sales_head, 0)
    client = login(hunter)
    order, _offered = read_test_page(client.get(reverse("onboarding:test")))
    client.post(reverse("onboarding:test"), answers_post(order, correctly=False))
    attempt = Attempt.objects.get(user=hunter)

    response = client.get(reverse("onboarding:test"))

    until = timezone.localtime(attempt.finished_at + timedelta(minutes=10))
    text = text_of(response)
    assert f"Следующая попытка — с {until:%H:%M}" in text
    assert "через 10 мин." in text
    assert read_test_page(response)[0] == []
    overview = text_of(client.get(reverse("onboarding:overview")))
    assert f"Следующая попытка — с {until:%d.%m.%Y %H:%M}" in overview
    Attempt.objects.filter(pk=attempt.pk).update(finished_at=attempt.finished_at - timedelta(minutes=10))
    assert read_test_page(client.get(reverse("onboarding:test")))[0] == order


def test_a_test_changed_while_answering_sends_the_hunter_back(login, sales_head, hunter):
    make_question(sales_head, 0)
    make_question(sales_head, 1)
    client = login(hunter)
    order, _offered = read_test_page(client.get(reverse("onboarding:test")))
    Question.objects.filter(pk=order[0]).update(is_active=False)

    response = client.post(reverse("onboarding:test"), answers_post(order, correctly=True), follow=True)

    assert response.redirect_chain[-1][0] == reverse("onboarding:test")
    assert "Тест изменился, пока вы отвечали" in text_of(response)
    assert not Attempt.objects.exists()
    assert read_test_page(response)[0] == [order[1]]


def test_answers_sent_twice_are_counted_once(login, sales_head, hunter):
    make_question(sales_head, 0)
    client = login(hunter)
    order, _offered = read_test_page(client.get(reverse("onboarding:test")))
    data = answers_post(order, correctly=True)

    client.post(reverse("onboarding:test"), data)
    response = client.post(reverse("onboarding:test"), data, follow=True)

    assert "Эти ответы уже приняты" in text_of(response)
    assert Attempt.objects.filter(user=hunter).count() == 1


def test_a_hunter_sees_only_their_own_attempts(login, sales_head, hunter, other_hunter):
    attempt = Attempt.objects.create(user=other_hunter, score=40, pass_mark=80, passed=False)
    url = reverse("onboarding:attempt", args=[attempt.pk])

    assert login(hunter).get(url).status_code == 404
    assert login(other_hunter).get(url).status_code == 200
    assert login(sales_head).get(url).status_code == 200


def test_the_head_adds_a_question_and_hunters_may_not(login, sales_head, hunter):
    data = {
        "text": "Сколько этапов у сделки?",
        "kind": Question.Kind.SINGLE,
        "explanation": "Девять этапов",
        "is_active": "on",
        "choice_1": "Девять",
        "correct_1": "on",
        "choice_2": "Семь",
    }

    assert login(hunter).post(reverse("onboarding:questions"), data).status_code == 403
    assert not Question.objects.exists()

    section = make_section(sales_head, slug="stage-deal", title="Этап 6. Сделка")
    response = login(sales_head).post(reverse("onboarding:questions"), {**data, "section": section.pk})

    assert response.status_code == 302
    question = Question.objects.get()
    assert [(c.text, c.is_correct) for c in question.choices.all()] == [("Девять", True), ("Семь", False)]
    assert question.section == section


def test_the_question_bank_page_warns_while_the_bank_is_small(login, sales_head, settings):
    settings.ONBOARDING_QUESTION_BANK_MIN = 5
    settings.ONBOARDING_TEST_QUESTIONS = 3
    for n in range(4):
        make_question(sales_head, n)
    client = login(sales_head)

    text = text_of(client.get(reverse("onboarding:questions")))
    assert "В банке 4 вопросов в тесте; в каждой попытке — 3 из них" in text
    assert "В банке меньше 5 вопросов" in text

    make_question(sales_head, 4)
    assert "В банке меньше" not in text_of(client.get(reverse("onboarding:questions")))


# --- progress ----------------------------------------------------------------------------------------


def test_the_head_sees_every_hunters_onboarding(login, sales_head, hunter, other_hunter):
    make_section(sales_head, slug="about", title="О компании")
    make_section(sales_head, slug="pay", title="Оплата")
    complete_onboarding(hunter)
    services.section_acknowledge(acting_user=other_hunter, section=Section.objects.get(slug="about"))
    Attempt.objects.create(user=other_hunter, score=60, pass_mark=80, passed=False)

    response = login(sales_head).get(reverse("onboarding:progress"))

    assert response.status_code == 200
    rows = {
        name: unescape(re.sub(r"<[^>]+>", " ", row)).replace("\xa0", " ")
        for row in re.findall(r"<tr>(.*?)</tr>", response.content.decode(), re.S)
        for name in ("Иван Иванов", "Анна Смирнова")
        if name in row
    }
    assert set(rows) == {"Иван Иванов", "Анна Смирнова"}
    assert "2 / 2" in rows["Иван Иванов"] and "сдан (100" in rows["Иван Иванов"]
    assert "да" in rows["Иван Иванов"].split()
    assert "1 / 2" in rows["Анна Смирнова"] and "не сдан (60" in rows["Анна Смирнова"]
    assert "обучается 33 %" in " ".join(rows["Анна Смирнова"].split())


@pytest.mark.parametrize("role", ["hunter", "accountant", "production"])
def test_only_the_head_sees_the_progress_page(db, login, request, role):
    assert login(request.getfixturevalue(role)).get(reverse("onboarding:progress")).status_code == 403


def test_the_kpi_dashboard_has_an_onboarding_column(login, sales_head, hunter, other_hunter):
    make_section(sales_head)
    complete_onboarding(hunter)

    response = login(sales_head).get(reverse("kpi:dashboard"))

    assert response.status_code == 200
    html = response.content.decode()
    assert '<th scope="col">Обучение</th>' in html
    rows = {
        name: row
        for row in re.findall(r"<tr>(.*?)</tr>", html, re.S)
        for name in ("Иван Иванов", "Анна Смирнова")
        if f'<th scope="row">{name}</th>' in row
    }
    assert "пройдено" in rows["Иван Иванов"]
    assert "пройдено" not in rows["Анна Смирнова"]
    assert reverse("onboarding:progress") in rows["Анна Смирнова"]
    assert "0 %" in rows["Анна Смирнова"]


# --- the banner and the deal gate --------------------------------------------------------------------


def test_the_banner_shows_for_a_hunter_who_has_not_finished(login, sales_head, hunter):
    make_section(sales_head)
    client = login(hunter)

    for url in (reverse("onboarding:overview"), reverse("kpi:my_day"), reverse("deals:create")):
        assert BANNER in client.get(url).content.decode(), url


def test_the_banner_is_gone_once_onboarding_is_complete(login, sales_head, hunter):
    make_section(sales_head)
    complete_onboarding(hunter)
    client = login(hunter)

    for url in (reverse("onboarding:overview"), reverse("kpi:my_day")):
        assert BANNER not in client.get(url).content.decode(), url


def test_the_head_never_sees_the_banner(login, sales_head):
    make_section(sales_head)

    assert BANNER not in login(sales_head).get(reverse("kpi:dashboard")).content.decode()
    assert BANNER not in login(sales_head).get(reverse("onboarding:overview")).content.decode()


def test_the_new_deal_page_refuses_a_hunter_without_onboarding(login, sales_head, hunter, settings):
    settings.ONBOARDING_REQUIRED_FOR_DEALS = True
    make_section(sales_head)
    client_card = make_client(acting_user=hunter)

    response = login(hunter).post(reverse("deals:create"), {"client": client_card.pk, "title": ""})

    assert response.status_code == 400
    assert "пройдите обучение" in text_of(response)
    assert not Deal.objects.exists()


def test_the_new_deal_page_opens_a_deal_after_onboarding(login, sales_head, hunter, settings):
    settings.ONBOARDING_REQUIRED_FOR_DEALS = True
    make_section(sales_head)
    complete_onboarding(hunter)
    client_card = make_client(acting_user=hunter)

    response = login(hunter).post(reverse("deals:create"), {"client": client_card.pk, "title": ""})

    deal = Deal.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("deals:detail", args=[deal.pk])


def test_the_new_deal_page_lets_anyone_through_when_the_gate_is_off(login, sales_head, hunter, settings):
    settings.ONBOARDING_REQUIRED_FOR_DEALS = False
    make_section(sales_head)
    client_card = make_client(acting_user=hunter)

    response = login(hunter).post(reverse("deals:create"), {"client": client_card.pk, "title": ""})

    assert response.status_code == 302
    assert Deal.objects.filter(owner=hunter).exists()


# --- stage and pay pages follow the portal's rules ---------------------------------------------------


@pytest.fixture
def regulations(sales_head):
    seed_demo_onboarding(author=sales_head)


@pytest.mark.parametrize("code", stages.ORDER)
def test_a_stage_link_opens_the_stage_section(login, regulations, hunter, code):
    response = login(hunter).get(reverse("onboarding:stage", args=[code]))

    section = Section.objects.get(stage=code)
    assert response.status_code == 302
    assert response.url == reverse("onboarding:section", args=[section.slug])


@pytest.mark.parametrize("code", stages.ORDER)
def test_the_stage_section_lists_the_stage_exit_criteria(login, regulations, hunter, code):
    definition = stages.definition(code)

    response = login(hunter).get(reverse("onboarding:stage", args=[code]), follow=True)

    assert response.status_code == 200
    criteria = text_of(response).split('id="criteria"')[1].split("</section>")[0]
    assert f"Этап {definition.number}" in criteria
    assert str(definition.last_action) in criteria
    for criterion in definition.criteria:
        assert capfirst(str(criterion.label)) in criteria


def test_the_stage_section_follows_a_change_of_the_criteria(login, regulations, hunter, monkeypatch):
    definition = stages.definition(stages.Stage.SAMPLES)
    extra = stages.Criterion(code="test_extra", label="образцы сфотографированы у клиента", holds=bool)
    monkeypatch.setitem(
        stages.BY_STAGE, "samples", replace(definition, criteria=(*definition.criteria, extra))
    )

    response = login(hunter).get(reverse("onboarding:stage", args=["samples"]), follow=True)

    assert "Образцы сфотографированы у клиента" in text_of(response)


def test_a_stage_without_a_section_shows_its_criteria_directly(login, hunter):
    definition = stages.definition(stages.Stage.CALL)

    response = login(hunter).get(reverse("onboarding:stage", args=["call"]))

    assert response.status_code == 200
    text = text_of(response)
    for criterion in definition.criteria:
        assert capfirst(str(criterion.label)) in text


def test_an_unknown_stage_is_not_found(login, hunter):
    assert login(hunter).get(reverse("onboarding:stage", args=["nonsense"])).status_code == 404


def test_the_pay_section_shows_the_scheme_in_force(login, regulations, hunter):
    response = login(hunter).get(reverse("onboarding:section", args=["pay"]))

    scheme = text_of(response).split('id="scheme"')[1].split("</section>")[0]
    assert "10 000,00 ₽" in scheme


def test_the_pay_section_follows_a_new_scheme(login, regulations, sales_head, hunter):
    scheme_save(
        acting_user=sales_head,
        effective_from=timezone.localdate(),
        fixed_amount=Decimal("12000"),
        new_client_rate=Decimal("0.05"),
        existing_client_rate=Decimal("0.025"),
        margin_bonus_rate=Decimal("0.10"),
        accelerator=rules.ACCELERATOR_MARGINAL,
        accelerator_multiplier=Decimal("2"),
        department_bonus_split=rules.SPLIT_EQUAL,
    )

    response = login(hunter).get(reverse("onboarding:section", args=["pay"]))

    scheme = text_of(response).split('id="scheme"')[1].split("</section>")[0]
    assert "12 000,00 ₽" in scheme
    assert "10 000,00 ₽" not in scheme


def test_a_scheme_saved_for_next_month_is_announced_not_applied(login, regulations, sales_head, hunter):
    today = timezone.localdate()
    next_month = date(today.year + today.month // 12, today.month % 12 + 1, 1)
    scheme_save(
        acting_user=sales_head,
        effective_from=next_month,
        fixed_amount=Decimal("15000"),
        new_client_rate=Decimal("0.05"),
        existing_client_rate=Decimal("0.025"),
        margin_bonus_rate=Decimal("0.10"),
        accelerator=rules.ACCELERATOR_RETROACTIVE,
        accelerator_multiplier=Decimal("2"),
        department_bonus_split=rules.SPLIT_EQUAL,
    )

    html = text_of(login(hunter).get(reverse("onboarding:section", args=["pay"])))
    in_force = html.split('id="scheme"')[1].split("</section>")[0]
    ahead = html.split('id="scheme-ahead"')[1].split("</section>")[0]

    assert "10 000,00 ₽" in in_force and "15 000,00 ₽" not in in_force
    assert f"С {date_format(next_month, 'E Y')} — новые условия оплаты" in ahead
    assert "15 000,00 ₽" in ahead
    assert "на все оплаты месяца (ретроактивно)" in ahead


def test_the_pay_section_names_the_accelerator_policy(login, regulations, hunter):
    html = text_of(login(hunter).get(reverse("onboarding:section", args=["pay"])))

    in_force = html.split('id="scheme"')[1].split("</section>")[0]
    assert "только на выручку сверх плана (оплата, которая переходит план, делится на границе)" in in_force
    assert 'id="scheme-ahead"' not in html  # nothing saved for later


def test_other_sections_do_not_show_the_scheme_or_criteria(login, regulations, hunter):
    html = login(hunter).get(reverse("onboarding:section", args=["about"])).content.decode()

    assert 'id="scheme"' not in html
    assert 'id="criteria"' not in html


def test_the_demo_regulations_can_be_read_through_to_completion(login, regulations, hunter, settings):
    settings.ONBOARDING_REQUIRED_FOR_DEALS = True
    client = login(hunter)
    for section in Section.objects.all():
        assert client.get(reverse("onboarding:section", args=[section.slug])).status_code == 200
        client.post(reverse("onboarding:section", args=[section.slug]))
    order, _offered = read_test_page(client.get(reverse("onboarding:test")))
    assert len(order) == settings.ONBOARDING_TEST_QUESTIONS < Question.objects.filter(is_active=True).count()

    client.post(reverse("onboarding:test"), answers_post(order, correctly=True))

    assert onboarding_complete(hunter)
    assert SectionVersion.objects.count() == Section.objects.count()
    assert BANNER not in client.get(reverse("onboarding:overview")).content.decode()
