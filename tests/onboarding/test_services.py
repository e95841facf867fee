"""The onboarding rules through its services and selectors: safe Markdown, versions of the regulations,
re-acknowledgement, scoring the test, everyone's progress, the deal-creation gate and the demo content."""

import json
import random
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from deals import stages
from deals.models import Deal
from deals.services import DealRuleError, deal_create
from onboarding import services
from onboarding.content import QUESTIONS, SECTIONS
from onboarding.demo import seed_demo_onboarding
from onboarding.models import Acknowledgement, Question, Section, SectionVersion
from onboarding.models import TestAttempt as Attempt
from onboarding.models import TestDraw as Draw
from onboarding.selectors import (
    current_versions,
    drawn_questions,
    next_attempt_at,
    onboarding_complete,
    progress_for,
    render_markdown,
)
from tests.deals.factories import make_client
from tests.factories import UserFactory

ONBOARDING_REFUSAL = "пройдите обучение"


def make_section(author, *, slug="rules", title="Правила", body="Первая строка\nВторая строка", stage=""):
    section = Section.objects.create(slug=slug, title=title, stage=stage)
    services.section_save(acting_user=author, section=section, body=body, change_note="Первая версия")
    return section


def make_question(author, *, text="Вопрос?", kind=Question.Kind.SINGLE, right=("верно",), wrong=("неверно",)):
    return services.question_save(
        acting_user=author,
        text=text,
        kind=kind,
        explanation=f"Пояснение к «{text}»",
        choices=[(choice, True) for choice in right] + [(choice, False) for choice in wrong],
    )


def choice_ids(question, *texts):
    return [question.choices.get(text=text).pk for text in texts]


def right_answers(question):
    return [choice.pk for choice in question.choices.all() if choice.is_correct]


def wrong_answers(question):
    return [choice.pk for choice in question.choices.all() if not choice.is_correct][:1]


def acknowledge_everything(user):
    for section in Section.objects.all():
        services.section_acknowledge(acting_user=user, section=section)


def passed_attempt(user):
    """A passed test as the demo records one, independent of the scoring code."""
    return Attempt.objects.create(user=user, score=100, pass_mark=80, passed=True)


# --- sanitising ------------------------------------------------------------------------------------


def test_script_tags_never_reach_the_rendered_regulation():
    html = render_markdown("Текст\n\n<script>alert(1)</script>\n")
    assert "<script" not in html.lower()
    assert "alert(1)" not in html
    assert "Текст" in html


def test_an_image_with_an_onerror_handler_is_dropped():
    html = render_markdown('До\n\n<img src=x onerror="alert(2)">\n\nПосле')
    assert "<img" not in html.lower()
    assert "onerror" not in html.lower()
    assert "До" in html and "После" in html


@pytest.mark.parametrize(
    "link", ["[x](javascript:alert(1))", "[x](JaVaScRiPt:alert(1))", '<a href="javascript:alert(1)">x</a>']
)
def test_javascript_links_lose_their_target(link):
    html = render_markdown(f"Смотрите {link}")
    assert "javascript:" not in html.lower()
    assert ">x</a>" in html


def test_ordinary_markdown_renders_headings_lists_bold_and_tables():
    html = render_markdown(
        "## Звонок\n\n"
        "### Что сказать\n\n"
        "- первый пункт\n- **важный** пункт\n\n"
        "1. раз\n2. два\n\n"
        "| Этап | Срок |\n|---|---|\n| Звонок | 1 день |\n\n"
        "[Портал](https://example.ru/)\n"
    )
    assert "<h2>Звонок</h2>" in html
    assert "<h3>Что сказать</h3>" in html
    assert "<li>первый пункт</li>" in html
    assert "<strong>важный</strong>" in html
    assert "<ol>" in html
    assert "<table>" in html and "<th>Этап</th>" in html and "<td>1 день</td>" in html
    assert 'href="https://example.ru/"' in html


# --- versioning ------------------------------------------------------------------------------------


