"""Writes about onboarding: editing the regulations, acknowledging them, taking the test."""

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils.translation import gettext as _

from accounts.access import can
from accounts.models import User
from accounts.roles import Capability

from .models import Acknowledgement, AttemptAnswer, Choice, Question, Section, SectionVersion, TestAttempt
from .selectors import current_versions


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


def test_questions(*, seed: int | None = None) -> list[Question]:
    """The active questions in a shuffled order, their choices shuffled too."""
    questions = list(Question.objects.filter(is_active=True).prefetch_related("choices"))
    shuffle = random.Random(seed).shuffle
    shuffle(questions)
    for question in questions:
        question.shuffled_choices = list(question.choices.all())
        shuffle(question.shuffled_choices)
    return questions


@dataclass
class AttemptResult:
    attempt: TestAttempt
    per_question: list[tuple[Question, set[int], set[int], Decimal]]


@transaction.atomic
def attempt_submit(
    *, acting_user: User, answers: Mapping[int, Sequence[int]], order: Sequence[int]
) -> TestAttempt:
    """Scores and stores an attempt: ``answers`` maps question ids to the chosen choice ids."""
    questions = {q.pk: q for q in Question.objects.filter(is_active=True).prefetch_related("choices")}
    # The attempt must answer exactly the current test: every active question, each once.
    if not questions or len(order) != len(set(order)) or set(order) != set(questions):
        raise ValidationError(_("Тест изменился, пока вы отвечали: начните заново."))
    total = Decimal(0)
    rows = []
    for position, question_id in enumerate(order, start=1):
        question = questions[question_id]
        valid = {choice.pk for choice in question.choices.all()}
        chosen = {int(choice) for choice in answers.get(question_id, []) if int(choice) in valid}
        correct = {choice.pk for choice in question.choices.all() if choice.is_correct}
        points = answer_points(kind=question.kind, correct=correct, chosen=chosen)
        total += points
        rows.append((question, position, chosen, points))
    score = (total * 100 / len(order)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    pass_mark = Decimal(settings.ONBOARDING_PASS_MARK)
    attempt = TestAttempt.objects.create(
        user=acting_user, score=score, pass_mark=pass_mark, passed=score >= pass_mark
    )
    for question, position, chosen, points in rows:
        AttemptAnswer.objects.create(
            attempt=attempt,
            question=question,
            position=position,
            points=points,
            chosen=[
                {"id": c.pk, "text": c.text, "correct": c.is_correct}
                for c in question.choices.all()
                if c.pk in chosen
            ],
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
    question.text, question.kind, question.explanation, question.is_active = (
        text.strip(),
        kind,
        explanation.strip(),
        is_active,
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
