"""The money workflow around the engine: who is credited, what a transfer moves, what approval and locking
mean, and what a change after approval does — through the services and through the pages."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from compensation.engine import LineKind
from compensation.models import Statement, StatementReopening
from compensation.services import statement_approve, statement_lock, statements_lock_month
from compensation.statements import statement_for
from deals.models import Clawback, Deal, Payment, Transfer
from deals.services import (
    DealRuleError,
    DuplicatePayment,
    client_transfer,
    deal_move,
    deal_transfer,
    payment_record,
    payment_refund,
    transfer_return,
)
from deals.stages import Stage
from kpi.models import ActivityKind
from kpi.services import activity_log
from notifications.models import Notification, NotificationKind
from tests.deals.factories import Pipeline, make_client, make_deal
from tests.kpi.factories import local, pbx_call
from tests.workflow import after_month, approve, close_month

pytestmark = pytest.mark.django_db

MARCH, APRIL, MAY = date(2026, 3, 1), date(2026, 4, 1), date(2026, 5, 1)


@pytest.fixture
def pipeline(hunter, production, accountant):
    return Pipeline(hunter=hunter, production=production, accountant=accountant)


def deal_awaiting_payment(pipeline, hunter, name="Салон «Лотос»") -> Deal:
    deal = make_deal(acting_user=hunter, client=make_client(acting_user=hunter, name=name))
    return pipeline.advance_to(deal, Stage.PAYMENT)


def pay(accountant, deal, amount, on, document=""):
    return payment_record(
        acting_user=accountant, deal=deal, amount=Decimal(amount), received_on=on, bank_document=document
    )


def commission_of(hunter, month) -> list:
    return [
        line for line in statement_for(hunter=hunter, month=month).lines if line.kind == LineKind.COMMISSION
    ]


# --- money has an earner ----------------------------------------------------------------------------------


def test_a_transfer_leaves_recorded_money_with_its_earner_and_credits_only_later_payments(
    pipeline, hunter, other_hunter, sales_head, accountant
):
    deal = deal_awaiting_payment(pipeline, hunter)  # order 5 000 ₽
    first = pay(accountant, deal, "2000", MARCH.replace(day=10), "1")
    close_month(hunter, MARCH, head=sales_head, accountant=accountant)

    deal_transfer(acting_user=sales_head, deal=deal, to_owner=other_hunter, return_on=None, reason="Отпуск")
    second = pay(accountant, deal, "3000", APRIL.replace(day=5), "2")

    assert (first.credited_to, second.credited_to) == (hunter, other_hunter)
    assert [line.source_id for line in commission_of(hunter, MARCH)] == [first.pk]
    assert commission_of(hunter, APRIL) == []
    assert [line.source_id for line in commission_of(other_hunter, APRIL)] == [second.pk]
    assert commission_of(other_hunter, MARCH) == []  # nothing moved into the new hunter's months


def test_a_refund_after_a_transfer_takes_back_commission_from_each_earner_in_proportion(
    pipeline, hunter, other_hunter, sales_head, accountant
):
    deal = deal_awaiting_payment(pipeline, hunter)
    pay(accountant, deal, "2000", MARCH.replace(day=10), "1")  # 5 % → 100,00 for the first hunter
    deal_transfer(acting_user=sales_head, deal=deal, to_owner=other_hunter)
    pay(accountant, deal, "3000", MARCH.replace(day=20), "2")  # 5 % → 150,00 for the second

    refund = payment_refund(
        acting_user=accountant, deal=deal, amount=Decimal("1000"), recorded_on=APRIL.replace(day=3)
    )

    assert refund.credited_to == other_hunter
    assert set(Clawback.objects.filter(refund=refund).values_list("hunter_id", flat=True)) == {
        hunter.pk,
        other_hunter.pk,
    }
    # 1 000 of 5 000 paid: each gives back a fifth of what they earned on the deal.
    [first_back] = commission_of(hunter, APRIL)
    [second_back] = commission_of(other_hunter, APRIL)
    assert (first_back.amount, second_back.amount) == (Decimal("-20.00"), Decimal("-30.00"))


def test_money_entered_later_for_an_earlier_day_changes_the_stored_clawback_of_an_earlier_earner(
    pipeline, hunter, other_hunter, sales_head, accountant
):
    deal = deal_awaiting_payment(pipeline, hunter)
    pay(accountant, deal, "2000", MARCH.replace(day=10), "1")  # 100,00 earned by the first hunter
    deal_transfer(acting_user=sales_head, deal=deal, to_owner=other_hunter)
    payment_refund(
        acting_user=accountant, deal=deal, amount=Decimal("1000"), recorded_on=APRIL.replace(day=3)
    )
    [before] = commission_of(hunter, APRIL)  # read: the first hunter's April is stored
    assert before.amount == Decimal("-50.00")  # all 2 000 paid so far was the first hunter's

    # A payment of 3 000 dated before the refund is entered afterwards for the second hunter: the refund
    # is now shared 2 : 3, and the first hunter's stored April follows.
    pay(accountant, deal, "3000", MARCH.replace(day=20), "2")

    [after] = commission_of(hunter, APRIL)
    assert after.amount == Decimal("-20.00")


def test_a_temporary_transfer_is_returned_now_and_both_moves_are_on_the_clients_history(
    client, hunter, other_hunter, sales_head
):
    card = make_client(acting_user=hunter, name="Кафе «Отпуск»")
    deal = make_deal(acting_user=hunter, client=card)
    transfer = client_transfer(
        acting_user=sales_head,
        client=card,
        to_owner=other_hunter,
        return_on=timezone.localdate() + timedelta(days=10),
        reason="Отпуск",
    )
    assert Deal.objects.get(pk=deal.pk).owner == other_hunter

    client.force_login(sales_head)
    page = client.get(reverse("clients:detail", args=[card.pk])).content.decode()
    assert "Вернуть сейчас" in page and "Отпуск" in page
    response = client.post(reverse("deals:transfer_return", args=[transfer.pk]))

    assert response.status_code == 302
    card.refresh_from_db()
    assert card.owner == hunter and Deal.objects.get(pk=deal.pk).owner == hunter
    back = Transfer.objects.get(returns=transfer)
    assert (back.from_owner, back.to_owner) == (other_hunter, hunter)
    history = client.get(reverse("clients:detail", args=[card.pk])).content.decode()
    assert "Клиент передан" in history and "(возврат)" in history
    assert "Вернуть сейчас" not in history
    with pytest.raises(ValidationError):
        transfer_return(acting_user=sales_head, transfer=transfer)


def test_only_the_head_returns_a_transfer(client, hunter, other_hunter, sales_head):
    card = make_client(acting_user=hunter)
    transfer = client_transfer(
        acting_user=sales_head,
        client=card,
        to_owner=other_hunter,
        return_on=timezone.localdate() + timedelta(days=3),
    )
    client.force_login(other_hunter)
    assert client.post(reverse("deals:transfer_return", args=[transfer.pk])).status_code == 403
    card.refresh_from_db()
    assert card.owner == other_hunter


# --- a paid deal stays where the accountant sees it -------------------------------------------------------


def test_a_hunter_cannot_move_a_deal_with_money_back_before_the_payment_stage_but_the_head_can(
    pipeline, hunter, sales_head, accountant
):
    deal = deal_awaiting_payment(pipeline, hunter)
    pay(accountant, deal, "1000", timezone.localdate(), "1")

    with pytest.raises(DealRuleError, match="только руководитель"):
        deal_move(acting_user=hunter, deal=deal, to_stage=Stage.FOLLOW_UP, comment="Клиент передумал")
    deal = deal_move(acting_user=sales_head, deal=deal, to_stage=Stage.FOLLOW_UP, comment="Перезаключаем")

    # The accountant still sees it and can take a refund on it.
    assert Deal.objects.visible_to(accountant).filter(pk=deal.pk).exists()
    payment_refund(
        acting_user=accountant, deal=deal, amount=Decimal("1000"), recorded_on=timezone.localdate()
    )


def test_the_accountant_sees_a_deal_with_an_invoice_at_any_stage(
    client, pipeline, hunter, sales_head, accountant
):
    deal = make_deal(acting_user=hunter)
    deal = pipeline.advance_to(deal, Stage.SHIPMENT)  # the invoice is uploaded at stage 6
    deal_move(acting_user=sales_head, deal=deal, to_stage=Stage.SAMPLES, comment="Клиент сменил ассортимент")
    client.force_login(accountant)
    assert client.get(reverse("deals:detail", args=[deal.pk])).status_code == 200


# --- approval is of figures -------------------------------------------------------------------------------


def test_a_payment_into_an_approved_month_sends_the_statement_back_to_draft_and_tells_the_head(
    pipeline, hunter, sales_head, accountant, django_capture_on_commit_callbacks
):
    deal = deal_awaiting_payment(pipeline, hunter)
    pay(accountant, deal, "2000", MARCH.replace(day=10), "1")
    approved = approve(hunter, MARCH, head=sales_head)
    assert approved.approved_total == Decimal("100.00")

    with django_capture_on_commit_callbacks(execute=True):
        pay(accountant, deal, "1000", MARCH.replace(day=31), "2")
        statement_for(hunter=hunter, month=MARCH)  # whoever reads it next sees the truth

    record = Statement.objects.get(hunter=hunter, month=MARCH)
    assert record.status == Statement.Status.DRAFT and record.changed_after_approval
    reopening = StatementReopening.objects.get(statement=record)
    assert (reopening.approved_total, reopening.new_total) == (Decimal("100.00"), Decimal("150.00"))
    assert "внесена оплата" in reopening.cause
    [notice] = Notification.objects.filter(recipient=sales_head, kind=NotificationKind.STATEMENT_CHANGED)
    assert "Было утверждено 100,00\u00a0₽, стало 150,00\u00a0₽" in notice.body


def test_a_pbx_call_into_an_approved_month_reopens_only_when_it_changes_the_figures(
    pipeline, hunter, sales_head, accountant
):
    from kpi.services import PlanRow, plans_save

    plans_save(acting_user=sales_head, month=MARCH, rows=[PlanRow(hunter=hunter, calls_target=1)])
    approve(hunter, MARCH, head=sales_head)

    pbx_call(hunter, at=local(2026, 3, 30))  # the KPI plan is now met: the fixed part appears
    shown = statement_for(hunter=hunter, month=MARCH)
    assert shown.status == Statement.Status.DRAFT
    assert shown.record.changed_after_approval

    approve(hunter, MARCH, head=sales_head)
    pbx_call(hunter, at=local(2026, 3, 31))  # one more call changes no figure
    assert statement_for(hunter=hunter, month=MARCH).status == Statement.Status.APPROVED


def test_only_approved_statements_of_ended_months_are_locked(pipeline, hunter, sales_head, accountant):
    deal = deal_awaiting_payment(pipeline, hunter)
    pay(accountant, deal, "2000", MARCH.replace(day=10), "1")

    with pytest.raises(ValidationError, match="не утверждён"):
        statement_lock(acting_user=accountant, hunter=hunter, month=MARCH, at=after_month(MARCH))
    with pytest.raises(ValidationError, match="после окончания месяца"):
        statement_approve(
            acting_user=sales_head, hunter=hunter, month=MARCH, at=after_month(MARCH) - timedelta(days=1)
        )
    current = timezone.localdate().replace(day=1)
    with pytest.raises(ValidationError, match="после его окончания"):
        statement_lock(acting_user=accountant, hunter=hunter, month=current)

    approve(hunter, MARCH, head=sales_head)
    locked = statement_lock(acting_user=accountant, hunter=hunter, month=MARCH, at=after_month(MARCH))
    assert locked.status == Statement.Status.LOCKED and locked.total == Decimal("100.00")


def test_a_statement_changed_since_approval_is_not_locked_but_sent_back(
    pipeline, hunter, sales_head, accountant
):
    deal = deal_awaiting_payment(pipeline, hunter)
    pay(accountant, deal, "2000", MARCH.replace(day=10), "1")
    approve(hunter, MARCH, head=sales_head)
    pay(accountant, deal, "500", MARCH.replace(day=11), "2")

    result = statements_lock_month(acting_user=accountant, month=MARCH, at=after_month(MARCH))

    assert result.locked == []
    record = Statement.objects.get(hunter=hunter, month=MARCH)
    assert record.status == Statement.Status.DRAFT and record.changed_after_approval


def test_the_head_sees_what_changed_since_approval_on_the_statement(
    client, pipeline, hunter, sales_head, accountant
):
    deal = deal_awaiting_payment(pipeline, hunter)
    pay(accountant, deal, "2000", MARCH.replace(day=10), "1")
    approve(hunter, MARCH, head=sales_head)
    pay(accountant, deal, "1000", MARCH.replace(day=12), "2")

    client.force_login(sales_head)
    page = client.get(reverse("compensation:statement", args=[hunter.username, "2026-03"])).content.decode()
    page = page.replace("\u00a0", " ")
    assert "Изменён после утверждения" in page
    assert (
        'Было утверждено <span class="money">100,00 ₽</span>, стало <span class="money">150,00 ₽</span>'
        in page
    )
    assert "Утвердить" in page


# --- hand-entered activities ------------------------------------------------------------------------------


def test_a_hand_entered_activity_is_dated_at_most_two_working_days_back_and_never_in_the_future(hunter):
    card = make_client(acting_user=hunter)
    today = timezone.localdate()
    with pytest.raises(ValidationError, match="в будущем"):
        activity_log(
            acting_user=hunter, kind=ActivityKind.MEETING, client=card, at=timezone.now() + timedelta(days=1)
        )
    with pytest.raises(ValidationError, match="не раньше"):
        activity_log(
            acting_user=hunter, kind=ActivityKind.MEETING, client=card, at=timezone.now() - timedelta(days=9)
        )
    activity = activity_log(acting_user=hunter, kind=ActivityKind.MEETING, client=card)
    assert timezone.localdate(activity.at) == today


def test_no_activity_is_entered_by_hand_into_an_approved_month(pipeline, hunter, sales_head):
    card = make_client(acting_user=hunter, created_at=local(2026, 3, 1))
    approve(hunter, MARCH, head=sales_head)
    with pytest.raises(ValidationError, match="уже утверждён или закрыт"):
        activity_log(
            acting_user=hunter,
            kind=ActivityKind.MEETING,
            client=card,
            at=local(2026, 3, 31, 17),
            entered_on=date(2026, 4, 1),
        )


def test_the_activity_page_explains_a_date_too_far_back(client, hunter):
    card = make_client(acting_user=hunter)
    client.force_login(hunter)
    long_ago = timezone.localdate() - timedelta(days=20)
    response = client.post(
        reverse("kpi:activity_create"),
        {"kind": ActivityKind.MEETING, "client": card.pk, "at": f"{long_ago:%Y-%m-%d}T10:00"},
    )
    assert response.status_code == 400
    assert "Задним числом активность записывается не раньше" in response.content.decode()


# --- payments ---------------------------------------------------------------------------------------------


def test_a_payment_beyond_the_order_is_refused_on_the_page_with_the_figures(
    client, pipeline, hunter, accountant
):
    deal = deal_awaiting_payment(pipeline, hunter)
    client.force_login(accountant)
    response = client.post(
        reverse("deals:payment", args=[deal.pk]),
        {"amount": "5000.01", "received_on": timezone.localdate().isoformat(), "bank_document": "9"},
    )
    page = response.content.decode().replace("\u00a0", " ")
    assert response.status_code == 400
    assert "больше, чем осталось оплатить по заказу: 5 000,00 ₽" in page
    assert not Payment.objects.filter(deal=deal).exists()


def test_a_resubmitted_payment_form_is_recorded_once(client, pipeline, hunter, accountant):
    deal = deal_awaiting_payment(pipeline, hunter)
    client.force_login(accountant)
    form = {
        "amount": "1000",
        "received_on": timezone.localdate().isoformat(),
        "bank_document": "55",
        "idempotency_key": "form-1",
    }
    first = client.post(reverse("deals:payment", args=[deal.pk]), form, follow=True)
    second = client.post(reverse("deals:payment", args=[deal.pk]), form, follow=True)

    assert "Оплата внесена." in first.content.decode()
    assert second.status_code == 200
    assert Payment.objects.filter(deal=deal).count() == 1


def test_the_same_document_with_another_amount_is_refused_on_the_page(client, pipeline, hunter, accountant):
    deal = deal_awaiting_payment(pipeline, hunter)
    pay(accountant, deal, "1000", timezone.localdate(), "55")
    client.force_login(accountant)
    response = client.post(
        reverse("deals:payment", args=[deal.pk]),
        {"amount": "1200", "received_on": timezone.localdate().isoformat(), "bank_document": "55"},
    )
    assert response.status_code == 400
    assert "другая сумма или дата под тем же номером" in response.content.decode()
    assert Payment.objects.filter(deal=deal).count() == 1


def test_a_late_payment_after_the_lock_counts_in_the_first_open_month(
    pipeline, hunter, sales_head, accountant
):
    deal = deal_awaiting_payment(pipeline, hunter)
    pay(accountant, deal, "1000", MARCH.replace(day=10), "1")
    close_month(hunter, MARCH, head=sales_head, accountant=accountant)

    late = pay(accountant, deal, "1000", MARCH.replace(day=30), "2")

    assert (late.accrual_month, late.late) == (APRIL, True)
    assert [line.source_id for line in commission_of(hunter, APRIL)] == [late.pk]


def test_a_document_keyed_in_by_hand_after_the_bank_import_stored_it_is_not_recorded_again(
    pipeline, hunter, accountant
):
    deal = deal_awaiting_payment(pipeline, hunter)
    on = timezone.localdate()
    pay(accountant, deal, "1000", on, f"п/п 318 от {on:%d.%m.%Y}")  # as the bank import writes it
    with pytest.raises(DuplicatePayment, match="уже внесён"):
        pay(accountant, deal, "1000", on, "№ 0318")
    # The same number next year for another sum is another document.
    pay(accountant, deal, "1500", on - timedelta(days=365), "318")
    assert Payment.objects.filter(deal=deal).count() == 2


def test_a_late_payment_that_completes_a_deal_completes_it_in_the_month_it_counts_in(
    pipeline, hunter, sales_head, accountant
):
    from kpi.counters import month_counters

    deal = deal_awaiting_payment(pipeline, hunter)  # order 5 000 ₽
    pay(accountant, deal, "1000", MARCH.replace(day=10), "1")
    close_month(hunter, MARCH, head=sales_head, accountant=accountant)
    pay(accountant, deal, "4000", MARCH.replace(day=31), "2")  # arrived in March, recorded after the lock

    deal.refresh_from_db()
    assert deal.paid_in_full_on == MARCH.replace(day=31) and deal.completed_in == APRIL
    assert month_counters(month=APRIL, hunter_ids=[hunter.pk])[hunter.pk].deals == 1
    assert month_counters(month=MARCH, hunter_ids=[hunter.pk])[hunter.pk].deals == 0
