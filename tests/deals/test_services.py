"""The deal pipeline through its services, against the database.

Every write goes through ``deals.services`` as the portal's people would make it; what the exit
criteria see is loaded by ``deals.selectors.deal_facts`` inside ``deal_move``.
"""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import User
from accounts.roles import Role
from deals.models import (
    Client,
    Deal,
    DealDocument,
    LostReason,
    Order,
    OrderVersion,
    Payment,
    SampleRequest,
    StageChange,
    Transfer,
)
from deals.selectors import BoardFilters, board_columns
from deals.services import (
    DealRuleError,
    DuplicateClient,
    DuplicatePayment,
    OrderLineInput,
    StageCriteriaNotMet,
    call_result_record,
    client_create,
    client_transfer,
    client_update,
    client_update_requisites,
    deal_advance,
    deal_create,
    deal_mark_lost,
    deal_move,
    deal_paid_total,
    deal_restore,
    deal_transfer,
    deal_win,
    document_upload,
    feedback_record,
    follow_up_record,
    order_decide,
    order_set_lines,
    payment_record,
    payment_refund,
    proposal_record,
    sample_request_create,
    sample_request_set_status,
    shipment_record,
)
from deals.stages import CallOutcome, DealStatus, Stage
from tests.deals.factories import (
    ENTREPRENEUR_REQUISITES,
    VALID_REQUISITES,
    branch_requisites,
    invoice_pdf,
    make_client,
    make_deal,
    make_product,
)
from tests.factories import UserFactory

CALL_CODES = ["call_logged", "call_description", "client_description", "decision_maker_email", "call_agreed"]
SAMPLE_CODES = [
    "sample_request",
    "sample_receiver_name",
    "sample_receiver_phone",
    "sample_potential_volume",
    "samples_delivered",
]
SHIPMENT_CODES = ["shipment_receiver", "shipment_address", "shipment_courier_date", "goods_received"]


def refused_codes(*, acting_user: User, deal: Deal, to_stage: str) -> list[str]:
    """Tries the move, expects it refused for unmet criteria, and returns the missing criteria's codes."""
    stage_before = Deal.objects.get(pk=deal.pk).stage
    with pytest.raises(StageCriteriaNotMet) as caught:
        deal_move(acting_user=acting_user, deal=deal, to_stage=to_stage)
    assert Deal.objects.get(pk=deal.pk).stage == stage_before
    assert caught.value.stage == stage_before
    return [criterion.code for criterion in caught.value.missing]


def fresh(deal: Deal) -> Deal:
    return Deal.objects.get(pk=deal.pk)


def today():
    return timezone.localdate()


# --- exit criteria, stage by stage --------------------------------------------------------------


def test_move_to_call_refused_until_client_card_has_address_and_phone(hunter):
    client = make_client(acting_user=hunter, name="Салон «Лотос»", address="", phones=[])
    deal = make_deal(acting_user=hunter, client=client)

    assert refused_codes(acting_user=hunter, deal=deal, to_stage=Stage.CALL) == [
        "client_address",
        "client_phone",
    ]

    client_update(acting_user=hunter, client=client, address="г. Сургут, пр. Мира, д. 5")
    assert refused_codes(acting_user=hunter, deal=deal, to_stage=Stage.CALL) == ["client_phone"]

    client_update(acting_user=hunter, client=client, phones=["8 (3462) 55-12-34"])
    moved = deal_move(acting_user=hunter, deal=deal, to_stage=Stage.CALL)
    assert moved.stage == Stage.CALL
    assert fresh(deal).stage == Stage.CALL


def test_refusal_names_the_missing_criteria_in_russian(hunter):
    deal = make_deal(acting_user=hunter, client=make_client(acting_user=hunter, address="", phones=[]))

    with pytest.raises(StageCriteriaNotMet) as caught:
        deal_move(acting_user=hunter, deal=deal, to_stage=Stage.CALL)

    assert "в карточке клиента указан адрес" in str(caught.value)
    assert "в карточке клиента есть хотя бы один телефон" in str(caught.value)
    assert "название" not in str(caught.value)


def test_move_to_proposal_refused_until_call_is_described_and_agreed(hunter, deal):
    deal = deal_move(acting_user=hunter, deal=deal, to_stage=Stage.CALL)
    assert refused_codes(acting_user=hunter, deal=deal, to_stage=Stage.PROPOSAL) == CALL_CODES

    call_result_record(
        acting_user=hunter,
        deal=deal,
        outcome=CallOutcome.CALL_BACK,
        call_description="Секретарь попросила перезвонить после обеда",
    )
    assert refused_codes(acting_user=hunter, deal=deal, to_stage=Stage.PROPOSAL) == [
        "client_description",
        "decision_maker_email",
        "call_agreed",
    ]

    call_result_record(
        acting_user=hunter,
        deal=deal,
        outcome=CallOutcome.AGREED_PROPOSAL,
        call_description="Поговорил с директором, просит КП на средства для пола",
        client_description="Сеть из трёх салонов, закупают раз в месяц",
        decision_maker_email="director@lotos.ru",
    )
    assert deal_move(acting_user=hunter, deal=deal, to_stage=Stage.PROPOSAL).stage == Stage.PROPOSAL


def test_refused_call_with_everything_described_still_blocks_the_move(hunter, deal):
    deal = deal_move(acting_user=hunter, deal=deal, to_stage=Stage.CALL)
    call_result_record(
        acting_user=hunter,
        deal=deal,
        outcome=CallOutcome.REFUSED,
        call_description="Директор сказал, что работает с другим поставщиком",
        client_description="Небольшой салон",
        decision_maker_email="director@lotos.ru",
    )

    assert refused_codes(acting_user=hunter, deal=deal, to_stage=Stage.PROPOSAL) == ["call_agreed"]


def test_call_criteria_accept_decision_maker_email_from_the_client_card(hunter):
    client = make_client(acting_user=hunter, decision_maker_email="owner@lotos.ru")
    deal = deal_move(
        acting_user=hunter, deal=make_deal(acting_user=hunter, client=client), to_stage=Stage.CALL
    )
    call_result_record(
        acting_user=hunter,
        deal=deal,
        outcome=CallOutcome.AGREED_SAMPLES,
        call_description="Согласились попробовать пробники",
        client_description="Салон у метро",
    )

    assert deal_move(acting_user=hunter, deal=deal, to_stage=Stage.PROPOSAL).stage == Stage.PROPOSAL


def test_decision_maker_email_from_a_call_is_saved_on_an_empty_client_card(hunter, deal):
    call_result_record(
        acting_user=hunter, deal=deal, outcome=CallOutcome.AGREED_PROPOSAL, decision_maker_email="dm@lotos.ru"
    )

    assert Client.objects.get(pk=deal.client_id).decision_maker_email == "dm@lotos.ru"


def test_agreed_call_still_counts_after_a_later_unanswered_call(hunter, deal, pipeline):
    deal = deal_move(acting_user=hunter, deal=deal, to_stage=Stage.CALL)
    pipeline.record_call(deal)
    call_result_record(acting_user=hunter, deal=deal, outcome=CallOutcome.NOT_REACHED)

    assert deal_move(acting_user=hunter, deal=deal, to_stage=Stage.PROPOSAL).stage == Stage.PROPOSAL


def test_move_to_samples_refused_until_proposal_is_recorded_as_sent(hunter, deal, pipeline):
    deal = pipeline.advance_to(deal, Stage.PROPOSAL)
    assert refused_codes(acting_user=hunter, deal=deal, to_stage=Stage.SAMPLES) == [
        "proposal_sent",
        "callback_date",
    ]

    callback_on = today() + timedelta(days=3)
    proposal_record(
        acting_user=hunter,
        deal=deal,
        template_name="КП для салонов красоты",
        sent_to_email="director@lotos.ru",
        sent_at=timezone.now(),
        callback_on=callback_on,
    )

    assert fresh(deal).next_contact_on == callback_on
    assert deal_move(acting_user=hunter, deal=deal, to_stage=Stage.SAMPLES).stage == Stage.SAMPLES


def test_callback_date_agreed_in_a_follow_up_meets_the_callback_criterion(hunter, deal, pipeline):
    deal = pipeline.advance_to(deal, Stage.PROPOSAL)
    follow_up_record(
        acting_user=hunter,
        deal=deal,
        outcome="Попросили перезвонить в пятницу",
        next_contact_on=today() + timedelta(days=2),
    )

    assert refused_codes(acting_user=hunter, deal=deal, to_stage=Stage.SAMPLES) == ["proposal_sent"]


