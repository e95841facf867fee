"""Two people (or a double click) recording the same bank document at the same moment make one payment;
the second is told, in Russian, that the document is already recorded."""

import threading
from datetime import date
from decimal import Decimal

import pytest
from django.db import connections

from compensation.statements import statement_for
from deals.models import Payment
from deals.services import DuplicatePayment, payment_record
from deals.stages import Stage
from tests.deals.factories import Pipeline, make_deal


@pytest.mark.django_db(transaction=True)
def test_concurrent_recordings_of_the_same_document_make_one_payment_and_one_commission_line(
    migrated_data, hunter, production, accountant, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    deal = Pipeline(hunter=hunter, production=production, accountant=accountant).advance_to(
        make_deal(acting_user=hunter), Stage.PAYMENT
    )
    start = threading.Barrier(2)
    results, errors = [], []

    def record():
        try:
            start.wait(timeout=10)
            results.append(
                payment_record(
                    acting_user=accountant,
                    deal=deal,
                    amount=Decimal("1000.00"),
                    received_on=date.today(),
                    bank_document="п/п 777",
                ).pk
            )
        except Exception as error:
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=record) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len(results) == 1 and len(errors) == 1
    [duplicate] = errors
    assert isinstance(duplicate, DuplicatePayment) and duplicate.existing.pk == results[0]
    assert "уже внесён" in duplicate.message_dict["bank_document"][0]
    assert Payment.objects.filter(deal=deal).count() == 1
    lines = statement_for(hunter=hunter, month=date.today()).lines
    assert len([line for line in lines if line.kind == "commission"]) == 1
