"""Events tell the people they concern (notifications.events): the hunter whose deal it is, production,
the sales head; once per event however often it is repeated; never of a deal the person may not see;
with a link to where it is handled; and a notice that fails never undoes the change."""

import logging
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from accounts.roles import Role
from atlanset_portal.templatetags.formatting import rub
from deals.models import DealDocument, LostReason, OrderVersion, Product, SampleRequest
from deals.services import (
    OrderLineInput,
    client_set_payment_terms,
    deal_create,
    deal_mark_lost,
    deal_restore,
    deal_transfer,
    document_upload,
    order_set_lines,
    order_version_decide,
    order_version_limit_decide,
    payment_record,
    payment_refund,
    payment_terms_request_create,
    sample_request_create,
    sample_request_set_status,
)
from deals.stages import Stage
from notifications import events
from notifications.models import EmailOptOut, Notification, NotificationKind
from notifications.services import notification_emails_send
from tests.deals.factories import invoice_pdf, make_client, make_deal, make_product
from tests.factories import UserFactory

from .conftest import titles

PRODUCTION_QUEUE = reverse("deals:production_queue")
APPROVALS = reverse("deals:approvals")


@pytest.fixture
def production(db):
    return UserFactory(
        username="prod", full_name="Сергей Кузнецов", role=Role.PRODUCTION, email="kuznetsov@atlanset.example"
    )


@pytest.fixture
def second_production(db):
    return UserFactory(username="prod2", role=Role.PRODUCTION, email="prod2@atlanset.example")


@pytest.fixture
def client_card(hunter):
    return make_client(acting_user=hunter, name="Салон «Лотос»")