def test_proposal_without_file_or_template_is_refused(hunter, deal):
    with pytest.raises(ValidationError, match="файл КП или укажите шаблон"):
        proposal_record(
            acting_user=hunter,
            deal=deal,
            sent_to_email="director@lotos.ru",
            sent_at=timezone.now(),
            callback_on=today(),
        )

    assert not deal.proposals.exists()


def test_move_to_follow_up_refused_until_samples_are_handed_over(hunter, production, deal, pipeline, product):
    deal = pipeline.advance_to(deal, Stage.SAMPLES)
    assert refused_codes(acting_user=hunter, deal=deal, to_stage=Stage.FOLLOW_UP) == SAMPLE_CODES

    request = sample_request_create(
        acting_user=hunter,
        deal=deal,
        lines=[(product, 3)],
        receiver_name="Мария Соколова",
        receiver_phone="8 912 000-11-22",
        potential_volume="40 литров в месяц",
    )
    assert request.receiver_phone == "+79120001122"
    assert refused_codes(acting_user=hunter, deal=deal, to_stage=Stage.FOLLOW_UP) == ["samples_delivered"]

    sample_request_set_status(acting_user=production, request=request, status=SampleRequest.Status.PREPARED)
    assert refused_codes(acting_user=hunter, deal=deal, to_stage=Stage.FOLLOW_UP) == ["samples_delivered"]

    sample_request_set_status(
        acting_user=production, request=request, status=SampleRequest.Status.HANDED_OVER
    )
    assert deal_move(acting_user=hunter, deal=deal, to_stage=Stage.FOLLOW_UP).stage == Stage.FOLLOW_UP


def test_sample_request_without_receiver_phone_is_refused(hunter, deal, product):
    with pytest.raises(ValidationError):
        sample_request_create(
            acting_user=hunter,
            deal=deal,
            lines=[(product, 1)],
            receiver_name="Мария",
            receiver_phone="",
            potential_volume="40 литров в месяц",
        )

    assert not deal.sample_requests.exists()


@pytest.mark.parametrize("lines", [[], "zero quantity"])
def test_sample_request_without_products_is_refused(hunter, deal, product, lines):
    lines = [(product, 0)] if lines == "zero quantity" else lines
    with pytest.raises(ValidationError):
        sample_request_create(
            acting_user=hunter,
            deal=deal,
            lines=lines,
            receiver_name="Мария",
            receiver_phone="+79120001122",
            potential_volume="40 литров в месяц",
        )


def test_declined_sample_request_does_not_count(hunter, production, deal, pipeline, product):
    deal = pipeline.advance_to(deal, Stage.SAMPLES)
    request = sample_request_create(
        acting_user=hunter,
        deal=deal,
        lines=[(product, 1)],
        receiver_name="Мария",
        receiver_phone="+79120001122",
        potential_volume="40 литров в месяц",
    )
    sample_request_set_status(
        acting_user=production, request=request, status=SampleRequest.Status.DECLINED, comment="Нет на складе"
    )

    assert refused_codes(acting_user=hunter, deal=deal, to_stage=Stage.FOLLOW_UP) == SAMPLE_CODES


def test_only_production_changes_a_sample_request_and_only_step_by_step(hunter, production, deal, product):
    request = sample_request_create(
        acting_user=hunter,
        deal=deal,
        lines=[(product, 1)],
        receiver_name="Мария",
        receiver_phone="+79120001122",
        potential_volume="40 литров в месяц",
    )

    with pytest.raises(PermissionDenied):
        sample_request_set_status(acting_user=hunter, request=request, status=SampleRequest.Status.PREPARED)
    with pytest.raises(DealRuleError, match="нельзя перевести"):
        sample_request_set_status(
            acting_user=production, request=request, status=SampleRequest.Status.HANDED_OVER
        )

    request.refresh_from_db()
    assert request.status == SampleRequest.Status.REQUESTED


def test_move_to_deal_refused_until_client_confirms_purchase(hunter, deal, pipeline):
    deal = pipeline.advance_to(deal, Stage.FOLLOW_UP)
    assert refused_codes(acting_user=hunter, deal=deal, to_stage=Stage.DEAL) == ["client_confirmed"]

    follow_up_record(
        acting_user=hunter,
        deal=deal,
        outcome="Сравнивают цены с нынешним поставщиком",
        objection="Дорого",
        next_contact_on=today() + timedelta(days=2),
    )
    assert refused_codes(acting_user=hunter, deal=deal, to_stage=Stage.DEAL) == ["client_confirmed"]

    follow_up_record(acting_user=hunter, deal=deal, outcome="Готовы заказать", client_confirmed=True)
    assert deal_move(acting_user=hunter, deal=deal, to_stage=Stage.DEAL).stage == Stage.DEAL


def test_follow_up_without_confirmation_needs_the_next_contact_date(hunter, deal):
    with pytest.raises(ValidationError) as caught:
        follow_up_record(acting_user=hunter, deal=deal, outcome="Думают")

    assert "next_contact_on" in caught.value.message_dict
    assert not deal.follow_ups.exists()


def test_move_to_shipment_refused_until_order_requisites_approval_and_invoice(
    hunter, production, accountant, deal, pipeline, product
):
    deal = pipeline.advance_to(deal, Stage.DEAL)
    assert refused_codes(acting_user=hunter, deal=deal, to_stage=Stage.SHIPMENT) == [
        "order_lines",
        "requisites",
        "order_approved",
        "invoice",
    ]

    order = order_set_lines(
        acting_user=hunter, deal=deal, lines=[OrderLineInput(product=product, quantity=Decimal("10"))]
    )
    assert refused_codes(acting_user=hunter, deal=deal, to_stage=Stage.SHIPMENT) == [
        "requisites",
        "order_approved",
        "invoice",
    ]

    client_update_requisites(acting_user=hunter, client=deal.client, requisites=VALID_REQUISITES)
    assert refused_codes(acting_user=hunter, deal=deal, to_stage=Stage.SHIPMENT) == [
        "order_approved",
        "invoice",
    ]

    order_decide(acting_user=production, order=order, approve=True)
    assert refused_codes(acting_user=hunter, deal=deal, to_stage=Stage.SHIPMENT) == ["invoice"]

    document_upload(
        acting_user=accountant, deal=deal, kind=DealDocument.Kind.INVOICE, file=invoice_pdf(), number="125"
    )
    assert deal_move(acting_user=hunter, deal=deal, to_stage=Stage.SHIPMENT).stage == Stage.SHIPMENT


def test_changing_order_lines_after_approval_needs_approval_again(
    hunter, production, accountant, deal, pipeline, product
):
    deal = pipeline.advance_to(deal, Stage.DEAL)
    pipeline.record_deal(deal)
    order_set_lines(
        acting_user=hunter, deal=deal, lines=[OrderLineInput(product=product, quantity=Decimal("20"))]
    )

    # The approved version stays in force; the change waits for production as version 2.
    order = Order.objects.get(deal=deal)
    assert order.production_status == Order.ProductionStatus.APPROVED
    assert order.total == Decimal("5000.00")
    assert order.versions.get(number=2).status == OrderVersion.Status.PENDING
    assert refused_codes(acting_user=hunter, deal=deal, to_stage=Stage.SHIPMENT) == ["order_approved"]


def test_order_declined_by_production_blocks_the_move_and_needs_a_reason(
    hunter, production, deal, pipeline, product
):
    deal = pipeline.advance_to(deal, Stage.DEAL)
    order = order_set_lines(
        acting_user=hunter, deal=deal, lines=[OrderLineInput(product=product, quantity=Decimal("3"))]
    )

    with pytest.raises(ValidationError, match="почему заказ отклонён"):
        order_decide(acting_user=production, order=order, approve=False)
    order_decide(acting_user=production, order=order, approve=False, comment="Нет сырья до конца месяца")

    order.refresh_from_db()
    assert order.production_status == Order.ProductionStatus.DECLINED
    assert order.production_comment == "Нет сырья до конца месяца"
    assert "order_approved" in refused_codes(acting_user=hunter, deal=deal, to_stage=Stage.SHIPMENT)


def test_only_production_decides_on_an_order(hunter, deal, product):
    order = order_set_lines(
        acting_user=hunter, deal=deal, lines=[OrderLineInput(product=product, quantity=1)]
    )

    with pytest.raises(PermissionDenied):
        order_decide(acting_user=hunter, order=order, approve=True)


