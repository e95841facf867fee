"""Writes about onboarding: editing the regulations, acknowledging them, taking the test."""

import random
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.access import can
from accounts.models import User
from accounts.roles import Capability

from .models import (
    Acknowledgement,
    AttemptAnswer,
    Choice,
    Question,
    Section,
    SectionVersion,
    TestAttempt,
    TestDraw,
)
from .selectors import current_versions, drawn_questions, next_attempt_at


@transaction.atomic
def section_save(*, acting_user: User, section: Section, body: str, change_note: str = "") -> SectionVersion:
    """Every edit is a new version; hunters are asked to acknowledge it again."""
    if not can(acting_user, Capability.EDIT_REGULATIONS):
        raise PermissionDenied
    if not body.strip():
        raise ValidationError({"body": _("Текст раздела не может быть пустым.")})
    section = Section.objects.select_for_update().get(pk=section.pk)
    latest = section.versions.aggregate(number=Max("number"))["number"] or 0
    current = section.versions.filter(number=latest).first()
    if current is not None and current.body == body:
        raise ValidationError({"body": _("Текст не изменился.")})
    return SectionVersion.objects.create(
        section=section,
        number=latest + 1,
        body=body,
        change_note=change_note.strip()[:300],
        author=acting_user,
    )


@transaction.atomic
def section_acknowledge(*, acting_user: User, section: Section) -> Acknowledgement:
    version = current_versions().get(section.pk)
    if version is None:
        raise ValidationError(_("У раздела ещё нет текста."))
    acknowledgement, _created = Acknowledgement.objects.get_or_create(user=acting_user, version=version)
    return acknowledgement


def answer_points(*, kind: str, correct: set[int], chosen: set[int]) -> Decimal:
    """One point for a right single answer; a multiple-choice question earns its share of the right
    choices picked, less the wrong ones picked, never below zero."""
    if kind == Question.Kind.SINGLE:
        return Decimal(1) if chosen == correct else Decimal(0)
    if not correct:
        return Decimal(0)
    earned = Decimal(len(chosen & correct) - len(chosen - correct)) / len(correct)
    return max(Decimal(0), earned).quantize(Decimal("0.001"), rounding=ROUND_HALF_UP)


class TestWait(Exception):
    """No new attempt yet: the last one failed less than ONBOARDING_RETRY_WAIT_MINUTES ago."""

    def __init__(self, until: datetime):
        super().__init__(until)
        self.until = until


class TestChanged(Exception):
    """The drawn test no longer matches the question bank (a question was taken out of the test or its
    choices were edited): the person gets a new draw."""


class NoTestDrawn(Exception):
    """Answers came for a test that is not drawn: already accepted (sent twice) or never opened."""


class UnansweredQuestions(ValidationError):
    """Some drawn questions have no answer: refused, the draw kept, no attempt counted."""

    def __init__(self, positions: list[int], *, total: int):
        self.positions = positions
        if len(positions) == total:
            message = _("Вы не ответили ни на один вопрос: попытка не засчитана.")
        else:
            message = ngettext(
                "Ответьте на все вопросы: без ответа остался вопрос № %(numbers)s. Попытка не засчитана.",
                "Ответьте на все вопросы: без ответа остались вопросы № %(numbers)s. Попытка не засчитана.",
                len(positions),
            ) % {"numbers": ", ".join(str(position) for position in positions)}
        super().__init__(message)


@transaction.atomic
def test_draw(*, acting_user: User, rng: random.Random | None = None) -> TestDraw | None:
    """The person's test: the one drawn before while it still matches the bank (a reload shows the same
    questions), otherwise ONBOARDING_TEST_QUESTIONS active questions drawn at random (all of them when
    the bank is smaller), questions and choices shuffled. None while the bank is empty. A new draw is
    refused with ``TestWait`` until the waiting time after a failed attempt has passed."""
    draw = TestDraw.objects.select_for_update().filter(user=acting_user).first()
    if draw is not None:
        if drawn_questions(draw) is not None:
            return draw
        draw.delete()
    else:
        until = next_attempt_at(acting_user)
        if until is not None:
            raise TestWait(until)
    bank = list(Question.objects.filter(is_active=True).prefetch_related("choices"))
    if not bank:
        return None
    rng = rng or random.SystemRandom()
    asked = rng.sample(bank, min(settings.ONBOARDING_TEST_QUESTIONS, len(bank)))
    questions = []
    for question in asked:
        choices = [choice.pk for choice in question.choices.all()]
        rng.shuffle(choices)
        questions.append({"question": question.pk, "choices": choices})
    # Two tabs opening the test at once get the same draw (one per person).
    draw, _created = TestDraw.objects.get_or_create(user=acting_user, defaults={"questions": questions})
    return draw


