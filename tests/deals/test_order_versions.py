"""Order versions (SPEC §5, the workflow around the rules): an order production approved does not
change; a change is a new version that production approves again, and until then the approved version
is what pay, the outstanding amount and completion read. Over a client's deferred limit, the head agrees
first."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from atlanset_portal.templatetags.formatting import rub
from compensation.approval import statement_check
from compensation.models import Statement
from deals import services
from deals.models import Deal, LostReason, Order, OrderVersion
from deals.selectors import client_unpaid_deferred_total, order_version_limit_check
from deals.services import (
    DealRuleError,
    OrderLineInput,
    client_set_payment_terms,
    deal_mark_lost,
    deal_outstanding,
    order_decide,
    order_set_lines,
    order_version_decide,
    order_version_limit_decide,
    payment_record,
)
from deals.stages import Stage
from kpi.months import month_start
from tests.deals.factories import make_client, make_deal, order_post
from tests.deals.test_views import page_text
from tests.kpi.factories import set_plan
from tests.workflow import approve

# The pipeline's product: 500 ₽, cost 200 ₽; its approved order is 10 of them: 5 000 ₽, cost 2 000 ₽.


def lines(product, quantity: str, price: str | None = None) -> list[OrderLineInput]:
    return [
        OrderLineInput(
            product=product, quantity=Decimal(quantity), price=None if price is None else Decimal(price)
        )
    ]


def pay(pipeline, deal: Deal, amount: str, received_on=None) -> None:
    payment_record(
        acting_user=pipeline.accountant,
        deal=deal,
        amount=Decimal(amount),
        received_on=received_on or timezone.localdate(),
    )


@pytest.fixture
def approved(pipeline, deal) -> Deal:
    """Hunter A's deal at «Получение оплаты» with the order production approved (version 1)."""
    return pipeline.advance_to(deal, Stage.PAYMENT)


def version(deal: Deal, number: int) -> OrderVersion:
    return OrderVersion.objects.get(order__deal=deal, number=number)


# --- before the first approval: edited in place, every edit on record ---------------------------------


def test_before_approval_each_edit_is_written_in_place_and_kept_as_a_version(hunter, deal, product):
    order_set_lines(acting_user=hunter, deal=deal, lines=lines(product, "2"))
    order = order_set_lines(
        acting_user=hunter, deal=deal, lines=lines(product, "3"), comment="Клиент добавил"
    )

    assert order.total == Decimal("1500.00")
    assert list(order.lines.values_list("quantity", flat=True)) == [Decimal("3.000")]
    assert order.production_status == Order.ProductionStatus.PENDING
    first, second = order.versions.order_by("number")
    assert (first.number, first.status, first.total) == (
        1,
        OrderVersion.Status.SUPERSEDED,
        Decimal("1000.00"),
    )
    assert (second.number, second.status, second.total) == (
        2,
        OrderVersion.Status.PENDING,
        Decimal("1500.00"),
    )
    assert (second.created_by, second.comment) == (hunter, "Клиент добавил")
    assert [line.quantity for line in second.lines.all()] == [Decimal("3.000")]


def test_first_approval_records_who_and_when_on_the_version_and_the_order(hunter, production, deal, product):
    order = order_set_lines(acting_user=hunter, deal=deal, lines=lines(product, "2"))

    order_decide(acting_user=production, order=order, approve=True, comment="Есть на складе")

    order.refresh_from_db()
    first = version(deal, 1)
    assert order.production_status == Order.ProductionStatus.APPROVED
    assert (first.status, first.decided_by, first.decision_comment) == (
        OrderVersion.Status.APPROVED,
        production,
        "Есть на складе",
    )
    assert first.decided_at is not None and order.production_decided_by == production


# --- after approval: a change is a version waiting, the approved one stays in force --------------------