def test_every_save_is_a_new_numbered_version_with_its_author_date_and_note(sales_head):
    section = make_section(sales_head, body="Старый текст")
    first = current_versions()[section.pk]

    second = services.section_save(
        acting_user=sales_head, section=section, body="Новый текст", change_note="  Уточнили срок  "
    )

    assert (first.number, second.number) == (1, 2)
    assert second.author == sales_head
    assert second.created_at >= first.created_at
    assert second.change_note == "Уточнили срок"
    assert current_versions()[section.pk] == second
    assert SectionVersion.objects.get(pk=first.pk).body == "Старый текст"


def test_saving_the_same_text_again_is_refused(sales_head):
    section = make_section(sales_head, body="Текст раздела")

    with pytest.raises(ValidationError) as error:
        services.section_save(acting_user=sales_head, section=section, body="Текст раздела")

    assert "Текст не изменился." in error.value.messages
    assert section.versions.count() == 1


def test_an_empty_text_is_refused(sales_head):
    section = make_section(sales_head)

    with pytest.raises(ValidationError):
        services.section_save(acting_user=sales_head, section=section, body="   \n")

    assert section.versions.count() == 1


@pytest.mark.parametrize("role", ["hunter", "accountant", "production"])
def test_only_the_head_may_edit_the_regulations(request, sales_head, role):
    section = make_section(sales_head)
    user = request.getfixturevalue(role)

    with pytest.raises(PermissionDenied):
        services.section_save(acting_user=user, section=section, body="Подменённый текст")

    assert section.versions.count() == 1


# --- re-acknowledgement -----------------------------------------------------------------------------


def test_a_new_version_needs_acknowledging_again(sales_head, hunter):
    section = make_section(sales_head)
    make_section(sales_head, slug="pay", title="Оплата", body="Оклад и проценты")
    services.section_acknowledge(acting_user=hunter, section=section)
    services.section_acknowledge(acting_user=hunter, section=Section.objects.get(slug="pay"))
    assert progress_for([hunter])[0].acknowledged == 2

    services.section_save(acting_user=sales_head, section=section, body="Первая строка\nНовая строка")

    [progress] = progress_for([hunter])
    assert (progress.acknowledged, progress.sections) == (1, 2)

    services.section_acknowledge(acting_user=hunter, section=section)

    assert progress_for([hunter])[0].acknowledged == 2


def test_acknowledging_twice_keeps_one_record(sales_head, hunter):
    section = make_section(sales_head)

    services.section_acknowledge(acting_user=hunter, section=section)
    services.section_acknowledge(acting_user=hunter, section=section)

    assert Acknowledgement.objects.filter(user=hunter).count() == 1


def test_a_section_without_text_cannot_be_acknowledged(hunter):
    section = Section.objects.create(slug="empty", title="Пусто")

    with pytest.raises(ValidationError):
        services.section_acknowledge(acting_user=hunter, section=section)


# --- scoring ---------------------------------------------------------------------------------------

A, B, C, X, Y = 1, 2, 3, 8, 9


@pytest.mark.parametrize(
    ("chosen", "points"),
    [({A}, Decimal(1)), ({X}, Decimal(0)), (set(), Decimal(0)), ({A, X}, Decimal(0))],
    ids=["right", "wrong", "empty", "right-and-wrong"],
)
def test_a_single_answer_question_earns_a_point_only_for_the_right_answer(chosen, points):
    assert services.answer_points(kind=Question.Kind.SINGLE, correct={A}, chosen=chosen) == points