def test_order_totals_are_computed_from_its_lines(hunter, deal):
    cleaner = make_product(list_price=Decimal("250.00"), cost=Decimal("100.00"))
    gloves = make_product(list_price=Decimal("90.00"), cost=Decimal("40.00"))

    order = order_set_lines(
        acting_user=hunter,
        deal=deal,
        lines=[
            OrderLineInput(product=cleaner, quantity=Decimal("4")),
            OrderLineInput(product=gloves, quantity=Decimal("2.5"), price=Decimal("80.00")),
        ],
    )

    assert order.total == Decimal("1200.00")  # 4 × 250 + 2.5 × 80
    assert order.cost_total == Decimal("500.00")  # 4 × 100 + 2.5 × 40
    assert order.margin == Decimal("700.00")
    assert order.lines.count() == 2


def test_an_order_total_between_two_kopecks_is_rounded_half_up(hunter, deal):
    cleaner = make_product(list_price=Decimal("58.85"), cost=Decimal("30.00"))

    order = order_set_lines(
        acting_user=hunter, deal=deal, lines=[OrderLineInput(product=cleaner, quantity=Decimal("2.1"))]
    )

    assert order.total == Decimal("123.59")  # 2,1 × 58,85 = 123,585: half up, not to the even 123,58


@pytest.mark.parametrize(
    "quantity, price, message",
    [
        ("1e10", "1", "до миллиарда"),  # beyond numeric(12,3)
        ("2000000000", "250", "до миллиарда"),  # the total would fit, the quantity does not
        ("1.0005", "1", "трёх знаков"),
        ("1", "1e12", "до триллиона"),
        ("1", "0.001", "в рублях и копейках"),
        ("999999", "9999999", "Сумма заказа"),  # each fits, the total does not
    ],
)
def test_an_order_the_columns_cannot_hold_is_refused_and_the_old_lines_stay(
    hunter, deal, quantity, price, message
):
    product = make_product(list_price=Decimal("250.00"), cost=Decimal("100.00"))
    order_set_lines(
        acting_user=hunter, deal=deal, lines=[OrderLineInput(product=product, quantity=Decimal("2"))]
    )

    with pytest.raises(ValidationError, match=message):
        order_set_lines(
            acting_user=hunter,
            deal=deal,
            lines=[OrderLineInput(product=product, quantity=Decimal(quantity), price=Decimal(price))],
        )

    deal.order.refresh_from_db()
    assert deal.order.total == Decimal("500.00")
    assert list(deal.order.lines.values_list("quantity", flat=True)) == [Decimal("2.000")]


def test_invoice_is_uploaded_by_the_accountant_from_deal_stage_on(hunter, accountant, deal, pipeline):
    with pytest.raises(DealRuleError, match="«Сделка»"):
        document_upload(
            acting_user=accountant,
            deal=deal,
            kind=DealDocument.Kind.INVOICE,
            file=invoice_pdf(),
            number="125",
        )

    deal = pipeline.advance_to(deal, Stage.DEAL)
    with pytest.raises(PermissionDenied):
        document_upload(
            acting_user=hunter, deal=deal, kind=DealDocument.Kind.INVOICE, file=invoice_pdf(), number="125"
        )

    document = document_upload(
        acting_user=accountant, deal=deal, kind=DealDocument.Kind.INVOICE, file=invoice_pdf(), number="125"
    )
    assert document.original_name == "invoice.pdf"
    assert document.uploaded_by == accountant


def test_upload_whose_content_does_not_match_its_extension_is_refused(accountant, deal, pipeline):
    deal = pipeline.advance_to(deal, Stage.DEAL)
    fake = SimpleUploadedFile("invoice.pdf", b"MZ\x90\x00 not a pdf", content_type="application/pdf")

    with pytest.raises(ValidationError, match="не соответствует"):
        document_upload(acting_user=accountant, deal=deal, kind=DealDocument.Kind.INVOICE, file=fake)

    assert not deal.documents.exists()


def test_move_to_payment_refused_until_client_confirms_receipt(hunter, deal, pipeline):
    deal = pipeline.advance_to(deal, Stage.SHIPMENT)
    assert refused_codes(acting_user=hunter, deal=deal, to_stage=Stage.PAYMENT) == SHIPMENT_CODES

    shipment = {
        "receiver_name": "Мария Соколова",
        "receiver_phone": "8 912 000-33-44",
        "delivery_address": "г. Сургут, ул. Ленина, д. 1",
        "courier_date": today() - timedelta(days=1),
    }
    recorded = shipment_record(acting_user=hunter, deal=deal, **shipment)
    assert recorded.receiver_phone == "+79120003344"
    assert refused_codes(acting_user=hunter, deal=deal, to_stage=Stage.PAYMENT) == ["goods_received"]

    shipment_record(acting_user=hunter, deal=deal, **shipment, received_on=today())
    assert deal_move(acting_user=hunter, deal=deal, to_stage=Stage.PAYMENT).stage == Stage.PAYMENT


def test_move_to_closing_refused_until_payments_cover_the_order_total(hunter, accountant, deal, pipeline):
    deal = pipeline.advance_to(deal, Stage.PAYMENT)
    assert Order.objects.get(deal=deal).total == Decimal("5000.00")
    assert refused_codes(acting_user=hunter, deal=deal, to_stage=Stage.CLOSED) == ["paid_in_full"]

    payment_record(
        acting_user=accountant,
        deal=deal,
        amount=Decimal("2000"),
        received_on=today(),
        bank_document="п/п 101",
    )
    assert refused_codes(acting_user=hunter, deal=deal, to_stage=Stage.CLOSED) == ["paid_in_full"]

    payment_record(
        acting_user=accountant,
        deal=deal,
        amount=Decimal("3000"),
        received_on=today(),
        bank_document="п/п 102",
    )
    assert deal_move(acting_user=hunter, deal=deal, to_stage=Stage.CLOSED).stage == Stage.CLOSED


def test_deal_win_refused_until_feedback_is_recorded(hunter, deal, pipeline):
    deal = pipeline.advance_to(deal, Stage.CLOSED)

    with pytest.raises(StageCriteriaNotMet) as caught:
        deal_win(acting_user=hunter, deal=deal)
    assert [criterion.code for criterion in caught.value.missing] == ["feedback"]
    assert fresh(deal).status == DealStatus.OPEN

    feedback_record(acting_user=hunter, deal=deal, has_quality_claims=False, repeat_order_expected=True)
    won = deal_win(acting_user=hunter, deal=deal)

    assert won.status == DealStatus.WON
    assert fresh(deal).status == DealStatus.WON
    assert fresh(deal).closed_at is not None
    last = deal.stage_changes.last()
    assert (last.kind, last.from_stage, last.to_stage, last.by) == (
        StageChange.Kind.WON,
        Stage.CLOSED,
        Stage.CLOSED,
        hunter,
    )


def test_feedback_with_quality_claims_needs_them_described(hunter, deal):
    with pytest.raises(ValidationError) as caught:
        feedback_record(acting_user=hunter, deal=deal, has_quality_claims=True, repeat_order_expected=False)

    assert "claims_text" in caught.value.message_dict


def test_deal_win_refused_before_the_closing_stage(hunter, deal, pipeline):
    deal = pipeline.advance_to(deal, Stage.PAYMENT)
    pipeline.record_closed(deal)

    with pytest.raises(DealRuleError, match="«Закрытие сделки»"):
        deal_win(acting_user=hunter, deal=deal)
    assert fresh(deal).status == DealStatus.OPEN


def test_next_stage_button_moves_on_and_wins_after_the_last_stage(hunter, deal, pipeline):
    assert deal_advance(acting_user=hunter, deal=deal).stage == Stage.CALL

    deal = pipeline.advance_to(deal, Stage.CLOSED)
    pipeline.record_closed(deal)

    assert deal_advance(acting_user=hunter, deal=deal).status == DealStatus.WON


def test_deal_walks_all_nine_stages_to_won_with_a_change_for_each_step(hunter, deal, pipeline):
    won = pipeline.win(deal)

    assert (won.stage, won.status) == (Stage.CLOSED, DealStatus.WON)
    assert [(change.kind, change.from_stage, change.to_stage) for change in deal.stage_changes.all()] == [
        ("created", "", "lead"),
        ("forward", "lead", "call"),
        ("forward", "call", "proposal"),
        ("forward", "proposal", "samples"),
        ("forward", "samples", "follow_up"),
        ("forward", "follow_up", "deal"),
        ("forward", "deal", "shipment"),
        ("forward", "shipment", "payment"),
        ("forward", "payment", "closed"),
        ("won", "closed", "closed"),
    ]


# --- moving forward and back --------------------------------------------------------------------


