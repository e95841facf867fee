"""Loads the demo regulations and test, and marks the demo hunters who have finished onboarding."""

from accounts.models import User

from .content import QUESTIONS, SECTIONS
from .models import Acknowledgement, Choice, Question, Section, SectionVersion, TestAttempt
from .selectors import current_versions

# The demo department has one newcomer who is still reading the regulations.
ONBOARDED_DEMO_HUNTERS = ["ivanov", "smirnova", "sokolov"]


def seed_demo_onboarding(*, author: User) -> bool:
    """Creates the sections and questions once; returns whether it did."""
    if Section.objects.exists():
        return False
    for position, spec in enumerate(SECTIONS, start=1):
        section = Section.objects.create(
            slug=spec["slug"], title=spec["title"], position=position, stage=spec["stage"] or ""
        )
        SectionVersion.objects.create(section=section, number=1, body=spec["body"], author=author)
    for position, spec in enumerate(QUESTIONS, start=1):
        question = Question.objects.create(
            text=spec["text"], kind=spec["kind"], explanation=spec["explanation"], position=position
        )
        Choice.objects.bulk_create(
            [
                Choice(question=question, text=text, is_correct=correct, position=i)
                for i, (text, correct) in enumerate(spec["choices"])
            ]
        )
    versions = list(current_versions().values())
    for hunter in User.objects.filter(username__in=ONBOARDED_DEMO_HUNTERS):
        Acknowledgement.objects.bulk_create(
            [Acknowledgement(user=hunter, version=version) for version in versions]
        )
        TestAttempt.objects.create(user=hunter, score=100, pass_mark=80, passed=True)
    return True