@pytest.mark.parametrize(
    ("chosen", "points"),
    [
        ({A, B, C}, Decimal("1")),
        ({A, B}, Decimal("0.667")),
        ({A}, Decimal("0.333")),
        ({A, B, X}, Decimal("0.333")),
        ({A, X}, Decimal("0")),
        ({X}, Decimal("0")),
        ({X, Y}, Decimal("0")),
        (set(), Decimal("0")),
        ({A, B, C, X}, Decimal("0.667")),
    ],
    ids=[
        "all",
        "two",
        "one",
        "two-and-wrong",
        "one-and-wrong",
        "wrong",
        "two-wrong",
        "empty",
        "all-and-wrong",
    ],
)
def test_a_multiple_answer_question_earns_its_share_less_wrong_picks_never_below_zero(chosen, points):
    earned = services.answer_points(kind=Question.Kind.MULTIPLE, correct={A, B, C}, chosen=chosen)
    assert earned == points
    assert earned >= 0


def draw(user, **kwargs):
    """The user's drawn test as the test page gets it; the questions' ids in the order asked."""
    drawn = services.test_draw(acting_user=user, **kwargs)
    return [item["question"] for item in drawn.questions] if drawn else []


def test_an_attempt_stores_every_answer_in_the_drawn_order_and_the_score(sales_head, hunter, settings):
    settings.ONBOARDING_PASS_MARK = 80
    single = make_question(sales_head, text="Сколько этапов?", right=("Девять",), wrong=("Семь", "Пять"))
    multiple = make_question(
        sales_head,
        text="Что нужно для КП?",
        kind=Question.Kind.MULTIPLE,
        right=("Почта ЛПР", "Дата перезвона", "Шаблон"),
        wrong=("Факс",),
    )
    order = draw(hunter)

    attempt = services.attempt_submit(
        acting_user=hunter,
        answers={
            single.pk: choice_ids(single, "Девять"),
            multiple.pk: choice_ids(multiple, "Почта ЛПР", "Шаблон"),
        },
    )

    attempt.refresh_from_db()
    assert attempt.user == hunter
    assert attempt.score == Decimal("83.4")  # (0.667 + 1) / 2
    assert attempt.pass_mark == Decimal(80)
    assert attempt.passed
    answers = list(attempt.answers.all())
    assert [(answer.position, answer.question_id) for answer in answers] == list(enumerate(order, start=1))
    points = {answer.question_id: answer.points for answer in answers}
    assert points == {multiple.pk: Decimal("0.667"), single.pk: Decimal("1.000")}
    stored = json.dumps([answer.chosen for answer in answers], ensure_ascii=False)
    assert "Почта ЛПР" in stored and "Шаблон" in stored and "Девять" in stored
    assert "Дата перезвона" not in stored and "Факс" not in stored
    assert not Draw.objects.filter(user=hunter).exists()


def test_the_stored_answer_keeps_the_chosen_text_after_the_question_is_edited(sales_head, hunter):
    question = make_question(
        sales_head, text="Кто согласует заказ?", right=("Производство",), wrong=("Бухгалтер",)
    )
    draw(hunter)
    attempt = services.attempt_submit(
        acting_user=hunter, answers={question.pk: choice_ids(question, "Производство")}
    )

    make_question_edit = services.question_save(
        acting_user=sales_head,
        question=question,
        text="Кто согласует заказ?",
        kind=Question.Kind.SINGLE,
        explanation="Пояснение",
        choices=[("Производство и склад", True), ("Бухгалтер", False)],
    )

    assert make_question_edit.pk == question.pk
    answer = attempt.answers.get()
    stored = json.dumps(answer.chosen, ensure_ascii=False)
    assert "Производство" in stored
    assert "склад" not in stored


# --- the pass threshold --------------------------------------------------------------------------------


def test_a_score_exactly_at_the_pass_mark_passes(sales_head, hunter, settings):
    settings.ONBOARDING_PASS_MARK = 80
    questions = [make_question(sales_head, text=f"Вопрос {n}?") for n in range(5)]
    answers = {q.pk: right_answers(q) for q in questions[:4]}
    answers[questions[4].pk] = wrong_answers(questions[4])
    draw(hunter)

    attempt = services.attempt_submit(acting_user=hunter, answers=answers)

    assert attempt.score == Decimal("80.0")
    assert attempt.passed


