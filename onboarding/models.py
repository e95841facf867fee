"""Regulations with versions, acknowledgements, and the test with its attempts (SPEC §6)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Section(models.Model):
    """A section of the regulations; its text lives in versions, the newest being current."""

    slug = models.SlugField(_("код"), unique=True)
    title = models.CharField(_("заголовок"), max_length=200)
    position = models.PositiveSmallIntegerField(_("порядок"), default=0)
    stage = models.CharField(_("этап сделки"), max_length=20, blank=True, help_text=_("Для страниц этапов"))

    class Meta:
        verbose_name = _("раздел регламента")
        verbose_name_plural = _("разделы регламента")
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return self.title


class SectionVersion(models.Model):
    section = models.ForeignKey(Section, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField(_("версия"))
    body = models.TextField(_("текст (Markdown)"))
    change_note = models.CharField(_("что изменилось"), max_length=300, blank=True)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("версия раздела")
        verbose_name_plural = _("версии разделов")
        ordering = ["section", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["section", "number"], name="onboarding_version_number_unique")
        ]

    def __str__(self) -> str:
        return f"{self.section} v{self.number}"


class Acknowledgement(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="acknowledgements"
    )
    version = models.ForeignKey(SectionVersion, on_delete=models.CASCADE, related_name="acknowledgements")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "version"], name="onboarding_ack_once")]

    def __str__(self) -> str:
        return f"{self.user} — {self.version}"


class Question(models.Model):
    class Kind(models.TextChoices):
        SINGLE = "single", _("Один ответ")
        MULTIPLE = "multiple", _("Несколько ответов")

    text = models.TextField(_("вопрос"))
    kind = models.CharField(_("вид"), max_length=10, choices=Kind.choices, default=Kind.SINGLE)
    explanation = models.TextField(_("пояснение"), help_text=_("Показывается после сданного теста"))
    # Where the answer is in the regulations: a failed attempt links here instead of showing the answer.
    section = models.ForeignKey(
        Section,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="questions",
        verbose_name=_("раздел регламента"),
    )
    is_active = models.BooleanField(_("в тесте"), default=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("вопрос теста")
        verbose_name_plural = _("вопросы теста")
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return self.text[:80]


class Choice(models.Model):
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="choices")
    text = models.CharField(_("вариант"), max_length=300)
    is_correct = models.BooleanField(_("верный"), default=False)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["question", "position", "pk"]

    def __str__(self) -> str:
        return self.text


class TestDraw(models.Model):
    """The questions drawn for a person's next attempt, each with its choices in the order shown.

    Kept until the answers are accepted, so a reload shows the same test and answers are taken only for
    these questions; one per person. The accepted attempt keeps the same questions in the same order
    (its answers' positions)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="test_draw")
    drawn_at = models.DateTimeField(default=timezone.now)
    # [{"question": id, "choices": [choice ids in the order shown]}, …] in the order asked.
    questions = models.JSONField()

    class Meta:
        verbose_name = _("выданный тест")
        verbose_name_plural = _("выданные тесты")

    def __str__(self) -> str:
        return f"{self.user}: {len(self.questions)}"


class TestAttempt(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="test_attempts")
    finished_at = models.DateTimeField(default=timezone.now)
    score = models.DecimalField(_("результат, %"), max_digits=5, decimal_places=1)
    pass_mark = models.DecimalField(_("проходной балл, %"), max_digits=5, decimal_places=1)
    passed = models.BooleanField(_("тест сдан"))

    class Meta:
        verbose_name = _("попытка теста")
        verbose_name_plural = _("попытки теста")
        ordering = ["-finished_at"]
        constraints = [
            models.CheckConstraint(condition=Q(score__gte=0, score__lte=100), name="onboarding_score_percent")
        ]

    def __str__(self) -> str:
        return f"{self.user}: {self.score} %"


class AttemptAnswer(models.Model):
    attempt = models.ForeignKey(TestAttempt, on_delete=models.CASCADE, related_name="answers")
    question = models.ForeignKey(Question, on_delete=models.PROTECT, related_name="+")
    position = models.PositiveSmallIntegerField()
    # What was chosen, as the choices read then: editing a question later does not rewrite history.
    chosen = models.JSONField(default=list)
    points = models.DecimalField(max_digits=4, decimal_places=3)

    class Meta:
        ordering = ["attempt", "position"]

    def __str__(self) -> str:
        return f"{self.attempt} #{self.position}"
