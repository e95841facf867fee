"""The background import's bookkeeping: a job runs once to the end, and its page learns how it ended."""

from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import OperationalError
from django.urls import reverse
from django.utils import timezone

from imports.models import ImportJob
from imports.services import ImportJobFailed, import_job_run, import_job_task
from tests.properties.support import assert_clear_russian, page_text


def queued(owner, kind=ImportJob.Kind.CALLS, **fields) -> ImportJob:
    return ImportJob.objects.create(kind=kind, owner=owner, total=3, **fields)


def test_the_work_finishes_the_job_with_its_report(sales_head):
    job = queued(sales_head)

    def work(run):
        run.progress(1)
        with run.locked():
            run.finish({"created": 3})

    import_job_run(job_id=job.pk, work=work)

    job.refresh_from_db()
    assert (job.status, job.processed, job.result, job.attempts) == ("done", 3, {"created": 3}, 1)
    assert job.started_at is not None and job.finished_at >= job.started_at


def test_a_finished_or_missing_job_is_left_alone(sales_head):
    done = queued(sales_head, status=ImportJob.Status.DONE)
    failed = queued(sales_head, status=ImportJob.Status.FAILED)
    ran = []
    for job_id in (done.pk, failed.pk, failed.pk + 100):
        import_job_run(job_id=job_id, work=ran.append)
    assert ran == []
    assert ImportJob.objects.get(pk=done.pk).attempts == 0


def test_a_refusal_fails_the_job_with_its_russian_reason_and_what_the_page_shows_beside_it(sales_head):
    job = queued(sales_head)

    def work(run):
        raise ImportJobFailed(
            "Ничего не внесено: строка 2 не подходит.", result={"refusals": {"2": "нет сделки"}}
        )

    import_job_run(job_id=job.pk, work=work)

    job.refresh_from_db()
    assert (job.status, job.error, job.result) == (
        "failed",
        "Ничего не внесено: строка 2 не подходит.",
        {"refusals": {"2": "нет сделки"}},
    )


def test_an_unexpected_error_fails_the_job_in_russian_and_is_logged(sales_head, caplog):
    job = queued(sales_head)

    def work(run):
        raise KeyError("mapping")

    import_job_run(job_id=job.pk, work=work)

    job.refresh_from_db()
    assert job.status == "failed"
    assert_clear_russian(job.error)
    assert "Загрузите файл ещё раз" in job.error
    assert f"Import job {job.pk} (calls) failed" in caplog.text


def test_work_that_returns_without_finishing_is_never_reported_done(sales_head):
    job = queued(sales_head)
    import_job_run(job_id=job.pk, work=lambda run: None)
    assert ImportJob.objects.get(pk=job.pk).status == "failed"


def test_an_attempt_taken_over_by_another_writes_nothing(sales_head):
    """A worker thought lost comes back after the job was handed to another attempt: it stops at its next
    write instead of recording its results over the other's."""
    job = queued(sales_head)
    wrote = []

    def slow_work(run):
        ImportJob.objects.filter(pk=job.pk).update(attempts=run.attempt + 1)  # meanwhile: a retry took it
        with run.locked():
            wrote.append("chunk")
            run.finish({"created": 99})

    import_job_run(job_id=job.pk, work=slow_work)

    job.refresh_from_db()
    assert wrote == [] and (job.status, job.result) == ("running", {})


def test_a_database_outage_is_left_to_the_task_s_retries_then_fails_the_job(sales_head):
    job = queued(sales_head)

    def outage(*, job_id):
        import_job_run(job_id=job_id, work=lambda run: (_ for _ in ()).throw(OperationalError("gone")))

    retrying = SimpleNamespace(request=SimpleNamespace(retries=1), max_retries=6)
    with pytest.raises(OperationalError):
        import_job_task(retrying, job_id=job.pk, runner=outage)
    assert ImportJob.objects.get(pk=job.pk).status == "running"  # the next retry takes it over

    last_try = SimpleNamespace(request=SimpleNamespace(retries=6), max_retries=6)
    with pytest.raises(OperationalError):
        import_job_task(last_try, job_id=job.pk, runner=outage)
    job.refresh_from_db()
    assert job.status == "failed" and "ошибки на сервере" in job.error


def test_who_sees_which_job(hunter, other_hunter, sales_head, accountant):
    leads = queued(hunter, kind=ImportJob.Kind.LEADS)
    calls = queued(sales_head, kind=ImportJob.Kind.CALLS)
    bank = queued(accountant, kind=ImportJob.Kind.BANK)

    def visible(user):
        return set(ImportJob.objects.visible_to(user))

    assert visible(hunter) == {leads}
    assert visible(other_hunter) == set()
    assert visible(sales_head) == {leads, calls}  # every lead import, and her own
    assert visible(accountant) == {bank}
    assert visible(AnonymousUser()) == set()
    hunter.is_active = False
    assert visible(hunter) == set()


def test_a_job_no_worker_takes_for_minutes_says_so_on_its_page(client, sales_head):
    job = queued(sales_head)
    url = reverse("kpi:call_import_job", args=[job.pk])
    client.force_login(sales_head)
    assert "дольше обычного" not in page_text(client.get(url))

    ImportJob.objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(minutes=6))

    assert "Импорт ждёт в очереди дольше обычного" in page_text(client.get(url))