def test_a_score_a_tenth_below_the_pass_mark_fails(sales_head, hunter, settings):
    settings.ONBOARDING_PASS_MARK = 80
    singles = [make_question(sales_head, text=f"Вопрос {n}?") for n in range(5)]
    six = make_question(
        sales_head, text="Шесть верных?", kind=Question.Kind.MULTIPLE, right=[f"в{n}" for n in range(6)]
    )
    seven = make_question(
        sales_head, text="Семь верных?", kind=Question.Kind.MULTIPLE, right=[f"с{n}" for n in range(7)]
    )
    answers = {q.pk: right_answers(q) for q in singles}
    answers[six.pk] = choice_ids(six, "в0")  # 1/6 = 0.167
    answers[seven.pk] = choice_ids(seven, "с0", "с1", "с2")  # 3/7 = 0.429
    draw(hunter)

    attempt = services.attempt_submit(acting_user=hunter, answers=answers)

    assert attempt.score == Decimal("79.9")  # (5 + 0.167 + 0.429) / 7
    assert not attempt.passed


def test_the_pass_mark_comes_from_the_settings(sales_head, hunter, settings):
    settings.ONBOARDING_PASS_MARK = 50
    first, second = make_question(sales_head, text="Первый?"), make_question(sales_head, text="Второй?")
    draw(hunter)

    attempt = services.attempt_submit(
        acting_user=hunter, answers={first.pk: right_answers(first), second.pk: wrong_answers(second)}
    )

    assert attempt.score == Decimal("50.0")
    assert attempt.pass_mark == Decimal(50)
    assert attempt.passed


def test_the_score_is_a_share_of_the_drawn_questions_not_of_the_bank(sales_head, hunter, settings):
    settings.ONBOARDING_TEST_QUESTIONS = 4
    questions = {q.pk: q for q in (make_question(sales_head, text=f"Вопрос {n}?") for n in range(10))}
    order = draw(hunter)
    answers = {pk: right_answers(questions[pk]) for pk in order[:3]}
    answers[order[3]] = wrong_answers(questions[order[3]])

    attempt = services.attempt_submit(acting_user=hunter, answers=answers)

    assert attempt.score == Decimal("75.0")
    assert attempt.answers.count() == 4


# --- the draw ------------------------------------------------------------------------------------------


def test_each_attempt_draws_the_set_number_of_active_questions_from_the_bank(
    sales_head, hunter, other_hunter, settings
):
    settings.ONBOARDING_TEST_QUESTIONS = 12
    questions = [make_question(sales_head, text=f"Вопрос {n}?") for n in range(31)]
    Question.objects.filter(pk=questions[0].pk).update(is_active=False)
    active = {q.pk for q in questions[1:]}

    draws = [draw(user, rng=random.Random(seed)) for seed, user in enumerate([hunter, other_hunter])]

    for order in draws:
        assert len(order) == len(set(order)) == 12
        assert set(order) <= active
    assert set(draws[0]) != set(draws[1])


def test_a_bank_smaller_than_the_setting_is_asked_whole_in_a_shuffled_order(sales_head, settings):
    settings.ONBOARDING_TEST_QUESTIONS = 12
    questions = [make_question(sales_head, text=f"Вопрос {n}?") for n in range(6)]
    people = [UserFactory(role="hunter") for _n in range(6)]

    orders = {tuple(draw(person)) for person in people}

    assert all(sorted(order) == sorted(q.pk for q in questions) for order in orders)
    assert len(orders) > 1


def test_the_draw_is_kept_so_a_reload_shows_the_same_questions_and_choices(sales_head, hunter, settings):
    settings.ONBOARDING_TEST_QUESTIONS = 5
    for n in range(20):
        make_question(sales_head, text=f"Вопрос {n}?", wrong=("a", "b", "c"))

    first = services.test_draw(acting_user=hunter)
    shown = [[c.pk for c in q.shown_choices] for q in drawn_questions(first)]
    again = services.test_draw(acting_user=hunter)

    assert again.pk == first.pk
    assert again.questions == first.questions
    assert [[c.pk for c in q.shown_choices] for q in drawn_questions(again)] == shown


