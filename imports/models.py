"""An import that runs in the background (SPEC §7): what was uploaded, who started it, how far it got and
what came of it. Lead lists, call logs and bank statements each have a kind; their apps do the work."""

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.access import can
from accounts.roles import Capability

QUEUED_TOO_LONG = timedelta(minutes=5)


class ImportJobQuerySet(models.QuerySet):
    def visible_to(self, user) -> "ImportJobQuerySet":
        """A person's own jobs; the sales head also every lead import (she imports for the hunters and
        sees their clients). Nothing for anyone else: fails closed."""
        if not getattr(user, "is_authenticated", False) or not user.is_active:
            return self.none()
        visible = Q(owner=user)
        if can(user, Capability.VIEW_ALL_HUNTERS):
            visible |= Q(kind=ImportJob.Kind.LEADS)
        return self.filter(visible)


class ImportJob(models.Model):
    class Kind(models.TextChoices):
        LEADS = "leads", _("импорт лидов")
        CALLS = "calls", _("импорт журнала звонков")
        BANK = "bank", _("импорт банковской выписки")

    class Status(models.TextChoices):
        QUEUED = "queued", _("в очереди")
        RUNNING = "running", _("выполняется")
        DONE = "done", _("готово")
        FAILED = "failed", _("не выполнен")

    FINISHED = (Status.DONE, Status.FAILED)

    kind = models.CharField(_("что импортируется"), max_length=10, choices=Kind.choices)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("кто запустил")
    )
    status = models.CharField(_("состояние"), max_length=10, choices=Status.choices, default=Status.QUEUED)
    file_name = models.CharField(_("файл"), max_length=255, blank=True)
    # The upload page's token for the file: a lead list is imported by one job however often it is confirmed.
    upload = models.CharField(max_length=64, blank=True)
    # The input (zlib), in the database so that any worker can read it; emptied once the job is done.
    data = models.BinaryField(default=b"", editable=False)
    params = models.JSONField(default=dict, blank=True)
    total = models.PositiveIntegerField(_("всего строк"), default=0)
    processed = models.PositiveIntegerField(_("обработано строк"), default=0)
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(_("почему не выполнен"), blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(_("создан"), default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = ImportJobQuerySet.as_manager()

    class Meta:
        verbose_name = _("импорт")
        verbose_name_plural = _("импорты")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["owner", "kind", "-created_at"], name="import_job_owner_kind")]
        constraints = [
            models.UniqueConstraint(
                fields=["upload"], condition=Q(kind="leads") & ~Q(upload=""), name="one_job_per_lead_upload"
            ),
            models.CheckConstraint(
                condition=Q(processed__lte=models.F("total")), name="import_job_processed_within_total"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} №{self.pk}"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def waiting_long(self) -> bool:
        """Queued for minutes: no worker is taking jobs (a worker takes one within seconds)."""
        return self.status == self.Status.QUEUED and timezone.now() - self.created_at > QUEUED_TOO_LONG

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        return self.processed * 100 // self.total if self.total else 0
