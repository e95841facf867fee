"""Reads about onboarding: current versions, each person's progress, the regulations rendered safely."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import markdown
import nh3
from django.conf import settings
from django.db.models import Count, Exists, Max, OuterRef, Q
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from accounts.models import User

from .models import Acknowledgement, Question, Section, SectionVersion, TestAttempt, TestDraw

# What the regulations' Markdown may produce; everything else (scripts, styles, handlers) is dropped.
ALLOWED_TAGS = {
    "p",
    "br",
    "hr",
    "h2",
    "h3",
    "h4",
    "strong",
    "em",
    "ul",
    "ol",
    "li",
    "blockquote",
    "code",
    "pre",
    "a",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
}


def render_markdown(text: str) -> SafeString:
    html = markdown.markdown(text or "", extensions=["tables", "sane_lists"])
    clean = nh3.clean(
        html, tags=ALLOWED_TAGS, attributes={"a": {"href", "title"}}, link_rel="noopener noreferrer"
    )
    return mark_safe(clean)  # sanitised just above by nh3


def current_versions() -> dict[int, SectionVersion]:
    """Each section's newest version, in two queries."""
    latest = dict(SectionVersion.objects.values_list("section").annotate(number=Max("number")))
    versions = SectionVersion.objects.filter(
        section_id__in=latest.keys(), number__in=set(latest.values())
    ).select_related("section")
    return {v.section_id: v for v in versions if latest.get(v.section_id) == v.number}


@dataclass
class Progress:
    user: User
    acknowledged: int
    sections: int
    passed: bool
    best_score: Decimal | None

    @property
    def complete(self) -> bool:
        return self.sections > 0 and self.acknowledged == self.sections and self.passed

    @property
    def percent(self) -> int:
        steps = self.sections + 1
        done = self.acknowledged + (1 if self.passed else 0)
        return int((Decimal(done) * 100 / steps).quantize(Decimal("1"), rounding=ROUND_HALF_UP))


def progress_for(users: list[User]) -> list[Progress]:
    """Onboarding progress of each user in a fixed number of queries."""
    versions = current_versions()
    current_ids = {version.pk for version in versions.values()}
    acknowledged: dict[int, int] = {}
    for user_id, _version_id in Acknowledgement.objects.filter(
        user__in=users, version_id__in=current_ids
    ).values_list("user_id", "version_id"):
        acknowledged[user_id] = acknowledged.get(user_id, 0) + 1
    attempts = {
        row["user"]: row
        for row in TestAttempt.objects.filter(user__in=users)
        .values("user")
        .annotate(best=Max("score"), passed=Count("pk", filter=Q(passed=True)))
    }
    return [
        Progress(
            user=user,
            acknowledged=acknowledged.get(user.pk, 0),
            sections=len(versions),
            passed=bool(attempts.get(user.pk, {}).get("passed")),
            best_score=attempts.get(user.pk, {}).get("best"),
        )
        for user in users
    ]


def progress_version() -> tuple:
    """A version of everyone's onboarding progress. Its rows (section versions, acknowledgements, test
    attempts) are only ever added or removed, never changed, and their keys are never reused: their counts
    and last keys move with any change."""
    return tuple(
        tuple(model.objects.aggregate(rows=Count("pk"), last=Max("pk")).values())
        for model in (SectionVersion, Acknowledgement, TestAttempt)
    )


def onboarding_complete(user: User) -> bool:
    """Asked by the navigation on every page a hunter opens: counted in one query, judged by ``Progress``."""
    later = SectionVersion.objects.filter(section=OuterRef("section"), number__gt=OuterRef("number"))
    newest = ~Exists(later)
    figures = SectionVersion.objects.filter(newest).aggregate(
        sections=Count("pk", distinct=True),
        acknowledged=Count("acknowledgements", filter=Q(acknowledgements__user=user), distinct=True),
        passed=Count("pk", filter=Exists(TestAttempt.objects.filter(user=user, passed=True)), distinct=True),
    )
    progress = Progress(
        user=user,
        acknowledged=figures["acknowledged"],
        sections=figures["sections"],
        passed=bool(figures["passed"]),
        best_score=None,
    )
    return progress.complete


def sections_with_versions() -> list[tuple[Section, SectionVersion | None]]:
    versions = current_versions()
    return [(section, versions.get(section.pk)) for section in Section.objects.all()]


def next_attempt_at(user: User) -> datetime | None:
    """When the person may start a new attempt, while the last one failed less than
    ONBOARDING_RETRY_WAIT_MINUTES ago; None when they may start now."""
    last = TestAttempt.objects.filter(user=user).order_by("-finished_at").first()
    if last is None or last.passed:
        return None
    until = last.finished_at + timedelta(minutes=settings.ONBOARDING_RETRY_WAIT_MINUTES)
    return until if until > timezone.now() else None


def drawn_questions(draw: TestDraw) -> list[Question] | None:
    """The drawn questions in the order asked, each with ``shown_choices`` in the order shown; None when
    the bank changed since the draw (a question taken out of the test, or its choices edited)."""
    ids = [item["question"] for item in draw.questions]
    by_id = {
        question.pk: question
        for question in Question.objects.filter(pk__in=ids, is_active=True).prefetch_related("choices")
    }
    questions = []
    for item in draw.questions:
        question = by_id.get(item["question"])
        if question is None:
            return None
        choices = {choice.pk: choice for choice in question.choices.all()}
        if set(choices) != set(item["choices"]):
            return None
        question.shown_choices = [choices[pk] for pk in item["choices"]]
        questions.append(question)
    return questions