def test_the_choices_are_shuffled_too(sales_head):
    question = make_question(sales_head, right=("1",), wrong=("2", "3", "4", "5"))
    people = [UserFactory(role="hunter") for _n in range(8)]

    orders = {tuple(services.test_draw(acting_user=person).questions[0]["choices"]) for person in people}

    assert len(orders) > 1
    assert all(sorted(order) == sorted(question.choices.values_list("pk", flat=True)) for order in orders)


def test_a_draw_the_bank_has_moved_past_is_refused_then_drawn_again(sales_head, hunter, settings):
    settings.ONBOARDING_TEST_QUESTIONS = 3
    questions = {q.pk: q for q in (make_question(sales_head, text=f"Вопрос {n}?") for n in range(6))}
    order = draw(hunter)
    Question.objects.filter(pk=order[0]).update(is_active=False)

    with pytest.raises(services.TestChanged):
        services.attempt_submit(
            acting_user=hunter, answers={pk: right_answers(questions[pk]) for pk in order}
        )

    assert not Attempt.objects.exists()
    assert order[0] not in draw(hunter)


def test_edited_choices_make_the_draw_stale(sales_head, hunter):
    question = make_question(sales_head, text="Кто согласует заказ?")
    draw(hunter)
    services.question_save(
        acting_user=sales_head,
        question=question,
        text=question.text,
        kind=Question.Kind.SINGLE,
        explanation="Пояснение",
        choices=[("Производство", True), ("Бухгалтер", False)],
    )

    with pytest.raises(services.TestChanged):
        services.attempt_submit(acting_user=hunter, answers={question.pk: right_answers(question)})


def test_answers_for_questions_not_drawn_are_refused(sales_head, hunter, settings):
    settings.ONBOARDING_TEST_QUESTIONS = 3
    questions = {q.pk: q for q in (make_question(sales_head, text=f"Вопрос {n}?") for n in range(8))}
    order = draw(hunter)
    other = next(pk for pk in questions if pk not in order)
    answers = {pk: right_answers(questions[pk]) for pk in order}
    answers[other] = right_answers(questions[other])

    with pytest.raises(ValidationError) as error:
        services.attempt_submit(acting_user=hunter, answers=answers)

    assert "только на вопросы вашего теста" in error.value.messages[0]
    assert not Attempt.objects.exists()
    assert draw(hunter) == order


def test_choices_of_another_question_are_refused(sales_head, hunter):
    first, second = make_question(sales_head, text="Первый?"), make_question(sales_head, text="Второй?")
    draw(hunter)

    with pytest.raises(ValidationError) as error:
        services.attempt_submit(
            acting_user=hunter, answers={first.pk: right_answers(second), second.pk: right_answers(first)}
        )

    assert "не из предложенных вариантов" in error.value.messages[0]
    assert not Attempt.objects.exists()


def test_a_single_answer_question_takes_exactly_one_choice(sales_head, hunter):
    question = make_question(sales_head, text="Один ответ?", wrong=("Нет", "Тоже нет"))
    draw(hunter)

    with pytest.raises(ValidationError) as error:
        services.attempt_submit(
            acting_user=hunter, answers={question.pk: [c.pk for c in question.choices.all()]}
        )

    assert "нужно выбрать один ответ" in error.value.messages[0]
    assert not Attempt.objects.exists()


def test_an_empty_bank_draws_nothing_and_takes_no_answers(hunter):
    assert services.test_draw(acting_user=hunter) is None
    with pytest.raises(services.NoTestDrawn):
        services.attempt_submit(acting_user=hunter, answers={})


def test_answers_sent_twice_count_once(sales_head, hunter):
    question = make_question(sales_head)
    draw(hunter)
    services.attempt_submit(acting_user=hunter, answers={question.pk: right_answers(question)})

    with pytest.raises(services.NoTestDrawn):
        services.attempt_submit(acting_user=hunter, answers={question.pk: right_answers(question)})

    assert Attempt.objects.filter(user=hunter).count() == 1


