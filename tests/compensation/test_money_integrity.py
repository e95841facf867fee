"""Money integrity held by the database itself: what the portal's services never do is refused even
when something else (the admin, a shell, a bug) tries it."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.contrib import admin
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from compensation.models import Statement, StatementLine
from compensation.services import statements_mark_paid
from deals.models import OrderLine, Payment, SampleLine
from deals.services import payment_record, payment_refund
from deals.stages import Stage
from tests.deals.factories import Pipeline, make_deal
from tests.workflow import after_month, approve, close_month

pytestmark = pytest.mark.django_db


@pytest.fixture
def paid(hunter, production, accountant):
    deal = Pipeline(hunter=hunter, production=production, accountant=accountant).advance_to(
        make_deal(acting_user=hunter), Stage.PAYMENT
    )
    payment = payment_record(
        acting_user=accountant,
        deal=deal,
        amount=Decimal("3000.00"),
        received_on=timezone.localdate(),
        bank_document="1",
    )
    return deal, payment


def refused(statement: str, params=()) -> str:
    with pytest.raises(IntegrityError) as error, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement, params)
    return str(error.value)


def test_a_recorded_payment_is_never_updated(paid):
    _deal, payment = paid
    message = refused("UPDATE deals_payment SET amount = 1 WHERE id = %s", [payment.pk])
    assert "Оплата не изменяется" in message
    with pytest.raises(IntegrityError), transaction.atomic():
        Payment.objects.filter(pk=payment.pk).update(received_on=date(2020, 1, 1))
    payment.refresh_from_db()
    assert payment.amount == Decimal("3000.00")


def test_a_recorded_payment_is_never_deleted(paid):
    _deal, payment = paid
    assert "Оплата не изменяется" in refused("DELETE FROM deals_payment WHERE id = %s", [payment.pk])
    assert Payment.objects.filter(pk=payment.pk).exists()


def test_a_mistake_is_corrected_by_a_new_entry(paid, accountant):
    deal, _payment = paid
    payment_refund(
        acting_user=accountant, deal=deal, amount=Decimal("1000.00"), recorded_on=timezone.localdate()
    )
    assert sorted(Payment.objects.filter(deal=deal).values_list("amount", flat=True)) == [
        Decimal("-1000.00"),
        Decimal("3000.00"),
    ]


def test_no_payment_lands_in_a_locked_month(paid, hunter, accountant):
    deal, payment = paid
    month = payment.accrual_month
    close_month(hunter, month, accountant=accountant)

    with pytest.raises(IntegrityError) as error, transaction.atomic():
        Payment.objects.create(
            deal=deal,
            amount=Decimal("10.00"),
            received_on=month,
            recorded_by=accountant,
            credited_to=hunter,
            accrual_month=month,
            bank_document="обход сервиса",
        )
    assert "Месяц закрыт" in str(error.value)

    # Through the service the same money accrues in the first open month, marked late.
    late = payment_record(
        acting_user=accountant, deal=deal, amount=Decimal("10.00"), received_on=month, bank_document="2"
    )
    assert late.accrual_month > month and late.late


def test_posted_lines_never_change_and_the_locked_total_is_their_sum(paid, hunter, accountant):
    _deal, payment = paid
    record = close_month(hunter, payment.accrual_month, accountant=accountant)
    lines = list(StatementLine.objects.filter(statement=record))
    assert lines
    assert record.total == sum(line.amount for line in lines)

    line = lines[0]
    assert "не изменяется" in refused(
        "UPDATE compensation_statementline SET amount = 0 WHERE id = %s", [line.pk]
    )
    assert "не изменяется" in refused("DELETE FROM compensation_statementline WHERE id = %s", [line.pk])
    assert "новых строк" in refused(
        "INSERT INTO compensation_statementline (statement_id, position, kind, amount, base, rate,"
        " accelerated, late, explanation) VALUES (%s, 99, 'adjustment', 100, NULL, NULL, %s, %s, 'приписка')",
        [record.pk, False, False],
    )


def test_a_locked_statement_keeps_its_total_and_is_never_deleted_but_can_be_marked_paid(
    paid, hunter, accountant
):
    _deal, payment = paid
    record = close_month(hunter, payment.accrual_month, accountant=accountant)

    changed_total = refused("UPDATE compensation_statement SET total = total + 1 WHERE id = %s", [record.pk])
    assert "только отметка о выплате" in changed_total or "сумме его строк" in changed_total
    assert "только отметка о выплате" in refused(
        "UPDATE compensation_statement SET status = 'draft' WHERE id = %s", [record.pk]
    )
    assert "не удаляется" in refused("DELETE FROM compensation_statement WHERE id = %s", [record.pk])

    statements_mark_paid(acting_user=accountant, month=payment.accrual_month)
    record.refresh_from_db()
    assert record.status == Statement.Status.PAID


def test_a_statement_cannot_be_locked_with_a_total_other_than_its_lines(paid, hunter):
    _deal, payment = paid
    record = approve(hunter, payment.accrual_month)
    assert "сумме его строк" in refused(
        "UPDATE compensation_statement SET status = 'locked', total = 100, approved_total = 100, "
        "locked_at = %s WHERE id = %s",
        [after_month(payment.accrual_month), record.pk],
    )


def test_the_database_locks_only_an_approved_statement_of_an_ended_month(paid, hunter):
    _deal, payment = paid
    month = payment.accrual_month
    record = Statement.objects.get(hunter=hunter, month=month)
    assert record.status == Statement.Status.DRAFT
    assert "только утверждённый" in refused(
        "UPDATE compensation_statement SET status = 'locked', total = 0, approved_total = 0, "
        "approved_at = %s, locked_at = %s WHERE id = %s",
        [after_month(month), after_month(month), record.pk],
    )
    approve(hunter, month)
    assert "после окончания месяца" in refused(
        "UPDATE compensation_statement SET status = 'locked', total = 0, approved_total = 0, locked_at = %s "
        "WHERE id = %s",
        [after_month(month) - timedelta(days=1), record.pk],
    )
    assert "только закрытый" in refused(
        "UPDATE compensation_statement SET status = 'paid', total = 0, approved_total = 0, paid_at = %s "
        "WHERE id = %s",
        [after_month(month), record.pk],
    )


def test_a_deal_and_its_payments_are_never_deleted_together(paid):
    deal, payment = paid
    # Foreign keys are checked at commit: the guard must refuse without looking for the deal.
    with pytest.raises(IntegrityError) as error, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM deals_deal WHERE id = %s", [deal.pk])
        cursor.execute("DELETE FROM deals_payment WHERE deal_id = %s", [deal.pk])
    assert "Оплата не изменяется" in str(error.value)
    assert Payment.objects.filter(pk=payment.pk).exists()


def test_quantities_are_never_negative_or_zero(paid):
    deal, _payment = paid
    order_line = OrderLine.objects.filter(order__deal=deal).first()
    with pytest.raises(IntegrityError), transaction.atomic():
        OrderLine.objects.filter(pk=order_line.pk).update(quantity=Decimal("-1"))
    sample_line = SampleLine.objects.filter(request__deal=deal).first()
    with pytest.raises(IntegrityError), transaction.atomic():
        SampleLine.objects.filter(pk=sample_line.pk).update(quantity=0)


def test_two_payments_with_the_same_bank_document_on_a_deal_are_refused_by_the_database(paid, accountant):
    deal, payment = paid
    with pytest.raises(IntegrityError), transaction.atomic():
        Payment.objects.create(
            deal=deal,
            amount=Decimal("5.00"),
            received_on=payment.received_on,
            recorded_by=accountant,
            credited_to=deal.owner,
            accrual_month=payment.accrual_month,
            bank_document=payment.bank_document,
        )


def test_money_is_not_editable_in_the_admin():
    for model in (Payment, Statement, StatementLine):
        assert not admin.site.is_registered(model)