def test_a_change_to_an_approved_order_waits_and_the_approved_version_stays_in_force(
    pipeline, hunter, approved, product
):
    pay(pipeline, approved, "1000")

    order_set_lines(acting_user=hunter, deal=approved, lines=lines(product, "20"), comment="Вторая точка")

    order = Order.objects.get(deal=approved)
    assert (order.total, order.cost_total, order.production_status) == (
        Decimal("5000.00"),
        Decimal("2000.00"),
        Order.ProductionStatus.APPROVED,
    )
    assert list(order.lines.values_list("quantity", flat=True)) == [Decimal("10.000")]
    assert version(approved, 2).status == OrderVersion.Status.PENDING
    assert version(approved, 2).total == Decimal("10000.00")
    # What the accountant may still take is read from the version in force.
    assert deal_outstanding(approved) == Decimal("4000.00")
    with pytest.raises(ValidationError, match="больше, чем осталось оплатить"):
        pay(pipeline, approved, "4500")


def test_a_pending_change_means_the_order_is_not_approved_as_it_stands(pipeline, hunter, deal, product):
    deal = pipeline.advance_to(deal, Stage.DEAL)
    pipeline.record_deal(deal)
    order_set_lines(acting_user=hunter, deal=deal, lines=lines(product, "12"))

    with pytest.raises(services.StageCriteriaNotMet) as refused:
        services.deal_move(acting_user=hunter, deal=deal, to_stage=Stage.SHIPMENT)
    assert [criterion.code for criterion in refused.value.missing] == ["order_approved"]

    order_decide(acting_user=pipeline.production, order=deal.order, approve=True)
    assert services.deal_move(acting_user=hunter, deal=deal, to_stage=Stage.SHIPMENT).stage == Stage.SHIPMENT


def test_approving_a_change_puts_it_in_force_and_completion_follows(
    pipeline, hunter, production, approved, product
):
    pay(pipeline, approved, "5000")
    assert Deal.objects.get(pk=approved.pk).paid_in_full_on == timezone.localdate()
    order_set_lines(acting_user=hunter, deal=approved, lines=lines(product, "12"))

    order_version_decide(acting_user=production, version=version(approved, 2), approve=True)

    order = Order.objects.get(deal=approved)
    assert (order.total, order.cost_total) == (Decimal("6000.00"), Decimal("2400.00"))
    assert list(order.lines.values_list("quantity", flat=True)) == [Decimal("12.000")]
    assert version(approved, 1).status == OrderVersion.Status.APPROVED  # kept, no longer in force
    assert version(approved, 2).status == OrderVersion.Status.APPROVED
    deal = Deal.objects.get(pk=approved.pk)
    assert (deal.paid_in_full_on, deal.completed_for) == (None, None)
    assert deal_outstanding(deal) == Decimal("1000.00")


def test_a_declined_change_leaves_the_approved_version_in_force(
    pipeline, hunter, production, approved, product
):
    order_set_lines(acting_user=hunter, deal=approved, lines=lines(product, "12"))

    with pytest.raises(ValidationError, match="почему заказ отклонён"):
        order_version_decide(acting_user=production, version=version(approved, 2), approve=False)
    order_version_decide(
        acting_user=production, version=version(approved, 2), approve=False, comment="Нет тары на 12 шт."
    )

    order = Order.objects.get(deal=approved)
    assert (order.total, order.production_status) == (Decimal("5000.00"), Order.ProductionStatus.APPROVED)
    assert version(approved, 2).status == OrderVersion.Status.DECLINED
    assert version(approved, 2).decision_comment == "Нет тары на 12 шт."


def test_a_newer_change_replaces_the_one_still_waiting(hunter, production, approved, product):
    order_set_lines(acting_user=hunter, deal=approved, lines=lines(product, "12"))
    order_set_lines(acting_user=hunter, deal=approved, lines=lines(product, "14"))

    assert version(approved, 2).status == OrderVersion.Status.SUPERSEDED
    assert version(approved, 3).status == OrderVersion.Status.PENDING
    with pytest.raises(DealRuleError, match="уже не ждёт согласования"):
        order_version_decide(acting_user=production, version=version(approved, 2), approve=True)
    assert Order.objects.get(deal=approved).total == Decimal("5000.00")