# --- blank and incomplete sheets ---------------------------------------------------------------------


def test_a_blank_sheet_is_refused_in_russian_and_does_not_count(sales_head, hunter):
    for n in range(3):
        make_question(sales_head, text=f"Вопрос {n}?")
    order = draw(hunter)

    with pytest.raises(services.UnansweredQuestions) as error:
        services.attempt_submit(acting_user=hunter, answers={})

    assert error.value.messages == ["Вы не ответили ни на один вопрос: попытка не засчитана."]
    assert not Attempt.objects.exists()
    assert next_attempt_at(hunter) is None
    assert draw(hunter) == order


def test_one_unanswered_question_refuses_the_sheet_and_names_it(sales_head, hunter):
    questions = {q.pk: q for q in (make_question(sales_head, text=f"Вопрос {n}?") for n in range(4))}
    order = draw(hunter)
    answers = {pk: right_answers(questions[pk]) for pk in order}
    answers[order[2]] = []

    with pytest.raises(services.UnansweredQuestions) as error:
        services.attempt_submit(acting_user=hunter, answers=answers)

    assert error.value.positions == [3]
    assert "без ответа остался вопрос № 3" in error.value.messages[0]
    assert not Attempt.objects.exists()


def test_a_sheet_answering_only_the_known_questions_cannot_pass(sales_head, hunter):
    questions = {q.pk: q for q in (make_question(sales_head, text=f"Вопрос {n}?") for n in range(5))}
    order = draw(hunter)

    with pytest.raises(services.UnansweredQuestions):
        services.attempt_submit(acting_user=hunter, answers={order[0]: right_answers(questions[order[0]])})

    assert not Attempt.objects.exists()
    assert not onboarding_complete(hunter)


# --- waiting after a failed attempt ------------------------------------------------------------------


def fail_once(author, user) -> Attempt:
    questions = {q.pk: q for q in (make_question(author, text=f"Вопрос {n}?") for n in range(3))}
    order = draw(user)
    return services.attempt_submit(
        acting_user=user, answers={pk: wrong_answers(questions[pk]) for pk in order}
    )


def test_a_new_attempt_waits_the_set_time_after_a_failed_one(sales_head, hunter, settings):
    settings.ONBOARDING_RETRY_WAIT_MINUTES = 10
    failed = fail_once(sales_head, hunter)
    assert not failed.passed

    with pytest.raises(services.TestWait) as wait:
        services.test_draw(acting_user=hunter)

    assert wait.value.until == failed.finished_at + timedelta(minutes=10)
    assert not Draw.objects.filter(user=hunter).exists()
    Attempt.objects.filter(pk=failed.pk).update(finished_at=failed.finished_at - timedelta(minutes=10))
    assert len(draw(hunter)) == 3


def test_the_wait_comes_from_the_settings(sales_head, hunter, settings):
    settings.ONBOARDING_RETRY_WAIT_MINUTES = 60
    failed = fail_once(sales_head, hunter)
    Attempt.objects.filter(pk=failed.pk).update(finished_at=failed.finished_at - timedelta(minutes=30))

    with pytest.raises(services.TestWait):
        services.test_draw(acting_user=hunter)


def test_there_is_no_wait_after_a_pass(sales_head, hunter):
    question = make_question(sales_head)
    draw(hunter)
    services.attempt_submit(acting_user=hunter, answers={question.pk: right_answers(question)})

    assert next_attempt_at(hunter) is None
    assert draw(hunter) == [question.pk]


# --- questions ---------------------------------------------------------------------------------------


def test_only_the_head_keeps_the_question_bank(hunter):
    with pytest.raises(PermissionDenied):
        make_question(hunter)


