"""Loads the demo regulations and test, and marks the demo hunters who have finished onboarding."""

from accounts.models import User

from .content import QUESTIONS, SECTIONS
from .models import Acknowledgement, Choice, Question, Section, SectionVersion, TestAttempt
from .selectors import current_versions

# The demo department has one newcomer who is still reading the regulations.
ONBOARDED_DEMO_HUNTERS = ["ivanov", "smirnova", "sokolov"]


def seed_demo_onboarding(*, author: User) -> bool:
    """Creates the sections and questions once; returns whether it did. A demo database made before
    the bank grew gets the demo questions it lacks (by text), and its demo questions their sections."""
    if Section.objects.exists():
        _top_up_question_bank()
        return False
    for position, spec in enumerate(SECTIONS, start=1):
        section = Section.objects.create(
            slug=spec["slug"], title=spec["title"], position=position, stage=spec["stage"] or ""
        )
        SectionVersion.objects.create(section=section, number=1, body=spec["body"], author=author)
    _top_up_question_bank()
    versions = list(current_versions().values())
    for hunter in User.objects.filter(username__in=ONBOARDED_DEMO_HUNTERS):
        Acknowledgement.objects.bulk_create(
            [Acknowledgement(user=hunter, version=version) for version in versions]
        )
        TestAttempt.objects.create(user=hunter, score=100, pass_mark=80, passed=True)
    return True


def _top_up_question_bank() -> None:
    sections = {section.slug: section for section in Section.objects.all()}
    existing = {question.text: question for question in Question.objects.all()}
    position = max((question.position for question in existing.values()), default=0)
    for spec in QUESTIONS:
        section = sections.get(spec["section"])
        question = existing.get(spec["text"])
        if question is not None:
            if question.section_id is None and section is not None:
                Question.objects.filter(pk=question.pk).update(section=section)
            continue
        position += 1
        question = Question.objects.create(
            text=spec["text"],
            kind=spec["kind"],
            explanation=spec["explanation"],
            section=section,
            position=position,
        )
        Choice.objects.bulk_create(
            [
                Choice(question=question, text=text, is_correct=correct, position=i)
                for i, (text, correct) in enumerate(spec["choices"])
            ]
        )