def test_moving_more_than_one_stage_forward_is_refused_even_when_criteria_hold(hunter, deal, pipeline):
    pipeline.record_call(deal)  # the call's criteria hold too, yet the deal is still at the first stage

    with pytest.raises(DealRuleError, match="только на следующий этап") as caught:
        deal_move(acting_user=hunter, deal=deal, to_stage=Stage.PROPOSAL)

    assert not isinstance(caught.value, StageCriteriaNotMet)
    assert fresh(deal).stage == Stage.LEAD
    assert deal.stage_changes.count() == 1


def test_moving_to_the_current_stage_is_refused(hunter, deal):
    with pytest.raises(DealRuleError, match="уже на этом этапе"):
        deal_move(acting_user=hunter, deal=deal, to_stage=Stage.LEAD)


@pytest.mark.parametrize("comment", ["", "   "])
def test_moving_back_without_a_comment_is_refused(hunter, deal, pipeline, comment):
    deal = pipeline.advance_to(deal, Stage.PROPOSAL)

    with pytest.raises(DealRuleError, match="напишите комментарий"):
        deal_move(acting_user=hunter, deal=deal, to_stage=Stage.CALL, comment=comment)

    assert fresh(deal).stage == Stage.PROPOSAL
    assert not deal.stage_changes.filter(kind=StageChange.Kind.BACK).exists()


def test_moving_back_any_number_of_stages_records_the_comment(hunter, deal, pipeline):
    deal = pipeline.advance_to(deal, Stage.SAMPLES)

    moved = deal_move(
        acting_user=hunter, deal=deal, to_stage=Stage.CALL, comment="Сменился ЛПР, звоним заново"
    )

    assert moved.stage == Stage.CALL
    back = deal.stage_changes.get(kind=StageChange.Kind.BACK)
    assert (back.from_stage, back.to_stage, back.by, back.comment) == (
        Stage.SAMPLES,
        Stage.CALL,
        hunter,
        "Сменился ЛПР, звоним заново",
    )


def test_every_stage_change_records_deal_from_to_who_and_when(hunter, sales_head):
    created_at = timezone.now() - timedelta(hours=3)
    moved_at = timezone.now() - timedelta(hours=2)
    deal = make_deal(acting_user=hunter, created_at=created_at)

    deal_move(acting_user=hunter, deal=deal, to_stage=Stage.CALL, at=moved_at)
    before_back = timezone.now()
    deal_move(acting_user=sales_head, deal=deal, to_stage=Stage.LEAD, comment="Не тот адрес, уточнить")

    changes = list(StageChange.objects.filter(deal=deal))
    assert [(c.deal_id, c.kind, c.from_stage, c.to_stage, c.by) for c in changes] == [
        (deal.pk, "created", "", "lead", hunter),
        (deal.pk, "forward", "lead", "call", hunter),
        (deal.pk, "back", "call", "lead", sales_head),
    ]
    assert changes[0].at == created_at
    assert changes[1].at == moved_at
    assert before_back <= changes[2].at <= timezone.now()
    assert fresh(deal).stage_entered_at == changes[2].at


def test_moved_deal_enters_its_stage_at_the_move(hunter, deal):
    moved_at = timezone.now() - timedelta(minutes=5)

    deal_move(acting_user=hunter, deal=deal, to_stage=Stage.CALL, at=moved_at)

    assert fresh(deal).stage_entered_at == moved_at


# --- five unsuccessful attempts -----------------------------------------------------------------


def local(days: int, hour: int = 11) -> datetime:
    """A moment ``days`` after 12 days ago, at ``hour`` o'clock in the portal's time zone."""
    start = timezone.localtime() - timedelta(days=12)
    return start.replace(hour=hour, minute=0, second=0, microsecond=0) + timedelta(days=days)


def deal_in_call_stage(hunter: User, since: datetime) -> Deal:
    deal = make_deal(acting_user=hunter, created_at=since - timedelta(hours=1))
    return deal_move(acting_user=hunter, deal=deal, to_stage=Stage.CALL, at=since)


def not_reached(hunter: User, deal: Deal, at: datetime) -> None:
    call_result_record(acting_user=hunter, deal=deal, outcome=CallOutcome.NOT_REACHED, at=at)


def test_fifth_unanswered_call_on_a_fifth_day_loses_the_deal_for_no_contact(hunter):
    deal = deal_in_call_stage(hunter, local(0, hour=9))
    for day in range(1, 5):
        not_reached(hunter, deal, local(day))
        assert fresh(deal).status == DealStatus.OPEN

    not_reached(hunter, deal, local(5))

    deal = fresh(deal)
    assert deal.status == DealStatus.LOST
    assert deal.stage == Stage.CALL
    assert deal.lost_reason.code == LostReason.NO_CONTACT == "no_contact"
    assert deal.lost_note
    assert deal.closed_at == local(5)
    lost = deal.stage_changes.get(kind=StageChange.Kind.LOST)
    assert (lost.from_stage, lost.to_stage, lost.by, lost.at) == (Stage.CALL, Stage.CALL, None, local(5))
    assert "5" in lost.comment


def test_five_unanswered_calls_on_four_days_keep_the_deal_open(hunter):
    deal = deal_in_call_stage(hunter, local(0, hour=9))
    for at in (local(1), local(2), local(2, hour=16), local(3), local(4)):
        not_reached(hunter, deal, at)

    assert fresh(deal).status == DealStatus.OPEN
    assert deal.call_results.count() == 5


def test_attempts_are_counted_by_days_in_the_portals_time_zone(hunter):
    # 03:00 and 20:00 in Yekaterinburg (UTC+5) are one local day but two UTC dates.
    deal = deal_in_call_stage(hunter, local(0, hour=1))
    early, late = local(1, hour=3), local(1, hour=20)
    assert early.astimezone(UTC).date() != late.astimezone(UTC).date()
    for at in (early, late, local(2), local(3), local(4)):
        not_reached(hunter, deal, at)
    assert fresh(deal).status == DealStatus.OPEN

    not_reached(hunter, deal, local(5))
    assert fresh(deal).status == DealStatus.LOST


def test_unanswered_calls_before_the_deal_reached_call_stage_do_not_count(hunter):
    deal = make_deal(acting_user=hunter, created_at=local(0, hour=8))
    for day in range(0, 4):
        not_reached(hunter, deal, local(day))
    deal_move(acting_user=hunter, deal=deal, to_stage=Stage.CALL, at=local(4, hour=9))
    for day in range(4, 8):
        not_reached(hunter, deal, local(day))
    assert fresh(deal).status == DealStatus.OPEN

    not_reached(hunter, deal, local(8))
    assert fresh(deal).status == DealStatus.LOST


def test_unanswered_calls_after_the_call_stage_do_not_lose_the_deal(hunter, pipeline):
    deal = deal_in_call_stage(hunter, local(0, hour=9))
    for day in range(1, 5):
        not_reached(hunter, deal, local(day))
    call_result_record(
        acting_user=hunter,
        deal=deal,
        outcome=CallOutcome.AGREED_PROPOSAL,
        call_description="Наконец дозвонился",
        client_description="Салон у метро",
        decision_maker_email="dm@lotos.ru",
        at=local(5),
    )
    deal_move(acting_user=hunter, deal=deal, to_stage=Stage.PROPOSAL, at=local(5, hour=12))

    for day in range(6, 10):
        not_reached(hunter, deal, local(day))

    assert fresh(deal).status == DealStatus.OPEN


def test_calls_with_other_outcomes_are_not_unsuccessful_attempts(hunter):
    deal = deal_in_call_stage(hunter, local(0, hour=9))
    for day in range(1, 5):
        not_reached(hunter, deal, local(day))
    call_result_record(acting_user=hunter, deal=deal, outcome=CallOutcome.CALL_BACK, at=local(5))
    call_result_record(acting_user=hunter, deal=deal, outcome=CallOutcome.REFUSED, at=local(6))

    assert fresh(deal).status == DealStatus.OPEN


def test_owner_restores_a_deal_lost_for_no_contact_at_the_same_stage(hunter):
    deal = deal_in_call_stage(hunter, local(0, hour=9))
    for day in range(1, 6):
        not_reached(hunter, deal, local(day))
    assert fresh(deal).status == DealStatus.LOST

    deal_restore(acting_user=hunter, deal=deal, comment="Клиент перезвонил сам")

    deal = fresh(deal)
    assert (deal.status, deal.stage, deal.lost_reason, deal.lost_note, deal.closed_at) == (
        DealStatus.OPEN,
        Stage.CALL,
        None,
        "",
        None,
    )
    restored = deal.stage_changes.get(kind=StageChange.Kind.RESTORED)
    assert (restored.to_stage, restored.by, restored.comment) == (Stage.CALL, hunter, "Клиент перезвонил сам")

    not_reached(hunter, deal, timezone.now())
    assert fresh(deal).status == DealStatus.OPEN