def test_the_same_lines_again_make_no_new_version(pipeline, hunter, approved):
    with pytest.raises(ValidationError, match="совпадают с действующим заказом"):
        order_set_lines(acting_user=hunter, deal=approved, lines=lines(pipeline.product, "10"))
    order_set_lines(acting_user=hunter, deal=approved, lines=lines(pipeline.product, "12"))
    with pytest.raises(ValidationError, match="уже ждёт согласования"):
        order_set_lines(acting_user=hunter, deal=approved, lines=lines(pipeline.product, "12"))

    assert OrderVersion.objects.filter(order__deal=approved).count() == 2


def test_a_version_below_what_was_paid_is_refused_with_the_figures(pipeline, hunter, approved, product):
    pay(pipeline, approved, "3000")

    with pytest.raises(ValidationError) as refused:
        order_set_lines(acting_user=hunter, deal=approved, lines=lines(product, "4"))

    expected = (
        f"Сумма заказа {rub(Decimal(2000))} меньше того, что по сделке уже оплачено: {rub(Decimal(3000))}"
    )
    assert expected in refused.value.messages[0]
    assert OrderVersion.objects.filter(order__deal=approved).count() == 1


def test_a_waiting_version_below_a_payment_recorded_since_is_not_approved(
    pipeline, hunter, production, approved, product
):
    order_set_lines(acting_user=hunter, deal=approved, lines=lines(product, "4"))  # 2 000 ₽
    pay(pipeline, approved, "3000")

    with pytest.raises(ValidationError, match="меньше того, что по сделке уже оплачено"):
        order_version_decide(acting_user=production, version=version(approved, 2), approve=True)
    assert Order.objects.get(deal=approved).total == Decimal("5000.00")


def test_only_production_decides_and_only_on_an_open_deal(
    pipeline, hunter, sales_head, production, approved, product
):
    order_set_lines(acting_user=hunter, deal=approved, lines=lines(product, "12"))
    for user in (hunter, sales_head, pipeline.accountant):
        with pytest.raises(PermissionDenied):
            order_version_decide(acting_user=user, version=version(approved, 2), approve=True)

    Deal.objects.filter(pk=approved.pk).update(stage=Stage.SHIPMENT)
    deal_mark_lost(acting_user=hunter, deal=approved, reason=LostReason.objects.get(code="price"), note="")
    with pytest.raises(DealRuleError, match="Сделка закрыта"):
        order_version_decide(acting_user=production, version=version(approved, 2), approve=True)


def test_another_hunter_cannot_change_the_order(other_hunter, approved, product):
    with pytest.raises(PermissionDenied):
        order_set_lines(acting_user=other_hunter, deal=approved, lines=lines(product, "12"))
    assert OrderVersion.objects.filter(order__deal=approved).count() == 1


def test_the_head_may_change_an_approved_order_as_a_new_version(sales_head, approved, product):
    order_set_lines(acting_user=sales_head, deal=approved, lines=lines(product, "11"))

    assert version(approved, 2).created_by == sales_head
    assert Order.objects.get(deal=approved).total == Decimal("5000.00")


# --- what pay is computed from ---------------------------------------------------------------------------


