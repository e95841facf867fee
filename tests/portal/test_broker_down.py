"""With the broker unreachable, pages that queue background work still answer, the work is done
inline, and the failure is logged rather than shown."""

import logging

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from atlanset_portal.celery import app
from deals.models import Payment
from deals.stages import Stage
from imports.models import ImportJob
from kpi.models import Activity, CallRecord, MonthlyPlan, MonthlyProgress
from tests.deals.factories import Pipeline, make_client, make_deal
from tests.kpi.factories import ORDER_TOTAL, make_hunter

pytestmark = pytest.mark.django_db

UNREACHABLE_BROKER = "redis://127.0.0.1:9/0"  # nothing listens on the discard port


@pytest.fixture
def broker_down():
    """The portal's Celery app pointed at a dead Redis, queueing for real instead of running eagerly."""
    saved = {key: app.conf[key] for key in ("broker_url", "task_always_eager")}
    app.conf.update(broker_url=UNREACHABLE_BROKER, task_always_eager=False)
    app._pool = None
    app.amqp._producer_pool = None
    cache.clear()
    yield
    app.conf.update(saved)
    app._pool = None
    app.amqp._producer_pool = None
    cache.clear()


def test_logging_an_activity_answers_and_the_progress_is_still_recalculated(
    client, broker_down, django_capture_on_commit_callbacks, caplog
):
    hunter = make_hunter()
    card = make_client(acting_user=hunter, name="ООО «Ромашка»")
    client.force_login(hunter)
    caplog.set_level(logging.WARNING, logger="atlanset_portal.background")

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("kpi:activity_create"),
            {"kind": "meeting", "client": card.pk, "at": timezone.localtime().strftime("%Y-%m-%dT%H:%M")},
        )

    assert response.status_code == 302
    assert Activity.objects.filter(owner=hunter, kind="meeting").count() == 1
    progress = MonthlyProgress.objects.get(hunter=hunter, month=timezone.localdate().replace(day=1))
    assert progress.meetings == 1
    assert "Broker unavailable" in caplog.text


def test_recording_a_payment_answers_and_counts_once(
    client, broker_down, accountant, production, django_capture_on_commit_callbacks
):
    hunter = make_hunter()
    deal = Pipeline(hunter=hunter, production=production, accountant=accountant).advance_to(
        make_deal(acting_user=hunter), Stage.PAYMENT
    )
    client.force_login(accountant)
    form = {
        "amount": str(ORDER_TOTAL),
        "received_on": timezone.localdate().isoformat(),
        "bank_document": "77",
    }

    for _ in range(2):  # the accountant submits twice while the broker is down
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(reverse("deals:payment", args=[deal.pk]), form)
        assert response.status_code == 302

    assert Payment.objects.filter(deal=deal).count() == 1
    progress = MonthlyProgress.objects.get(hunter=hunter, month=timezone.localdate().replace(day=1))
    assert progress.revenue == ORDER_TOTAL


def test_saving_plans_answers(client, broker_down, sales_head, django_capture_on_commit_callbacks):
    hunter = make_hunter(full_name="Хантер План")
    client.force_login(sales_head)
    month = timezone.localdate().replace(day=1)
    prefix = f"h{hunter.pk}"
    form = {
        f"{prefix}-{name}": value
        for name, value in {
            "revenue_target": "100000",
            "deals_target": "2",
            "leads_target": "10",
            "calls_target": "100",
            "meetings_target": "5",
            "messages_target": "20",
        }.items()
    }

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("kpi:plans", args=[f"{month:%Y-%m}"]), form)

    assert response.status_code == 302
    assert MonthlyPlan.objects.get(hunter=hunter, month=month).calls_target == 100
    assert MonthlyProgress.objects.filter(hunter=hunter, month=month).exists()


def test_a_call_log_upload_answers_and_is_imported_inline(
    client, broker_down, sales_head, django_capture_on_commit_callbacks, caplog, settings, tmp_path
):
    settings.VAR_DIR = tmp_path
    make_hunter(extension="101")
    data = (
        b"call_id;started_at;extension;other_number;direction;duration_s\n"
        b"c-1;2026-03-03 11:00:00;101;+79123456789;outgoing;60\n"
    )
    client.force_login(sales_head)
    caplog.set_level(logging.WARNING, logger="atlanset_portal.background")

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("kpi:call_import"), {"file": SimpleUploadedFile("calls.csv", data)})

    assert response.status_code == 302
    assert ImportJob.objects.get().status == ImportJob.Status.DONE
    assert CallRecord.objects.count() == 1
    assert "Broker unavailable, running kpi.tasks.import_call_log inline" in caplog.text