# --- refusals -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "stage",
    [Stage.LEAD, Stage.CALL, Stage.PROPOSAL, Stage.SAMPLES, Stage.FOLLOW_UP, Stage.DEAL, Stage.SHIPMENT],
)
def test_deal_can_be_lost_at_stages_one_to_seven(hunter, deal, pipeline, competitor, stage):
    deal = pipeline.advance_to(deal, stage)

    deal_mark_lost(acting_user=hunter, deal=deal, reason=competitor)

    deal = fresh(deal)
    assert (deal.status, deal.stage, deal.lost_reason) == (DealStatus.LOST, stage, competitor)
    assert deal.closed_at is not None
    lost = deal.stage_changes.get(kind=StageChange.Kind.LOST)
    assert (lost.from_stage, lost.to_stage, lost.by) == (stage, stage, hunter)


@pytest.mark.parametrize("stage", [Stage.PAYMENT, Stage.CLOSED])
def test_deal_cannot_be_lost_at_payment_or_closing(hunter, deal, pipeline, competitor, stage):
    deal = pipeline.advance_to(deal, stage)

    with pytest.raises(DealRuleError, match="только на этапах 1–7"):
        deal_mark_lost(acting_user=hunter, deal=deal, reason=competitor)

    assert fresh(deal).status == DealStatus.OPEN


def test_reason_other_requires_a_note(hunter, deal, other_reason):
    assert other_reason.name == "Другое"

    for note in ("", "  "):
        with pytest.raises(DealRuleError, match="«Другое»"):
            deal_mark_lost(acting_user=hunter, deal=deal, reason=other_reason, note=note)
    assert fresh(deal).status == DealStatus.OPEN

    deal_mark_lost(acting_user=hunter, deal=deal, reason=other_reason, note=" Закрылись на ремонт ")

    deal = fresh(deal)
    assert (deal.status, deal.lost_note) == (DealStatus.LOST, "Закрылись на ремонт")


@pytest.mark.parametrize("to_stage", [Stage.LEAD, Stage.PROPOSAL])
def test_lost_deal_cannot_be_moved(hunter, deal, pipeline, competitor, to_stage):
    deal = pipeline.advance_to(deal, Stage.CALL)
    pipeline.record_call(deal)
    deal_mark_lost(acting_user=hunter, deal=deal, reason=competitor)

    with pytest.raises(DealRuleError, match="Сделка закрыта"):
        deal_move(acting_user=hunter, deal=deal, to_stage=to_stage, comment="Вернуть")

    assert fresh(deal).stage == Stage.CALL


def test_lost_deal_cannot_be_lost_again_or_get_calls(hunter, deal, competitor, other_reason):
    deal_mark_lost(acting_user=hunter, deal=deal, reason=competitor)

    with pytest.raises(DealRuleError, match="уже закрыта"):
        deal_mark_lost(acting_user=hunter, deal=deal, reason=other_reason, note="Другая причина")
    with pytest.raises(DealRuleError, match="закрыта"):
        call_result_record(acting_user=hunter, deal=deal, outcome=CallOutcome.NOT_REACHED)

    assert fresh(deal).lost_reason == competitor


def test_only_a_lost_deal_can_be_restored(hunter, deal):
    with pytest.raises(DealRuleError, match="только сделку с отказом"):
        deal_restore(acting_user=hunter, deal=deal)


# --- duplicate clients --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("existing_phone", "new_phone"),
    [
        ("+7 (912) 345-67-89", "8 912 345-67-89"),
        ("8 912 345-67-89", "9123456789"),
        ("9123456789", "+7 (912) 345-67-89"),
    ],
)
def test_client_with_a_phone_already_in_the_base_is_a_duplicate(
    hunter, other_hunter, existing_phone, new_phone
):
    existing = make_client(acting_user=hunter, name="Салон «Лотос»", phones=[existing_phone])

    with pytest.raises(DuplicateClient) as caught:
        client_create(
            acting_user=other_hunter, name="Лотос, салон красоты", phones=["+79501112233", new_phone]
        )

    assert caught.value.existing == existing
    message = caught.value.messages[0]
    assert "Салон «Лотос»" in message
    assert "+79123456789" in message
    assert "Иван Иванов" not in message
    assert "Хантер" not in message
    assert list(Client.objects.all()) == [existing]


def test_duplicate_message_names_the_owner_to_the_sales_head(hunter, sales_head):
    make_client(acting_user=hunter, name="Салон «Лотос»", phones=["+7 (912) 345-67-89"])

    with pytest.raises(DuplicateClient) as caught:
        client_create(acting_user=sales_head, owner=hunter, name="Лотос", phones=["8 912 345-67-89"])

    assert "Салон «Лотос»" in caught.value.messages[0]
    assert "Хантер: Иван Иванов." in caught.value.messages[0]


def test_duplicate_message_hides_the_owner_from_the_owner_too(hunter):
    make_client(acting_user=hunter, name="Салон «Лотос»", phones=["+7 (912) 345-67-89"])

    with pytest.raises(DuplicateClient) as caught:
        client_create(acting_user=hunter, name="Лотос", phones=["9123456789"])

    assert "Иван Иванов" not in caught.value.messages[0]


def test_adding_a_phone_of_another_client_to_a_card_is_a_duplicate(hunter, other_hunter):
    existing = make_client(acting_user=hunter, name="Салон «Лотос»", phones=["+7 (912) 345-67-89"])
    other = make_client(acting_user=other_hunter, name="Студия «Ирис»")

    with pytest.raises(DuplicateClient) as caught:
        client_update(acting_user=other_hunter, client=other, phones=["8 912 345-67-89"])

    assert caught.value.existing == existing
    assert "Салон «Лотос»" in caught.value.messages[0]


def test_phone_written_twice_on_one_card_is_kept_once(hunter):
    client = make_client(acting_user=hunter, phones=["8 912 345-67-89", "+7 912 345 67 89"])

    assert list(client.phones.values_list("number", flat=True)) == ["+79123456789"]


def test_same_inn_and_kpp_as_another_client_is_a_duplicate(hunter, other_hunter):
    existing = make_client(acting_user=hunter, name="Салон «Лотос»")
    client_update_requisites(acting_user=hunter, client=existing, requisites=VALID_REQUISITES)
    newcomer = make_client(acting_user=other_hunter, name="Лотос на Мира")

    with pytest.raises(DuplicateClient) as caught:
        client_update_requisites(acting_user=other_hunter, client=newcomer, requisites=VALID_REQUISITES)

    assert caught.value.existing == existing
    assert "ИНН и КПП" in caught.value.messages[0]
    assert "Салон «Лотос»" in caught.value.messages[0]
    newcomer.refresh_from_db()
    assert newcomer.inn == ""


def test_inn_and_kpp_pasted_with_spaces_are_still_a_duplicate(hunter, other_hunter):
    existing = make_client(acting_user=hunter, name="Салон «Лотос»")
    client_update_requisites(acting_user=hunter, client=existing, requisites=VALID_REQUISITES)
    pasted = replace(VALID_REQUISITES, inn="7707 083 893", kpp="7736-01-001")

    with pytest.raises(DuplicateClient):
        client_update_requisites(
            acting_user=other_hunter, client=make_client(acting_user=other_hunter), requisites=pasted
        )


def test_updating_own_requisites_again_is_not_a_duplicate(hunter, client_card):
    client_update_requisites(acting_user=hunter, client=client_card, requisites=VALID_REQUISITES)

    client = client_update_requisites(acting_user=hunter, client=client_card, requisites=VALID_REQUISITES)

    assert (client.inn, client.kpp) == ("7707083893", "773601001")


def test_same_inn_with_another_kpp_is_accepted_as_a_branch(hunter, other_hunter):
    head_office = make_client(acting_user=hunter, name="ООО «Лотос», головной офис")
    client_update_requisites(acting_user=hunter, client=head_office, requisites=VALID_REQUISITES)
    branch = make_client(acting_user=other_hunter, name="ООО «Лотос», филиал в Сургуте")

    branch = client_update_requisites(acting_user=other_hunter, client=branch, requisites=branch_requisites())

    assert branch.inn == VALID_REQUISITES.inn == Client.objects.get(pk=head_office.pk).inn
    assert branch.kpp != "773601001"
    assert branch.missing_requisites() == []


def test_entrepreneur_inn_with_a_kpp_is_refused(hunter, client_card):
    with pytest.raises(ValidationError) as caught:
        client_update_requisites(
            acting_user=hunter,
            client=client_card,
            requisites=replace(ENTREPRENEUR_REQUISITES, kpp="773601001"),
        )

    assert caught.value.message_dict["kpp"] == ["У индивидуального предпринимателя нет КПП."]
    client_card.refresh_from_db()
    assert client_card.inn == ""