def test_approving_a_change_tells_pay_about_every_hunter_credited_from_the_earliest_month(
    pipeline, hunter, other_hunter, sales_head, production, approved, product, monkeypatch
):
    this_month = month_start(timezone.localdate())
    last_month = month_start(this_month - timedelta(days=1))
    pay(pipeline, approved, "1000", received_on=last_month)
    services.deal_transfer(acting_user=sales_head, deal=approved, to_owner=other_hunter)
    pay(pipeline, approved, "1000")
    order_set_lines(
        acting_user=other_hunter,
        deal=Deal.objects.get(pk=approved.pk),
        lines=lines(product, "10", price="600"),
        confirmed_prices=[(product.pk, Decimal("600"))],
    )
    calls = []
    monkeypatch.setattr(services, "pay_changed", lambda **kwargs: calls.append(kwargs))

    order_version_decide(acting_user=production, version=version(approved, 2), approve=True)

    [call] = calls
    assert sorted(call["hunter_ids"]) == sorted([hunter.pk, other_hunter.pk])
    assert call["month"] == last_month
    assert "версия заказа №2" in call["cause"]


def test_a_changed_margin_sends_the_approved_statement_back_to_draft(
    pipeline, hunter, sales_head, production, approved, product
):
    last_month = month_start(month_start(timezone.localdate()) - timedelta(days=1))
    set_plan(sales_head, hunter, last_month, revenue_target=Decimal("1000"), deals_target=0)
    pay(pipeline, approved, "2000", received_on=last_month)
    statement = approve(hunter, last_month, head=sales_head)
    assert statement.status == Statement.Status.APPROVED
    order_set_lines(
        acting_user=hunter,
        deal=approved,
        lines=lines(product, "10", price="400"),
        confirmed_prices=[(product.pk, Decimal("400"))],
    )  # margin halves

    order_version_decide(acting_user=production, version=version(approved, 2), approve=True)

    statement.refresh_from_db()
    assert statement.needs_check
    assert statement_check(statement).status == Statement.Status.DRAFT
    assert Statement.objects.get(pk=statement.pk).changed_after_approval


def test_a_waiting_change_tells_pay_nothing(pipeline, hunter, approved, product, monkeypatch):
    pay(pipeline, approved, "1000")
    calls = []
    monkeypatch.setattr(services, "pay_changed", lambda **kwargs: calls.append(kwargs))

    order_set_lines(
        acting_user=hunter,
        deal=approved,
        lines=lines(product, "10", price="600"),
        confirmed_prices=[(product.pk, Decimal("600"))],
    )

    assert calls == []


# --- the deferred limit ----------------------------------------------------------------------------------


@pytest.fixture
def deferred_client(pipeline, hunter, sales_head):
    """A client that paid for a first deal (5 000 ₽) and now has deferred terms with a 20 000 ₽ limit."""
    client = make_client(acting_user=hunter, name="Столовая «Вахта»")
    first = pipeline.advance_to(make_deal(acting_user=hunter, client=client), Stage.PAYMENT)
    pay(pipeline, first, "5000")
    client_set_payment_terms(
        acting_user=sales_head,
        client=client,
        payment_terms="deferred",
        deferred_days=14,
        deferred_limit=Decimal("20000"),
    )
    return client


def repeat_order(pipeline, client, quantity: str, *, approve_it: bool = True) -> Deal:
    """A repeat order of ``quantity`` × 1 000 ₽ at «Сделка», approved by production unless told not to."""
    deal = services.deal_create(acting_user=pipeline.hunter, client=client, start_stage=Stage.DEAL)
    order = order_set_lines(
        acting_user=pipeline.hunter,
        deal=deal,
        lines=lines(pipeline.product, quantity, price="1000"),
        confirmed_prices=[(pipeline.product.pk, Decimal("1000"))],
    )
    if approve_it:
        order_decide(acting_user=pipeline.production, order=order, approve=True)
    return Deal.objects.get(pk=deal.pk)


def test_unpaid_deferred_total_counts_approved_orders_of_open_deals_less_what_was_paid(
    pipeline, hunter, deferred_client
):
    open_deal = repeat_order(pipeline, deferred_client, "8")
    pay(pipeline, open_deal, "3000")
    repeat_order(pipeline, deferred_client, "4", approve_it=False)  # not approved yet: not in force
    lost = repeat_order(pipeline, deferred_client, "6")
    Deal.objects.filter(pk=lost.pk).update(stage=Stage.SHIPMENT)
    deal_mark_lost(acting_user=hunter, deal=lost, reason=LostReason.objects.get(code="price"))

    assert client_unpaid_deferred_total(deferred_client) == Decimal("5000.00")
    prepaying = make_client(acting_user=hunter)
    assert client_unpaid_deferred_total(prepaying) == Decimal("0")