@pytest.mark.parametrize(
    ("kind", "choices"),
    [
        (Question.Kind.SINGLE, [("один", True)]),
        (Question.Kind.SINGLE, [("один", True), ("два", True)]),
        (Question.Kind.SINGLE, [("один", False), ("два", False)]),
        (Question.Kind.MULTIPLE, [("один", False), ("два", False)]),
    ],
    ids=["one-choice", "single-two-right", "single-none-right", "multiple-none-right"],
)
def test_a_question_without_sensible_choices_is_refused(sales_head, kind, choices):
    with pytest.raises(ValidationError):
        services.question_save(
            acting_user=sales_head, text="Вопрос?", kind=kind, explanation="П", choices=choices
        )

    assert not Question.objects.exists()


# --- progress ----------------------------------------------------------------------------------------


def test_onboarding_is_complete_only_with_every_section_acknowledged_and_the_test_passed(sales_head, hunter):
    make_section(sales_head, slug="about", title="О компании")
    make_section(sales_head, slug="pay", title="Оплата")
    assert not onboarding_complete(hunter)

    services.section_acknowledge(acting_user=hunter, section=Section.objects.get(slug="about"))
    passed_attempt(hunter)
    assert not onboarding_complete(hunter)

    services.section_acknowledge(acting_user=hunter, section=Section.objects.get(slug="pay"))
    assert onboarding_complete(hunter)


def test_reading_everything_without_passing_the_test_is_not_enough(sales_head, hunter):
    make_section(sales_head)
    acknowledge_everything(hunter)
    Attempt.objects.create(user=hunter, score=60, pass_mark=80, passed=False)

    [progress] = progress_for([hunter])

    assert not progress.complete
    assert progress.best_score == Decimal(60)
    assert progress.percent == 50


def test_a_new_version_makes_a_complete_hunter_incomplete_again(sales_head, hunter):
    section = make_section(sales_head)
    acknowledge_everything(hunter)
    passed_attempt(hunter)
    assert onboarding_complete(hunter)

    services.section_save(acting_user=sales_head, section=section, body="Совсем новый текст")

    assert not onboarding_complete(hunter)


def test_nobody_is_complete_while_the_regulations_are_empty(hunter):
    passed_attempt(hunter)

    assert not onboarding_complete(hunter)


def test_progress_is_counted_per_person(sales_head, hunter, other_hunter):
    make_section(sales_head, slug="about", title="О компании")
    make_section(sales_head, slug="pay", title="Оплата")
    acknowledge_everything(hunter)
    passed_attempt(hunter)
    services.section_acknowledge(acting_user=other_hunter, section=Section.objects.get(slug="pay"))

    mine, theirs = progress_for([hunter, other_hunter])

    assert (mine.user, mine.acknowledged, mine.passed, mine.complete, mine.percent) == (
        hunter,
        2,
        True,
        True,
        100,
    )
    assert (theirs.user, theirs.acknowledged, theirs.passed, theirs.complete) == (
        other_hunter,
        1,
        False,
        False,
    )
    assert theirs.percent == 33


def test_progress_asks_the_database_nothing_postgresql_lacks(sales_head, hunter):
    """Production runs PostgreSQL (docker-compose.yml), which has no MAX() over a boolean column:
    ``SELECT max(passed)`` fails there with "function max(boolean) does not exist"."""
    make_section(sales_head)
    passed_attempt(hunter)

    with CaptureQueriesContext(connection) as queries:
        progress_for([hunter])

    for query in queries.captured_queries:
        assert not re.search(r'MAX\([^)]*"passed"\)', query["sql"], re.IGNORECASE), query["sql"]


# --- the deal-creation gate --------------------------------------------------------------------------


def test_a_hunter_without_onboarding_may_not_open_a_deal(sales_head, hunter, settings):
    settings.ONBOARDING_REQUIRED_FOR_DEALS = True
    make_section(sales_head)
    client = make_client(acting_user=hunter)

    with pytest.raises(DealRuleError) as error:
        deal_create(acting_user=hunter, client=client)

    assert ONBOARDING_REFUSAL in str(error.value)
    assert not Deal.objects.exists()