def test_entrepreneur_requisites_are_complete_without_a_kpp(hunter, client_card):
    client = client_update_requisites(
        acting_user=hunter, client=client_card, requisites=ENTREPRENEUR_REQUISITES
    )

    assert (client.inn, client.kpp) == ("500100732259", "")
    assert client.missing_requisites() == []


def test_requisites_with_a_wrong_inn_checksum_are_refused(hunter, client_card):
    with pytest.raises(ValidationError) as caught:
        client_update_requisites(
            acting_user=hunter, client=client_card, requisites=replace(VALID_REQUISITES, inn="7707083894")
        )

    assert "inn" in caught.value.message_dict


# --- the new-client flag and repeat orders ------------------------------------------------------


def at_deal_stage(*deals: Deal) -> None:
    """Payments are taken from stage 6 on, up to the order's total. These tests are about money, not the
    stage walk (covered above), so the deals get an order of 100 000 ₽ and are put at that stage
    directly."""
    product = make_product(list_price=Decimal("1000.00"), cost=Decimal("600.00"))
    for deal in deals:
        if not Order.objects.filter(deal=deal).exists():
            order_set_lines(
                acting_user=deal.owner,
                deal=deal,
                lines=[OrderLineInput(product=product, quantity=Decimal(100))],
            )
    Deal.objects.filter(pk__in=[deal.pk for deal in deals]).update(stage=Stage.DEAL)
    for deal in deals:
        deal.stage = Stage.DEAL


def pay(accountant: User, deal: Deal, amount: str = "1000") -> Payment:
    at_deal_stage(deal)
    return payment_record(acting_user=accountant, deal=deal, amount=Decimal(amount), received_on=today())


def test_first_deal_of_a_client_is_for_a_new_client(deal):
    assert deal.is_new_client is True


def test_deal_created_after_a_payment_is_for_an_existing_client(hunter, accountant, client_card, deal):
    pay(accountant, deal)

    repeat = make_deal(acting_user=hunter, client=client_card)

    assert repeat.is_new_client is False
    assert fresh(deal).is_new_client is True


def test_two_deals_opened_before_the_first_payment_are_both_for_a_new_client(hunter, accountant, client_card):
    first = make_deal(acting_user=hunter, client=client_card)
    second = make_deal(acting_user=hunter, client=client_card)

    pay(accountant, first)

    assert fresh(first).is_new_client is True
    assert fresh(second).is_new_client is True
    assert make_deal(acting_user=hunter, client=client_card).is_new_client is False


def test_payment_from_another_client_does_not_make_this_client_existing(hunter, accountant, client_card):
    pay(accountant, make_deal(acting_user=hunter))

    assert make_deal(acting_user=hunter, client=client_card).is_new_client is True


def test_repeat_order_of_a_paying_client_may_start_at_deal_stage(hunter, accountant, client_card, deal):
    pay(accountant, deal)

    repeat = deal_create(acting_user=hunter, client=client_card, start_stage=Stage.DEAL)

    assert (repeat.stage, repeat.is_new_client, repeat.status) == (Stage.DEAL, False, DealStatus.OPEN)
    created = repeat.stage_changes.get()
    assert (created.kind, created.to_stage, created.by) == (StageChange.Kind.CREATED, Stage.DEAL, hunter)


def test_new_client_cannot_start_a_deal_at_deal_stage(hunter, client_card):
    with pytest.raises(DealRuleError, match="повторный заказ"):
        deal_create(acting_user=hunter, client=client_card, start_stage=Stage.DEAL)

    assert not Deal.objects.exists()


@pytest.mark.parametrize("start_stage", [Stage.CALL, Stage.FOLLOW_UP, Stage.SHIPMENT, Stage.CLOSED])
def test_no_deal_starts_at_another_stage_even_for_a_paying_client(
    hunter, accountant, client_card, deal, start_stage
):
    pay(accountant, deal)

    with pytest.raises(DealRuleError):
        deal_create(acting_user=hunter, client=client_card, start_stage=start_stage)

    assert Deal.objects.count() == 1


# --- transfers ----------------------------------------------------------------------------------


def test_sales_head_transfers_a_client_with_its_open_deals_only(
    hunter, other_hunter, sales_head, client_card, pipeline, competitor
):
    lead = make_deal(acting_user=hunter, client=client_card)
    in_call = pipeline.advance_to(make_deal(acting_user=hunter, client=client_card), Stage.CALL)
    lost = make_deal(acting_user=hunter, client=client_card)
    deal_mark_lost(acting_user=hunter, deal=lost, reason=competitor)
    won = pipeline.win(make_deal(acting_user=hunter, client=client_card))
    return_on = today() + timedelta(days=14)

    transfer = client_transfer(
        acting_user=sales_head,
        client=client_card,
        to_owner=other_hunter,
        return_on=return_on,
        reason="Отпуск",
    )

    client_card.refresh_from_db()
    assert client_card.owner == other_hunter
    assert fresh(lead).owner == other_hunter
    assert fresh(in_call).owner == other_hunter
    assert fresh(lost).owner == hunter
    assert fresh(won).owner == hunter
    assert list(Transfer.objects.all()) == [transfer]
    assert (transfer.client, transfer.deal, transfer.from_owner, transfer.to_owner, transfer.by) == (
        client_card,
        None,
        hunter,
        other_hunter,
        sales_head,
    )
    assert (transfer.return_on, transfer.reason) == (return_on, "Отпуск")


def test_transferred_deal_is_worked_by_the_new_hunter_only(
    hunter, other_hunter, sales_head, client_card, deal
):
    client_transfer(acting_user=sales_head, client=client_card, to_owner=other_hunter)

    with pytest.raises(PermissionDenied):
        deal_move(acting_user=hunter, deal=fresh(deal), to_stage=Stage.CALL)
    assert deal_move(acting_user=other_hunter, deal=fresh(deal), to_stage=Stage.CALL).stage == Stage.CALL


def test_hunter_may_not_transfer_a_client(hunter, other_hunter, client_card):
    with pytest.raises(PermissionDenied):
        client_transfer(acting_user=hunter, client=client_card, to_owner=other_hunter)

    client_card.refresh_from_db()
    assert client_card.owner == hunter
    assert not Transfer.objects.exists()


@pytest.mark.parametrize("target", ["sales_head", "accountant", "production"])
def test_client_may_be_transferred_to_a_hunter_only(request, sales_head, client_card, deal, target):
    to_owner = request.getfixturevalue(target)

    with pytest.raises(ValidationError, match="только работающему хантеру"):
        client_transfer(acting_user=sales_head, client=client_card, to_owner=to_owner)

    assert fresh(deal).owner == client_card.owner
    assert not Transfer.objects.exists()


def test_client_may_not_be_transferred_to_a_deactivated_hunter(hunter, other_hunter, sales_head, client_card):
    other_hunter.is_active = False
    other_hunter.save(update_fields=["is_active"])

    with pytest.raises(ValidationError, match="только работающему хантеру"):
        client_transfer(acting_user=sales_head, client=client_card, to_owner=other_hunter)


def test_client_may_not_be_transferred_to_its_own_hunter(hunter, sales_head, client_card):
    with pytest.raises(ValidationError, match="уже у этого хантера"):
        client_transfer(acting_user=sales_head, client=client_card, to_owner=hunter)


# --- who sees and works what --------------------------------------------------------------------


@pytest.fixture
def book(hunter, other_hunter, accountant):
    """Hunter A: a client with a paid deal and two repeat orders, all three at stage 6, and a client
    without deals; hunter B: one client with a deal at stage 1."""
    a_client = make_client(acting_user=hunter, name="А: Лотос")
    a_paid = make_deal(acting_user=hunter, client=a_client)
    pay(accountant, a_paid)
    a_repeat_1 = deal_create(acting_user=hunter, client=a_client, start_stage=Stage.DEAL)
    a_repeat_2 = deal_create(acting_user=hunter, client=a_client, start_stage=Stage.DEAL)
    a_idle = make_client(acting_user=hunter, name="А: без сделок")
    b_client = make_client(acting_user=other_hunter, name="Б: Ирис")
    b_deal = make_deal(acting_user=other_hunter, client=b_client)
    return {
        "a_client": a_client,
        "a_paid": a_paid,
        "a_repeat_1": a_repeat_1,
        "a_repeat_2": a_repeat_2,
        "a_idle": a_idle,
        "b_client": b_client,
        "b_deal": b_deal,
    }