def test_an_order_over_the_limit_waits_for_the_head_before_production(
    pipeline, sales_head, production, deferred_client
):
    repeat_order(pipeline, deferred_client, "15")
    deal = repeat_order(pipeline, deferred_client, "8", approve_it=False)
    pending = version(deal, 1)

    check = order_version_limit_check(pending)
    assert (check.unpaid_now, check.unpaid_after, check.excess) == (
        Decimal("15000.00"),
        Decimal("23000.00"),
        Decimal("3000.00"),
    )
    with pytest.raises(DealRuleError) as refused:
        order_version_decide(acting_user=production, version=pending, approve=True)
    assert refused.value.messages == [
        "Заказ выводит клиента «Столовая «Вахта»» за лимит отсрочки: неоплаченная отсрочка станет "
        f"{rub(Decimal(23000))} при лимите {rub(Decimal(20000))} (превышение {rub(Decimal(3000))}).",
        "Сначала превышение должен согласовать руководитель отдела продаж.",
    ]
    assert Order.objects.get(deal=deal).production_status == Order.ProductionStatus.PENDING

    order_version_limit_decide(
        acting_user=sales_head, version=pending, approve=True, comment="Надёжный клиент"
    )
    order_version_decide(acting_user=production, version=pending, approve=True)

    pending.refresh_from_db()
    assert (pending.status, pending.limit_approved_by, pending.limit_comment) == (
        OrderVersion.Status.APPROVED,
        sales_head,
        "Надёжный клиент",
    )
    assert client_unpaid_deferred_total(deferred_client) == Decimal("23000.00")


def test_a_change_that_raises_an_approved_order_over_the_limit_needs_the_head_too(
    pipeline, production, deferred_client
):
    deal = repeat_order(pipeline, deferred_client, "15")
    order_set_lines(
        acting_user=pipeline.hunter,
        deal=deal,
        lines=lines(pipeline.product, "21", price="1000"),
        confirmed_prices=[(pipeline.product.pk, Decimal("1000"))],
    )

    with pytest.raises(DealRuleError, match="лимит отсрочки"):
        order_version_decide(acting_user=production, version=version(deal, 2), approve=True)
    assert Order.objects.get(deal=deal).total == Decimal("15000.00")


def test_a_change_that_lowers_the_exposure_needs_nobody_but_production(
    pipeline, sales_head, production, deferred_client
):
    repeat_order(pipeline, deferred_client, "15")
    big = repeat_order(pipeline, deferred_client, "10", approve_it=False)
    order_version_limit_decide(acting_user=sales_head, version=version(big, 1), approve=True)
    order_version_decide(acting_user=production, version=version(big, 1), approve=True)
    order_set_lines(
        acting_user=pipeline.hunter,
        deal=big,
        lines=lines(pipeline.product, "9", price="1000"),
        confirmed_prices=[(pipeline.product.pk, Decimal("1000"))],
    )

    assert not order_version_limit_check(version(big, 2)).exceeded
    order_version_decide(acting_user=production, version=version(big, 2), approve=True)
    assert Order.objects.get(deal=big).total == Decimal("9000.00")


