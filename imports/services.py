"""Starting and running background imports. Each app says what its kind of import does (a ``work`` function);
this module keeps the job's record honest around it.

A job runs at most once to the end: ``import_job_run`` claims it (queued or interrupted → running, one more
attempt), and the work writes its results through ``JobRun.locked()``, which holds the job's row and checks
that this attempt still owns it. A job already done or failed is left alone, so a task delivered twice,
retried after a lost worker or run by hand imports nothing twice.
"""

import logging
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from celery import Task
from django.db import InterfaceError, OperationalError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User

from .models import ImportJob

logger = logging.getLogger("imports")

# Errors the task retries (atlanset_portal.background.PortalTask); the job stays running meanwhile.
RETRIED_ERRORS = (OperationalError, InterfaceError)


class ImportJobFailed(Exception):
    """The import cannot be done. ``message`` is the reason in Russian for the job's page; ``result`` is
    what the page shows beside it (e.g. the reason for each refused line)."""

    def __init__(self, message: str, *, result: dict | None = None):
        super().__init__(message)
        self.message = str(message)
        self.result = result or {}


class _Superseded(Exception):
    """Another attempt owns the job now, or it is finished: this one stops without writing."""


def server_error_message() -> str:
    return _(
        "Импорт прерван из-за ошибки на сервере. Загрузите файл ещё раз: уже внесённое не удвоится. "
        "Если ошибка повторится, сообщите администратору."
    )


def import_job_create(
    *,
    acting_user: User,
    kind: str,
    data: bytes,
    task: Task,
    file_name: str = "",
    params: dict | None = None,
    total: int = 0,
    upload: str = "",
) -> ImportJob:
    """Records the job and queues ``task`` with its id once the record is committed."""
    with transaction.atomic():
        job = ImportJob.objects.create(
            kind=kind,
            owner=acting_user,
            file_name=file_name[:255],
            upload=upload,
            data=zlib.compress(data, 1),
            params=params or {},
            total=total,
        )
        transaction.on_commit(lambda: task.delay(job.pk))
    return job


@dataclass
class JobRun:
    """One attempt at a job, handed to the work function."""

    job: ImportJob
    attempt: int

    def input(self) -> bytes:
        return zlib.decompress(self.job.data) if self.job.data else b""

    @contextmanager
    def locked(self) -> Iterator[None]:
        """A transaction holding the job's row, entered only while this attempt owns the job: what the
        work writes inside it and the job's progress or end are committed together or not at all."""
        with transaction.atomic():
            current = (
                ImportJob.objects.select_for_update()
                .filter(pk=self.job.pk)
                .values_list("status", "attempts")
                .first()
            )
            if current != (ImportJob.Status.RUNNING, self.attempt):
                raise _Superseded
            yield

    def progress(self, processed: int, *, total: int | None = None, result: dict | None = None) -> None:
        """How far the work got (and what it found so far, kept for an attempt that resumes)."""
        fields: dict = {"processed": processed}
        if total is not None:
            fields["total"] = self.job.total = total
        if result is not None:
            fields["result"] = self.job.result = result
        self.job.processed = processed
        self._update(**fields)

    def finish(self, result: dict) -> None:
        """The job is done; call inside ``locked()``, in the transaction of the work's last write."""
        self.job.result = result
        self._update(
            status=ImportJob.Status.DONE,
            result=result,
            processed=self.job.total,
            error="",
            data=b"",
            finished_at=timezone.now(),
        )
        self.job.status = ImportJob.Status.DONE

    def fail(self, message: str, result: dict | None = None) -> None:
        self._update(
            status=ImportJob.Status.FAILED,
            error=message,
            result=result or {},
            finished_at=timezone.now(),
        )
        self.job.status = ImportJob.Status.FAILED

    def _update(self, **fields) -> None:
        ImportJob.objects.filter(
            pk=self.job.pk, status=ImportJob.Status.RUNNING, attempts=self.attempt
        ).update(**fields)


def _claim(job_id: int) -> JobRun | None:
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.is_finished:
            return None
        job.status = ImportJob.Status.RUNNING
        job.attempts += 1
        job.started_at = job.started_at or timezone.now()
        job.save(update_fields=["status", "attempts", "started_at"])
    return JobRun(job=job, attempt=job.attempts)


def import_job_run(*, job_id: int, work: Callable[[JobRun], None]) -> None:
    """Runs ``work`` for the job unless it is gone or finished; records its end.

    ``work`` finishes the job with ``run.finish(result)`` or raises ImportJobFailed with the reason. A
    database outage is raised on for the task to retry (the job stays running and the next attempt takes
    it over); any other error fails the job with a general message and is logged.
    """
    run = _claim(job_id)
    if run is None:
        return
    try:
        work(run)
    except _Superseded:
        return
    except ImportJobFailed as failure:
        run.fail(failure.message, failure.result)
    except RETRIED_ERRORS:
        raise
    except Exception:
        logger.exception("Import job %s (%s) failed", job_id, run.job.kind)
        run.fail(server_error_message())
    else:
        if run.job.status != ImportJob.Status.DONE:
            run.fail(server_error_message())  # the work returned without finishing: a bug, never "done"
            logger.error("Import job %s (%s) returned without finishing", job_id, run.job.kind)


def import_job_task(task: Task, *, job_id: int, runner: Callable[..., None]) -> None:
    """The body of an import task: runs the job; when the database stays unreachable through the last
    retry, the job is marked failed rather than left running for ever."""
    try:
        runner(job_id=job_id)
    except RETRIED_ERRORS:
        if task.request.retries >= (task.max_retries or 0):
            ImportJob.objects.filter(pk=job_id).exclude(status__in=ImportJob.FINISHED).update(
                status=ImportJob.Status.FAILED, error=server_error_message(), finished_at=timezone.now()
            )
        raise