def test_hunter_sees_own_clients_and_deals_only(book, hunter, other_hunter):
    assert Client.objects.visible_to(hunter).count() == 2
    assert set(Client.objects.visible_to(hunter)) == {book["a_client"], book["a_idle"]}
    assert set(Deal.objects.visible_to(hunter)) == {book["a_paid"], book["a_repeat_1"], book["a_repeat_2"]}
    assert set(Client.objects.visible_to(other_hunter)) == {book["b_client"]}
    assert set(Deal.objects.visible_to(other_hunter)) == {book["b_deal"]}


def test_sales_head_sees_every_client_and_deal(book, sales_head):
    assert set(Client.objects.visible_to(sales_head)) == {book["a_client"], book["a_idle"], book["b_client"]}
    assert Deal.objects.visible_to(sales_head).count() == 4


def test_accountant_sees_deals_from_deal_stage_on_and_their_clients_once(book, accountant):
    assert set(Deal.objects.visible_to(accountant)) == {
        book["a_paid"],
        book["a_repeat_1"],
        book["a_repeat_2"],
    }
    assert list(Client.objects.visible_to(accountant)) == [book["a_client"]]


@pytest.mark.parametrize("who", ["production", "anonymous", "deactivated hunter", "no role"])
def test_others_see_no_clients_and_no_deals(book, production, hunter, who):
    if who == "production":
        user = production
    elif who == "anonymous":
        user = AnonymousUser()
    elif who == "deactivated hunter":
        user = User.objects.get(pk=hunter.pk)
        user.is_active = False
        user.save(update_fields=["is_active"])
    else:
        user = UserFactory(role="")

    assert not Client.objects.visible_to(user).exists()
    assert not Deal.objects.visible_to(user).exists()


def _act_on(action: str, user: User, deal: Deal, product) -> None:
    actions = {
        "deal_move": lambda: deal_move(acting_user=user, deal=deal, to_stage=Stage.CALL),
        "deal_mark_lost": lambda: deal_mark_lost(
            acting_user=user, deal=deal, reason=LostReason.objects.get(code="price")
        ),
        "call_result_record": lambda: call_result_record(
            acting_user=user, deal=deal, outcome=CallOutcome.NOT_REACHED
        ),
        "follow_up_record": lambda: follow_up_record(
            acting_user=user, deal=deal, outcome="Договорились", client_confirmed=True
        ),
        "order_set_lines": lambda: order_set_lines(
            acting_user=user, deal=deal, lines=[OrderLineInput(product=product, quantity=Decimal("1"))]
        ),
        "client_update_requisites": lambda: client_update_requisites(
            acting_user=user, client=deal.client, requisites=VALID_REQUISITES
        ),
        "deal_create": lambda: deal_create(acting_user=user, client=deal.client),
    }
    actions[action]()


ACTIONS = [
    "deal_move",
    "deal_mark_lost",
    "call_result_record",
    "follow_up_record",
    "order_set_lines",
    "client_update_requisites",
    "deal_create",
]


@pytest.mark.parametrize("action", ACTIONS)
def test_hunter_cannot_act_on_another_hunters_deal(other_hunter, deal, product, action):
    with pytest.raises(PermissionDenied):
        _act_on(action, other_hunter, deal, product)

    deal = fresh(deal)
    assert (deal.stage, deal.status) == (Stage.LEAD, DealStatus.OPEN)
    assert Deal.objects.count() == 1
    assert not deal.call_results.exists()


@pytest.mark.parametrize("who", ["accountant", "production"])
@pytest.mark.parametrize("action", ["deal_move", "call_result_record", "deal_create"])
def test_accountant_and_production_do_not_work_the_pipeline(request, deal, product, who, action):
    with pytest.raises(PermissionDenied):
        _act_on(action, request.getfixturevalue(who), deal, product)


def test_sales_head_may_work_any_hunters_deal(sales_head, deal):
    assert deal_move(acting_user=sales_head, deal=deal, to_stage=Stage.CALL).stage == Stage.CALL


# --- payments -----------------------------------------------------------------------------------


def test_same_bank_document_twice_is_one_payment(accountant, deal):
    at_deal_stage(deal)
    first = payment_record(
        acting_user=accountant,
        deal=deal,
        amount=Decimal("1500"),
        received_on=today(),
        bank_document="п/п 345",
    )
    with pytest.raises(DuplicatePayment) as again:
        payment_record(
            acting_user=accountant,
            deal=deal,
            amount=Decimal("1500"),
            received_on=today(),
            bank_document=" п/п 345 ",
        )

    assert again.value.existing.pk == first.pk
    assert "уже внесён" in again.value.message_dict["bank_document"][0]
    assert deal.payments.count() == 1
    assert deal_paid_total(deal) == Decimal("1500.00")


def test_the_same_bank_document_with_another_amount_is_refused_naming_what_was_recorded(accountant, deal):
    at_deal_stage(deal)
    payment_record(
        acting_user=accountant, deal=deal, amount=Decimal("1500"), received_on=today(), bank_document="17"
    )
    with pytest.raises(DuplicatePayment) as refused:
        payment_record(
            acting_user=accountant, deal=deal, amount=Decimal("1600"), received_on=today(), bank_document="17"
        )

    message = refused.value.message_dict["bank_document"][0]
    assert "другая сумма" in message and "1\xa0500,00" in message
    assert deal_paid_total(deal) == Decimal("1500.00")


def test_a_form_submitted_twice_records_one_payment_and_one_refund(accountant, deal):
    at_deal_stage(deal)
    first = payment_record(
        acting_user=accountant, deal=deal, amount=Decimal("900"), received_on=today(), idempotency_key="k1"
    )
    again = payment_record(
        acting_user=accountant, deal=deal, amount=Decimal("900"), received_on=today(), idempotency_key="k1"
    )
    refund = payment_refund(
        acting_user=accountant, deal=deal, amount=Decimal("100"), recorded_on=today(), idempotency_key="k2"
    )
    refund_again = payment_refund(
        acting_user=accountant, deal=deal, amount=Decimal("100"), recorded_on=today(), idempotency_key="k2"
    )

    assert (again.pk, refund_again.pk) == (first.pk, refund.pk)
    assert deal_paid_total(deal) == Decimal("800.00")


def test_a_payment_beyond_what_the_order_still_lacks_is_refused_with_the_figures(accountant, deal):
    at_deal_stage(deal)
    pay(accountant, deal, "99000")
    with pytest.raises(ValidationError) as refused:
        pay(accountant, deal, "1000.01")

    message = refused.value.message_dict["amount"][0]
    assert "1\xa0000,00" in message and "100\xa0000,00" in message and "99\xa0000,00" in message
    pay(accountant, deal, "1000")
    assert deal_paid_total(deal) == Decimal("100000.00")


def test_same_bank_document_on_another_deal_is_another_payment(hunter, accountant, deal):
    other = make_deal(acting_user=hunter)
    at_deal_stage(deal, other)

    first = payment_record(
        acting_user=accountant, deal=deal, amount=Decimal("100"), received_on=today(), bank_document="п/п 1"
    )
    second = payment_record(
        acting_user=accountant, deal=other, amount=Decimal("100"), received_on=today(), bank_document="п/п 1"
    )

    assert first.pk != second.pk


def test_payments_without_a_bank_document_are_each_recorded(accountant, deal):
    pay(accountant, deal, "100")
    pay(accountant, deal, "100")

    assert deal_paid_total(deal) == Decimal("200.00")


def test_payment_is_recorded_by_the_accountant_only_and_must_be_positive(hunter, accountant, deal):
    with pytest.raises(PermissionDenied):
        pay(hunter, deal)
    for amount in ("0", "-5"):
        with pytest.raises(ValidationError):
            pay(accountant, deal, amount)

    assert not deal.payments.exists()


@pytest.mark.parametrize(
    "amount, field, message",
    [
        ("0.001", "amount", "двух знаков"),  # would round to 0,00 ₽
        ("10.005", "amount", "двух знаков"),  # a kopeck would be invented or lost
        ("1e12", "amount", "до триллиона"),  # beyond numeric(14,2)
        ("NaN", "amount", "больше нуля"),
    ],
)
def test_a_payment_the_books_cannot_hold_exactly_is_refused_in_russian(
    accountant, deal, amount, field, message
):
    at_deal_stage(deal)
    with pytest.raises(ValidationError) as refused:
        payment_record(acting_user=accountant, deal=deal, amount=Decimal(amount), received_on=today())

    assert message in refused.value.message_dict[field][0]
    assert not deal.payments.exists()