def test_the_head_may_refuse_the_excess_and_the_version_is_declined(pipeline, sales_head, deferred_client):
    repeat_order(pipeline, deferred_client, "15")
    deal = repeat_order(pipeline, deferred_client, "8", approve_it=False)

    with pytest.raises(ValidationError, match="почему превышение лимита не согласовано"):
        order_version_limit_decide(acting_user=sales_head, version=version(deal, 1), approve=False)
    order_version_limit_decide(
        acting_user=sales_head, version=version(deal, 1), approve=False, comment="Сначала пусть оплатят"
    )

    declined = version(deal, 1)
    assert (declined.status, declined.decided_by) == (OrderVersion.Status.DECLINED, sales_head)
    order = Order.objects.get(deal=deal)
    assert (order.production_status, order.production_comment) == (
        Order.ProductionStatus.DECLINED,
        "Сначала пусть оплатят",
    )


def test_only_the_head_decides_on_the_excess_and_only_when_there_is_one(
    pipeline, hunter, sales_head, production, deferred_client
):
    repeat_order(pipeline, deferred_client, "15")
    over = repeat_order(pipeline, deferred_client, "8", approve_it=False)
    within = make_deal(acting_user=hunter)
    order_set_lines(acting_user=hunter, deal=within, lines=lines(pipeline.product, "1"))
    for user in (hunter, production, pipeline.accountant):
        with pytest.raises(PermissionDenied):
            order_version_limit_decide(acting_user=user, version=version(over, 1), approve=True)
    with pytest.raises(DealRuleError, match="не выводит клиента за лимит"):
        order_version_limit_decide(acting_user=sales_head, version=version(within, 1), approve=True)
    order_version_limit_decide(acting_user=sales_head, version=version(over, 1), approve=True)
    with pytest.raises(DealRuleError, match="уже согласовано"):
        order_version_limit_decide(acting_user=sales_head, version=version(over, 1), approve=True)


# --- the pages -------------------------------------------------------------------------------------------


def shown(amount: int) -> str:
    """A sum as the page's text reads it (``page_text`` folds the non-breaking spaces)."""
    return " ".join(rub(Decimal(amount)).split())


def order_form(product, quantity: str, comment: str = "") -> dict:
    return order_post((product, quantity), comment=comment)


def test_hunter_changes_an_approved_order_on_the_deal_page_and_sees_its_history(client, pipeline, approved):
    client.force_login(pipeline.hunter)
    detail = reverse("deals:detail", args=[approved.pk])
    assert "Изменить заказ…" in page_text(client.get(detail))
    opened = client.get(reverse("deals:form", args=[approved.pk, "order"]), headers={"HX-Request": "true"})
    assert "Отправить изменение на согласование" in page_text(opened)

    response = client.post(
        reverse("deals:order", args=[approved.pk]), order_form(pipeline.product, "12", "Вторая точка")
    )

    assert response.status_code == 302
    text = page_text(client.get(detail))
    assert "версия №2" in text and "до согласования действует прежняя версия" in text
    assert "Изменение ждёт согласования производства" in text
    assert "действует версия №1" in text and "История заказа (версий: 2)" in text
    assert "Вторая точка" in text


def test_another_hunter_cannot_post_an_order_change(client, other_hunter, pipeline, approved):
    client.force_login(other_hunter)
    response = client.post(reverse("deals:order", args=[approved.pk]), order_form(pipeline.product, "12"))
    assert response.status_code == 404
    assert OrderVersion.objects.filter(order__deal=approved).count() == 1


def test_production_sees_what_changed_and_approves_the_version_it_looked_at(
    client, pipeline, production, approved
):
    order_set_lines(acting_user=pipeline.hunter, deal=approved, lines=lines(pipeline.product, "12"))
    client.force_login(production)
    text = page_text(client.get(reverse("deals:production_queue")))
    assert "изменение заказа" in text and "вместо действующей №1" in text
    assert "Было" in text and shown(5000) in text and shown(6000) in text

    decision = reverse("deals:order_decision", args=[approved.order.pk])
    stale = client.post(decision, {"approve": "1", "version": version(approved, 1).pk})
    assert stale.status_code == 302
    assert Order.objects.get(deal=approved).total == Decimal("5000.00")
    client.post(decision, {"approve": "1", "version": version(approved, 2).pk})
    assert Order.objects.get(deal=approved).total == Decimal("6000.00")