@transaction.atomic
def attempt_submit(*, acting_user: User, answers: Mapping[int, Sequence[str | int]]) -> TestAttempt:
    """Scores and stores the answers to the person's drawn test; ``answers`` maps question ids to the
    chosen choice ids. Every drawn question needs an answer (``UnansweredQuestions`` otherwise, the draw
    kept and nothing counted); answers to questions not drawn or with choices not offered are refused.
    The accepted attempt ends the draw."""
    draw = TestDraw.objects.select_for_update().filter(user=acting_user).first()
    if draw is None:
        raise NoTestDrawn
    questions = drawn_questions(draw)
    if questions is None:
        raise TestChanged
    if set(answers) - {question.pk for question in questions}:
        raise ValidationError(_("Ответы принимаются только на вопросы вашего теста."))
    chosen_by_question: dict[int, set[int]] = {}
    unanswered = []
    for position, question in enumerate(questions, start=1):
        try:
            chosen = {int(choice) for choice in answers.get(question.pk, ())}
        except (TypeError, ValueError):
            chosen = None
        if chosen is None or not chosen <= {choice.pk for choice in question.shown_choices}:
            message = _("Ответ на вопрос № %(n)s не из предложенных вариантов.")
            raise ValidationError(message % {"n": position})
        if not chosen:
            unanswered.append(position)
        elif question.kind == Question.Kind.SINGLE and len(chosen) > 1:
            raise ValidationError(_("В вопросе № %(n)s нужно выбрать один ответ.") % {"n": position})
        chosen_by_question[question.pk] = chosen
    if unanswered:
        raise UnansweredQuestions(unanswered, total=len(questions))
    draw.delete()

    rows = []
    total = Decimal(0)
    for question in questions:
        chosen = chosen_by_question[question.pk]
        correct = {choice.pk for choice in question.shown_choices if choice.is_correct}
        points = answer_points(kind=question.kind, correct=correct, chosen=chosen)
        total += points
        rows.append((question, chosen, points))
    score = (total * 100 / len(questions)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    pass_mark = Decimal(settings.ONBOARDING_PASS_MARK)
    attempt = TestAttempt.objects.create(
        user=acting_user, score=score, pass_mark=pass_mark, passed=score >= pass_mark
    )
    AttemptAnswer.objects.bulk_create(
        [
            AttemptAnswer(
                attempt=attempt,
                question=question,
                position=position,
                points=points,
                # As the choices read now: editing the question later does not rewrite history.
                chosen=[
                    {"id": choice.pk, "text": choice.text, "correct": choice.is_correct}
                    for choice in question.shown_choices
                    if choice.pk in chosen
                ],
            )
            for position, (question, chosen, points) in enumerate(rows, start=1)
        ]
    )
    return attempt


@transaction.atomic
def question_save(
    *,
    acting_user: User,
    text: str,
    kind: str,
    explanation: str,
    choices: Sequence[tuple[str, bool]],
    question: Question | None = None,
    is_active: bool = True,
    section: Section | None = None,
) -> Question:
    if not can(acting_user, Capability.EDIT_REGULATIONS):
        raise PermissionDenied
    choices = [(text.strip(), correct) for text, correct in choices if text.strip()]
    right = sum(1 for _text, correct in choices if correct)
    if len(choices) < 2:
        raise ValidationError(_("Нужно хотя бы два варианта ответа."))
    if kind == Question.Kind.SINGLE and right != 1:
        raise ValidationError(_("В вопросе с одним ответом верным должен быть ровно один вариант."))
    if kind == Question.Kind.MULTIPLE and right < 1:
        raise ValidationError(_("Отметьте верные варианты."))
    if question is None:
        question = Question(position=(Question.objects.aggregate(p=Max("position"))["p"] or 0) + 1)
    question.text, question.kind, question.explanation, question.is_active, question.section = (
        text.strip(),
        kind,
        explanation.strip(),
        is_active,
        section,
    )
    question.save()
    question.choices.all().delete()
    Choice.objects.bulk_create(
        [
            Choice(question=question, text=text, is_correct=correct, position=i)
            for i, (text, correct) in enumerate(choices)
        ]
    )
    return question