@pytest.fixture
def deal(hunter, client_card):
    return make_deal(acting_user=hunter, client=client_card)


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """A block whose on-commit work runs as it would after a real commit (the test's own transaction
    never commits); work queued outside such a block, while setting up, never runs."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def told(user) -> list[Notification]:
    return list(Notification.objects.filter(recipient=user).order_by("pk"))


def request_samples(hunter, deal) -> SampleRequest:
    product = Product.objects.filter(name="Гель для мытья посуды").first() or make_product(
        name="Гель для мытья посуды"
    )
    return sample_request_create(
        acting_user=hunter,
        deal=deal,
        lines=[(product, 3)],
        receiver_name="Мария Соколова",
        receiver_phone="+79501234567",
        potential_volume="40 литров в месяц",
    )


def product_named(name: str):
    return make_product(name=name, list_price=Decimal("1000.00"))


def order(hunter, deal, quantity: str, product) -> OrderVersion:
    order_set_lines(
        acting_user=hunter, deal=deal, lines=[OrderLineInput(product=product, quantity=Decimal(quantity))]
    )
    return OrderVersion.objects.filter(order__deal=deal).order_by("-number").first()


# --- samples -----------------------------------------------------------------------------------------


def test_production_is_told_of_a_new_sample_request_and_nobody_else(
    committed, hunter, other_hunter, sales_head, accountant, production, second_production, deal
):
    gone = UserFactory(username="prod_left", role=Role.PRODUCTION)
    gone.is_active = False  # left the company
    gone.save(update_fields=["is_active"])
    with committed():
        request = request_samples(hunter, deal)

    for person in (production, second_production):
        [notice] = told(person)
        assert (notice.kind, notice.title, notice.body, notice.url) == (
            NotificationKind.SAMPLES_REQUESTED,
            "Новая заявка на пробники: «Салон «Лотос»»",
            "Гель для мытья посуды × 3",
            f"{PRODUCTION_QUEUE}#samples",
        )
        assert notice.event_key == f"samples_requested:sample_request:{request.pk}:requested"
    for person in (hunter, other_hunter, sales_head, accountant, gone):
        assert told(person) == []


def test_the_hunter_hears_each_step_of_their_samples_with_the_reason_of_a_refusal(
    committed, hunter, other_hunter, production, deal
):
    first = request_samples(hunter, deal)
    second = request_samples(hunter, deal)
    with committed():
        sample_request_set_status(acting_user=production, request=first, status="prepared")
        sample_request_set_status(acting_user=production, request=first, status="handed_over")
        sample_request_set_status(
            acting_user=production, request=second, status="declined", comment="Нет на складе"
        )

    assert [(n.title, n.body, n.url) for n in told(hunter)] == [
        ("Пробники для «Салон «Лотос»» подготовлены", "", reverse("deals:detail", args=[deal.pk])),
        ("Пробники для «Салон «Лотос»» переданы клиенту", "", reverse("deals:detail", args=[deal.pk])),
        (
            "Заявка на пробники для «Салон «Лотос»» отклонена",
            "Причина: Нет на складе",
            reverse("deals:detail", args=[deal.pk]),
        ),
    ]
    assert {n.kind for n in told(hunter)} == {NotificationKind.SAMPLES_UPDATED}
    # Production did it: production is not told of its own step; another hunter hears nothing.
    assert told(production) == [] and told(other_hunter) == []


def test_after_a_transfer_the_new_owner_hears_the_later_events_and_the_old_one_does_not(
    committed, hunter, other_hunter, sales_head, production, deal
):
    request = request_samples(hunter, deal)
    with committed():
        sample_request_set_status(acting_user=production, request=request, status="prepared")
    deal_transfer(acting_user=sales_head, deal=deal, to_owner=other_hunter)
    with committed():
        sample_request_set_status(acting_user=production, request=request, status="handed_over")

    assert titles(hunter) == ["Пробники для «Салон «Лотос»» подготовлены"]
    assert titles(other_hunter) == ["Пробники для «Салон «Лотос»» переданы клиенту"]


# --- once per event ----------------------------------------------------------------------------------


def test_an_event_told_twice_or_delivered_again_on_another_day_is_one_notification(
    django_capture_on_commit_callbacks, committed, hunter, production, deal
):
    request = request_samples(hunter, deal)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        sample_request_set_status(acting_user=production, request=request, status="prepared")
        # A double submit reaching the event a second time in the same change.
        events.sample_request_status_changed(request=request, acting_user=production)
    assert len(callbacks) == 2
    assert len(told(hunter)) == 1

    # Delivered again, even on a later day (a retried task, a re-run): nothing new.
    Notification.objects.filter(recipient=hunter).update(for_day=timezone.localdate() - timedelta(days=3))
    for callback in callbacks:
        callback()
    assert len(told(hunter)) == 1

    # The next transition is another event.
    with committed():
        sample_request_set_status(acting_user=production, request=request, status="handed_over")
    assert len(told(hunter)) == 2


def test_the_database_refuses_a_second_row_for_the_same_event(hunter):
    fields = {
        "recipient": hunter,
        "kind": NotificationKind.PAYMENT_RECORDED,
        "title": "Оплата",
        "event_key": "payment_recorded:payment:1:recorded",
    }
    Notification.objects.create(subject_key="payment:1:recorded", for_day=timezone.localdate(), **fields)
    with pytest.raises(IntegrityError), transaction.atomic():
        Notification.objects.create(
            subject_key="payment:1:recorded", for_day=timezone.localdate() + timedelta(days=1), **fields
        )


def test_nothing_is_told_of_a_change_that_rolled_back(committed, hunter, production, deal):
    with committed(), pytest.raises(RuntimeError), transaction.atomic():
        request_samples(hunter, deal)
        raise RuntimeError("the page failed after the service")
    assert told(production) == []


# --- orders ------------------------------------------------------------------------------------------


def test_production_is_told_of_an_order_and_the_hunter_of_its_approval(
    committed, hunter, other_hunter, sales_head, production, deal
):
    product = product_named("Средство для полов")
    with committed():
        first = order(hunter, deal, "2", product)
    [notice] = told(production)
    assert (notice.kind, notice.title, notice.body, notice.url) == (
        NotificationKind.ORDER_TO_APPROVE,
        "Заказ «Салон «Лотос»» ждёт согласования",
        f"Сумма заказа {rub(Decimal('2000'))}.",
        f"{PRODUCTION_QUEUE}#order-{first.order_id}",
    )
    assert told(sales_head) == []  # within every limit: nothing for the head

    with committed():
        order_version_decide(acting_user=production, version=first, approve=True)
        change = order(hunter, deal, "3", product)
    with committed():
        order_version_decide(acting_user=production, version=change, approve=False, comment="Нет сырья")

    assert titles(production)[1] == "Изменение заказа «Салон «Лотос»» (версия №2) ждёт согласования"
    assert [(n.kind, n.title, n.body) for n in told(hunter)] == [
        (NotificationKind.ORDER_DECIDED, "Производство согласовало заказ «Салон «Лотос»»", ""),
        (
            NotificationKind.ORDER_DECIDED,
            "Заказ «Салон «Лотос»» (версия №2) отклонён",
            "Причина: Нет сырья (Сергей Кузнецов)",
        ),
    ]
    assert told(other_hunter) == []


def test_a_version_replaced_before_the_commit_is_not_announced(committed, hunter, production, deal):
    product = product_named("Средство для стёкол")
    with committed():
        order(hunter, deal, "2", product)
        order(hunter, deal, "3", product)  # replaces the first in the same request
    assert titles(production) == ["Заказ «Салон «Лотос»» ждёт согласования"]
    assert told(production)[0].body == f"Сумма заказа {rub(Decimal('3000'))}."


@pytest.fixture
def deferred_client(pipeline, hunter, sales_head, accountant):
    """A client that paid for a first deal and has deferred terms with a 20 000 ₽ limit."""
    client = make_client(acting_user=hunter, name="Столовая «Вахта»")
    first = pipeline.advance_to(make_deal(acting_user=hunter, client=client), Stage.PAYMENT)
    pipeline.record_payment(first)
    client_set_payment_terms(
        acting_user=sales_head,
        client=client,
        payment_terms="deferred",
        deferred_days=14,
        deferred_limit=Decimal("20000"),
    )
    return client


def test_the_head_is_told_of_an_order_over_the_limit_and_the_hunter_of_the_refusal(
    committed, hunter, sales_head, production, deferred_client
):
    deal = deal_create(acting_user=hunter, client=deferred_client, start_stage=Stage.DEAL)
    with committed():
        version = order(hunter, deal, "25", product_named("Антисептик"))

    [notice] = told(sales_head)
    assert (notice.kind, notice.title, notice.url) == (
        NotificationKind.ORDER_OVER_LIMIT,
        "Заказ «Столовая «Вахта»» выводит клиента за лимит отсрочки",
        f"{APPROVALS}#over-limit",
    )
    assert notice.body == (
        f"Неоплаченная отсрочка станет {rub(Decimal(25000))} при лимите {rub(Decimal(20000))} "
        f"(превышение {rub(Decimal(5000))}). Хантер: Иван Иванов."
    )
    [to_production] = told(production)
    assert to_production.body.endswith("Сначала превышение лимита отсрочки согласует руководитель.")

    with committed():
        order_version_limit_decide(
            acting_user=sales_head, version=version, approve=False, comment="Сначала погасить долг"
        )
    assert [(n.title, n.body) for n in told(hunter)] == [
        ("Заказ «Столовая «Вахта»» отклонён", "Причина: Сначала погасить долг (Ольга Петрова)")
    ]


# --- money -------------------------------------------------------------------------------------------


@pytest.fixture
def shipping(pipeline, deal):
    """The deal at «Контроль отгрузки»: order approved (5 000 ₽), invoice uploaded."""
    return pipeline.advance_to(deal, Stage.SHIPMENT)


def test_the_hunter_is_told_of_an_invoice_but_not_of_other_documents(
    committed, hunter, other_hunter, accountant, shipping
):
    with committed():
        document_upload(
            acting_user=accountant,
            deal=shipping,
            kind=DealDocument.Kind.INVOICE,
            file=invoice_pdf(),
            number="318",
        )
        document_upload(
            acting_user=accountant, deal=shipping, kind=DealDocument.Kind.WAYBILL, file=invoice_pdf("tn.pdf")
        )
    [notice] = told(hunter)
    assert (notice.kind, notice.title, notice.url) == (
        NotificationKind.INVOICE_UPLOADED,
        "Загружен счёт №318 по «Салон «Лотос»»",
        reverse("deals:detail", args=[shipping.pk]),
    )
    assert told(accountant) == [] and told(other_hunter) == []


def test_the_hunter_is_told_of_each_payment_and_refund_once_with_amount_and_client(
    committed, hunter, other_hunter, accountant, shipping
):
    today = timezone.localdate()
    with committed():
        for _attempt in range(2):  # the form sent twice: one payment, one notification
            payment_record(
                acting_user=accountant,
                deal=shipping,
                amount=Decimal("2000"),
                received_on=today,
                idempotency_key="form-1",
            )
        payment_refund(acting_user=accountant, deal=shipping, amount=Decimal("500"), recorded_on=today)

    assert [(n.kind, n.title) for n in told(hunter)] == [
        (NotificationKind.PAYMENT_RECORDED, f"Оплата {rub(Decimal(2000))} от «Салон «Лотос»»"),
        (NotificationKind.PAYMENT_RECORDED, f"Возврат {rub(Decimal(500))} клиенту «Салон «Лотос»»"),
    ]
    assert {n.url for n in told(hunter)} == {reverse("deals:detail", args=[shipping.pk])}
    assert told(accountant) == [] and told(other_hunter) == []


def test_a_payment_after_a_transfer_is_told_to_the_new_owner_only(
    committed, hunter, other_hunter, sales_head, accountant, shipping
):
    deal_transfer(acting_user=sales_head, deal=shipping, to_owner=other_hunter)
    with committed():
        payment_record(
            acting_user=accountant, deal=shipping, amount=Decimal("1000"), received_on=timezone.localdate()
        )
    assert titles(other_hunter) == [f"Оплата {rub(Decimal(1000))} от «Салон «Лотос»»"]
    assert told(hunter) == []


# --- the head ----------------------------------------------------------------------------------------


@pytest.fixture
def second_head(db):
    return UserFactory(username="head2", role=Role.SALES_HEAD, email="head2@atlanset.example")


def test_the_heads_are_told_of_a_deal_lost_over_the_product_each_time_it_is_lost(
    committed, hunter, sales_head, second_head, deal
):
    complaint = LostReason.objects.get(code=LostReason.PRODUCT_COMPLAINT)
    with committed():
        deal_mark_lost(acting_user=hunter, deal=deal, reason=complaint, note="Средство оставляет разводы")

    for head in (sales_head, second_head):
        [notice] = told(head)
        assert (notice.kind, notice.title, notice.body, notice.url) == (
            NotificationKind.DEAL_LOST_COMPLAINT,
            "Отказ из-за претензий к продукции: «Салон «Лотос»»",
            "Средство оставляет разводы. Хантер: Иван Иванов.",
            reverse("deals:detail", args=[deal.pk]),
        )
    assert told(hunter) == []

    # Restored and lost again over the product: another event. Lost over the price: nothing.
    with committed():
        deal_restore(acting_user=hunter, deal=deal)
        deal_mark_lost(acting_user=hunter, deal=deal, reason=complaint, note="Снова разводы")
        deal_restore(acting_user=hunter, deal=deal)
        deal_mark_lost(acting_user=hunter, deal=deal, reason=LostReason.objects.get(code="price"))
    assert len(told(sales_head)) == 2
    # A head who loses a deal this way is not told of their own act; the other head is.
    other = make_deal(acting_user=sales_head, client=make_client(acting_user=sales_head, name="Кафе «Обь»"))
    with committed():
        deal_mark_lost(acting_user=sales_head, deal=other, reason=complaint, note="Запах")
    assert len(told(sales_head)) == 2 and len(told(second_head)) == 3


def test_the_head_is_told_of_a_request_for_payment_terms(
    committed, hunter, other_hunter, sales_head, pipeline, accountant
):
    client = make_client(acting_user=hunter, name="Кафе «Берёзка»")
    with committed():
        payment_terms_request_create(
            acting_user=hunter,
            client=client,
            payment_terms="consignment",
            consignment_cadence="weekly",
            comment="Сеть берёт на реализацию",
        )
    [notice] = told(sales_head)
    assert (notice.kind, notice.title, notice.body, notice.url) == (
        NotificationKind.TERMS_REQUESTED,
        "Запрос условий оплаты для «Кафе «Берёзка»»: реализация",
        "Сеть берёт на реализацию (Иван Иванов)",
        f"{APPROVALS}#terms-requests",
    )
    assert told(other_hunter) == [] and told(accountant) == []


# --- the bell and the digest -------------------------------------------------------------------------


def test_events_wait_for_the_digest_and_reach_only_who_did_not_opt_out(
    committed, hunter, production, second_production, deal
):
    EmailOptOut.objects.create(user=second_production, kind=NotificationKind.SAMPLES_REQUESTED)
    with committed():
        request_samples(hunter, deal)
    assert mail.outbox == []  # not an email per event: the next digest carries them

    assert notification_emails_send() == 1
    [email] = mail.outbox
    assert email.to == [production.email]
    assert email.subject == "Новая заявка на пробники: «Салон «Лотос»»"
    assert f"{PRODUCTION_QUEUE}#samples" in email.body
    assert len(told(second_production)) == 1  # the bell shows it all the same


def test_the_bell_lists_an_event_and_opening_it_goes_to_the_deal(client, committed, hunter, production, deal):
    request = request_samples(hunter, deal)
    with committed():
        sample_request_set_status(acting_user=production, request=request, status="prepared")
    client.force_login(hunter)

    page = client.get(reverse("notifications:list"))
    assert "Пробники для «Салон «Лотос»» подготовлены" in page.content.decode()
    [notice] = told(hunter)
    opened = client.post(reverse("notifications:open", args=[notice.pk]))
    assert opened.status_code == 302 and opened.url == reverse("deals:detail", args=[deal.pk])


def test_a_replayed_history_tells_nobody(committed, hunter, production, deal):
    with committed(), events.quiet():
        request_samples(hunter, deal)
    assert told(production) == []


# --- a failed notice never undoes the change ---------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_failing_notice_is_logged_and_the_change_stays(migrated_data, monkeypatch, caplog, production):
    hunter = UserFactory(username="hunter_t", role=Role.HUNTER)
    deal = make_deal(acting_user=hunter, client=make_client(acting_user=hunter))
    request = request_samples(hunter, deal)

    def broken(**_kwargs):
        raise RuntimeError("notifications table unavailable")

    monkeypatch.setattr("notifications.services.event_notifications_create", broken)
    assert connection.get_autocommit()  # a real commit, as in a request
    with caplog.at_level(logging.ERROR):
        changed = sample_request_set_status(acting_user=production, request=request, status="prepared")

    assert changed.status == SampleRequest.Status.PREPARED
    assert SampleRequest.objects.get(pk=request.pk).status == SampleRequest.Status.PREPARED
    assert not Notification.objects.filter(recipient=hunter).exists()
    assert "notifications table unavailable" in caplog.text