def test_a_hunter_who_finished_onboarding_opens_deals(sales_head, hunter, settings):
    settings.ONBOARDING_REQUIRED_FOR_DEALS = True
    make_section(sales_head)
    acknowledge_everything(hunter)
    passed_attempt(hunter)

    deal = deal_create(acting_user=hunter, client=make_client(acting_user=hunter))

    assert deal.stage == stages.Stage.LEAD


def test_the_gate_is_off_when_the_setting_is_off(sales_head, hunter, settings):
    settings.ONBOARDING_REQUIRED_FOR_DEALS = False
    make_section(sales_head)

    deal = deal_create(acting_user=hunter, client=make_client(acting_user=hunter))

    assert Deal.objects.filter(pk=deal.pk).exists()


def test_the_head_is_not_held_by_the_gate(sales_head, settings):
    settings.ONBOARDING_REQUIRED_FOR_DEALS = True
    make_section(sales_head)

    deal = deal_create(acting_user=sales_head, client=make_client(acting_user=sales_head))

    assert Deal.objects.filter(pk=deal.pk).exists()


def test_a_changed_section_closes_the_gate_again(sales_head, hunter, settings):
    settings.ONBOARDING_REQUIRED_FOR_DEALS = True
    section = make_section(sales_head)
    acknowledge_everything(hunter)
    passed_attempt(hunter)
    client = make_client(acting_user=hunter)
    deal_create(acting_user=hunter, client=client)

    services.section_save(acting_user=sales_head, section=section, body="Изменённые правила")

    with pytest.raises(DealRuleError):
        deal_create(acting_user=hunter, client=client)


# --- demo content ------------------------------------------------------------------------------------


def test_the_demo_loads_a_section_for_every_stage_and_the_question_bank(sales_head):
    assert seed_demo_onboarding(author=sales_head) is True

    assert Section.objects.count() == len(SECTIONS) >= 14
    assert sorted(Section.objects.exclude(stage="").values_list("stage", flat=True)) == sorted(stages.ORDER)
    for definition in stages.STAGES:
        assert Section.objects.filter(stage=definition.stage.value, slug=definition.regulation_slug).exists()
    assert Question.objects.count() == len(QUESTIONS) >= 30
    assert not Question.objects.filter(section=None).exists()
    assert len(current_versions()) == Section.objects.count()
    for question in Question.objects.prefetch_related("choices"):
        correct = [choice for choice in question.choices.all() if choice.is_correct]
        assert len(question.choices.all()) >= 2
        assert correct, question.text
        if question.kind == Question.Kind.SINGLE:
            assert len(correct) == 1, question.text


def test_the_demo_is_loaded_only_once(sales_head):
    seed_demo_onboarding(author=sales_head)
    counts = (Section.objects.count(), SectionVersion.objects.count(), Question.objects.count())

    assert seed_demo_onboarding(author=sales_head) is False

    assert (Section.objects.count(), SectionVersion.objects.count(), Question.objects.count()) == counts


def test_an_older_demo_database_gets_the_questions_it_lacks_and_their_sections(sales_head):
    seed_demo_onboarding(author=sales_head)
    Question.objects.filter(text=QUESTIONS[-1]["text"]).delete()
    Question.objects.update(section=None)
    edited = Question.objects.get(text=QUESTIONS[0]["text"])

    assert seed_demo_onboarding(author=sales_head) is False

    assert Question.objects.count() == len(QUESTIONS)
    assert Question.objects.get(text=QUESTIONS[-1]["text"]).section.slug == QUESTIONS[-1]["section"]
    assert Question.objects.get(pk=edited.pk).section.slug == QUESTIONS[0]["section"]
    assert not Question.objects.filter(section=None).exists()


def test_the_demo_marks_the_onboarded_demo_hunters_complete(sales_head, hunter):
    ivanov = UserFactory(username="ivanov", role="hunter")

    seed_demo_onboarding(author=sales_head)

    assert onboarding_complete(ivanov)
    assert not onboarding_complete(hunter)