def test_a_bank_document_longer_than_the_books_keep_is_refused(accountant, deal):
    at_deal_stage(deal)
    with pytest.raises(ValidationError) as refused:
        payment_record(
            acting_user=accountant,
            deal=deal,
            amount=Decimal("100"),
            received_on=today(),
            bank_document="п/п " + "1" * 60,
        )

    assert "не длиннее 50" in refused.value.message_dict["bank_document"][0]
    assert not deal.payments.exists()


def test_a_refund_in_fractions_of_a_kopeck_is_refused(accountant, deal):
    pay(accountant, deal, "100")
    with pytest.raises(ValidationError, match="двух знаков"):
        payment_refund(acting_user=accountant, deal=deal, amount=Decimal("0.005"), recorded_on=today())

    assert deal_paid_total(deal) == Decimal("100.00")


# --- the board ----------------------------------------------------------------------------------


@pytest.fixture
def board(hunter, other_hunter, accountant, competitor):
    """Hunter A: a paid deal at stage 6 without an order, one open deal at stage 2, two repeat orders at
    stage 6 (5 000 and 3 000 ₽), one lost deal; hunter B: one open deal at stage 1."""
    client = make_client(acting_user=hunter, name="Салон «Лотос»")
    paid = make_deal(acting_user=hunter, client=client)
    pay(accountant, paid)
    in_call = deal_move(acting_user=hunter, deal=make_deal(acting_user=hunter), to_stage=Stage.CALL)
    product = make_product(list_price=Decimal("500.00"))
    repeats = []
    for quantity, price in ((Decimal("10"), None), (Decimal("3"), Decimal("1000.00"))):
        repeat = deal_create(acting_user=hunter, client=client, start_stage=Stage.DEAL)
        order_set_lines(
            acting_user=hunter,
            deal=repeat,
            lines=[OrderLineInput(product=product, quantity=quantity, price=price)],
            confirmed_prices=[(product.pk, price)] if price else [],
        )
        repeats.append(repeat)
    lost = make_deal(acting_user=hunter)
    deal_mark_lost(acting_user=hunter, deal=lost, reason=competitor)
    theirs = make_deal(acting_user=other_hunter)
    return {"paid": paid, "in_call": in_call, "repeats": repeats, "lost": lost, "theirs": theirs}


def summary(columns) -> dict[str, tuple[int, Decimal]]:
    return {column.definition.stage.value: (column.count, column.total) for column in columns}


def test_board_shows_nine_columns_with_counts_and_sums_of_own_open_deals(board, hunter):
    columns = board_columns(viewer=hunter)

    assert [column.definition.number for column in columns] == list(range(1, 10))
    zero = Decimal("0")
    assert summary(columns) == {
        "lead": (0, zero),
        "call": (1, zero),
        "proposal": (0, zero),
        "samples": (0, zero),
        "follow_up": (0, zero),
        "deal": (3, Decimal("108000.00")),
        "shipment": (0, zero),
        "payment": (0, zero),
        "closed": (0, zero),
    }
    by_stage = {column.definition.stage.value: column for column in columns}
    assert by_stage["lead"].deals == []
    assert {deal.pk: deal.amount for deal in by_stage["deal"].deals} == {
        board["paid"].pk: Decimal("100000.00"),
        board["repeats"][0].pk: Decimal("5000.00"),
        board["repeats"][1].pk: Decimal("3000.00"),
    }


def test_sales_head_board_counts_every_hunter_and_filters_by_owner(board, sales_head, hunter, other_hunter):
    assert summary(board_columns(viewer=sales_head))["lead"][0] == 1
    assert summary(board_columns(viewer=sales_head))["deal"][0] == 3
    assert summary(board_columns(viewer=sales_head, filters=BoardFilters(owner=other_hunter)))["lead"][0] == 1
    assert summary(board_columns(viewer=sales_head, filters=BoardFilters(owner=hunter))) == summary(
        board_columns(viewer=hunter)
    )


def test_accountant_board_shows_deals_from_deal_stage_on(board, accountant):
    counts = {stage: count for stage, (count, _total) in summary(board_columns(viewer=accountant)).items()}

    assert counts == {stage.value: (3 if stage == Stage.DEAL else 0) for stage in Stage}


def test_production_board_is_empty(board, production):
    assert all(column.count == 0 and column.deals == [] for column in board_columns(viewer=production))


def board_query_count(viewer: User) -> int:
    with CaptureQueriesContext(connection) as queries:
        for column in board_columns(viewer=viewer):
            for deal in column.deals:
                (deal.client.name, str(deal.owner), deal.amount, deal.get_stage_display())
    return len(queries)


def add_open_deals(hunter: User, accountant: User, count: int) -> None:
    client = make_client(acting_user=hunter)
    pay(accountant, make_deal(acting_user=hunter, client=client))
    product = make_product()
    for index in range(count - 1):
        if index % 2:
            repeat = deal_create(acting_user=hunter, client=client, start_stage=Stage.DEAL)
            order_set_lines(
                acting_user=hunter,
                deal=repeat,
                lines=[OrderLineInput(product=product, quantity=Decimal(index))],
            )
        else:
            make_deal(acting_user=hunter, client=client)


def test_board_runs_the_same_few_queries_for_3_or_60_open_deals(hunter, accountant):
    add_open_deals(hunter, accountant, 3)
    board_query_count(hunter)  # the viewer's permissions are loaded once per user object
    assert sum(column.count for column in board_columns(viewer=hunter)) == 3
    few = board_query_count(hunter)

    add_open_deals(hunter, accountant, 57)
    assert sum(column.count for column in board_columns(viewer=hunter)) == 60
    many = board_query_count(hunter)

    assert many == few
    assert few <= 3


def test_board_for_a_freshly_loaded_viewer_stays_within_a_fixed_number_of_queries(
    hunter, accountant, django_assert_max_num_queries
):
    add_open_deals(hunter, accountant, 60)
    viewer = User.objects.get(pk=hunter.pk)

    # Two to load the viewer's permissions, one for the counts and sums, one for the cards, one for the
    # phones the cards call.
    with django_assert_max_num_queries(5):
        columns = board_columns(viewer=viewer)
        for column in columns:
            for deal in column.deals:
                (deal.client.name, str(deal.owner), deal.amount, list(deal.client.phones.all()))


def test_payment_on_a_deal_before_the_deal_stage_is_refused(accountant, deal):
    with pytest.raises(DealRuleError, match="с этапа «Сделка»"):
        payment_record(acting_user=accountant, deal=deal, amount=Decimal("100"), received_on=today())
    assert not deal.payments.exists()


@pytest.mark.parametrize("action", ["follow_up", "shipment", "feedback"])
def test_a_lost_deal_takes_no_more_stage_records(hunter, deal, competitor, action):
    deal_mark_lost(acting_user=hunter, deal=deal, reason=competitor)
    record = {
        "follow_up": lambda: follow_up_record(
            acting_user=hunter, deal=deal, outcome="…", client_confirmed=True
        ),
        "shipment": lambda: shipment_record(
            acting_user=hunter,
            deal=deal,
            receiver_name="Мария",
            receiver_phone="+79120001122",
            delivery_address="Сургут",
            courier_date=today(),
        ),
        "feedback": lambda: feedback_record(
            acting_user=hunter, deal=deal, has_quality_claims=False, repeat_order_expected=True
        ),
    }[action]
    with pytest.raises(DealRuleError, match="Сделка закрыта"):
        record()


def test_a_later_refusal_on_the_phone_undoes_an_earlier_agreement(pipeline, deal):
    deal = pipeline.advance_to(deal, Stage.CALL)
    pipeline.record_call(deal)
    call_result_record(
        acting_user=pipeline.hunter,
        deal=deal,
        outcome=CallOutcome.REFUSED,
        call_description="Передумали",
        client_description="—",
        decision_maker_email="d@example.ru",
    )
    call_result_record(acting_user=pipeline.hunter, deal=deal, outcome=CallOutcome.NOT_REACHED)
    with pytest.raises(StageCriteriaNotMet) as refusal:
        deal_move(acting_user=pipeline.hunter, deal=deal, to_stage=Stage.PROPOSAL)
    assert [criterion.code for criterion in refusal.value.missing] == ["call_agreed"]


def test_client_transfer_leaves_a_deal_handed_to_a_third_hunter_where_it_is(
    hunter, other_hunter, sales_head, deal
):
    third = UserFactory(role=Role.HUNTER, username="hunter_c")
    deal_transfer(acting_user=sales_head, deal=deal, to_owner=third)
    kept = make_deal(acting_user=hunter, client=deal.client)
    client_transfer(acting_user=sales_head, client=deal.client, to_owner=other_hunter)
    assert fresh(deal).owner == third
    assert fresh(kept).owner == other_hunter
