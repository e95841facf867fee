"""Reads about onboarding: current versions, each person's progress, the regulations rendered safely."""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

import markdown
import nh3
from django.db.models import Count, Max, Q
from django.utils.safestring import SafeString, mark_safe

from accounts.models import User

from .models import Acknowledgement, Section, SectionVersion, TestAttempt

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


def onboarding_complete(user: User) -> bool:
    return progress_for([user])[0].complete


def sections_with_versions() -> list[tuple[Section, SectionVersion | None]]:
    versions = current_versions()
    return [(section, versions.get(section.pk)) for section in Section.objects.all()]