def test_production_is_told_in_russian_when_the_head_must_agree_first(
    client, pipeline, production, deferred_client
):
    repeat_order(pipeline, deferred_client, "15")
    deal = repeat_order(pipeline, deferred_client, "8", approve_it=False)
    client.force_login(production)
    assert "нужно согласование руководителя" in page_text(client.get(reverse("deals:production_queue")))

    response = client.post(
        reverse("deals:order_decision", args=[deal.order.pk]),
        {"approve": "1", "version": version(deal, 1).pk},
        follow=True,
    )

    assert "Сначала превышение должен согласовать руководитель отдела продаж" in page_text(response)
    assert version(deal, 1).status == OrderVersion.Status.PENDING


def test_head_agrees_to_the_excess_on_the_deal_page(client, pipeline, sales_head, deferred_client):
    repeat_order(pipeline, deferred_client, "15")
    deal = repeat_order(pipeline, deferred_client, "8", approve_it=False)
    client.force_login(pipeline.hunter)
    hunter_page = page_text(client.get(reverse("deals:detail", args=[deal.pk])))
    assert "нужно согласование руководителя" in hunter_page
    assert "Согласовать превышение лимита" not in hunter_page
    assert (
        client.post(
            reverse("deals:order_version_limit", args=[version(deal, 1).pk]), {"approve": "1"}
        ).status_code
        == 403
    )

    client.force_login(sales_head)
    assert "Согласовать превышение лимита" in page_text(client.get(reverse("deals:detail", args=[deal.pk])))
    assert "Столовая «Вахта»" in page_text(client.get(reverse("deals:approvals")))
    response = client.post(reverse("deals:order_version_limit", args=[version(deal, 1).pk]), {"approve": "1"})

    assert response.status_code == 302
    assert version(deal, 1).limit_approved_by == sales_head
    assert "Таких заказов нет" in page_text(client.get(reverse("deals:approvals")))


def test_client_card_shows_the_unpaid_deferred_total(client, pipeline, deferred_client):
    deal = repeat_order(pipeline, deferred_client, "8")
    pay(pipeline, deal, "2000")
    client.force_login(pipeline.hunter)
    text = page_text(client.get(reverse("clients:detail", args=[deferred_client.pk])))
    assert f"Неоплачено по отсрочке: {shown(6000)} из лимита {shown(20000)}" in text


def test_production_queue_and_approvals_queries_do_not_grow_with_waiting_versions(
    client, pipeline, production, sales_head, deferred_client
):
    def queries(user, name):
        client.force_login(user)
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse(name)).status_code == 200
        return len(captured)

    repeat_order(pipeline, deferred_client, "15")
    repeat_order(pipeline, deferred_client, "8", approve_it=False)
    few = {
        name: queries(user, name)
        for user, name in ((production, "deals:production_queue"), (sales_head, "deals:approvals"))
    }
    for _ in range(4):
        changed = repeat_order(pipeline, deferred_client, "1")
        order_set_lines(
            acting_user=pipeline.hunter,
            deal=changed,
            lines=lines(pipeline.product, "9", price="1000"),
            confirmed_prices=[(pipeline.product.pk, Decimal("1000"))],
        )
    many = {
        name: queries(user, name)
        for user, name in ((production, "deals:production_queue"), (sales_head, "deals:approvals"))
    }
    assert many == few


def test_a_new_order_appears_in_the_queue_with_its_lines(client, pipeline, production, deal):
    deal = pipeline.advance_to(deal, Stage.DEAL)
    order_set_lines(acting_user=pipeline.hunter, deal=deal, lines=lines(pipeline.product, "12"))
    client.force_login(production)
    text = page_text(client.get(reverse("deals:production_queue")))
    assert "новый заказ" in text and f"{pipeline.product.name} × 12 шт." in text
