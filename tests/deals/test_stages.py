"""Unit tests for deals.stages: the nine stages, their order and their exit criteria, without a database.

Each test builds a :class:`DealFacts` snapshot by hand: ``COMPLETE`` meets every criterion of every
stage, and each case below breaks one fact and names the criteria that must then be reported missing.
"""

from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from itertools import pairwise

import pytest

from deals import stages
from deals.stages import (
    FINANCE_STAGES,
    LOSABLE_STAGES,
    ORDER,
    STAGES,
    CallFacts,
    CallOutcome,
    DealFacts,
    ProposalFacts,
    SampleRequestFacts,
    ShipmentFacts,
    Stage,
    checklist,
    missing_criteria,
    next_stage,
)

AGREED_CALL = CallFacts(
    outcome=CallOutcome.AGREED_SAMPLES,
    call_description="Поговорили с управляющей, интересуются средствами для пола",
    client_description="Сеть из трёх салонов красоты",
    decision_maker_email="director@salon.ru",
)
SENT_PROPOSAL = ProposalFacts(
    has_file_or_template=True,
    sent_to_email="director@salon.ru",
    sent_at=datetime(2026, 3, 2, 11, 0),
    callback_on=date(2026, 3, 5),
)
DELIVERED_SAMPLES = SampleRequestFacts(
    line_count=2,
    receiver_name="Мария",
    receiver_phone="+79123456789",
    potential_volume="40 литров в месяц",
    delivered=True,
)
RECEIVED_SHIPMENT = ShipmentFacts(
    receiver_name="Мария",
    receiver_phone="+79123456789",
    delivery_address="г. Сургут, ул. Ленина, 1",
    courier_date=date(2026, 3, 20),
    received=True,
)
COMPLETE = DealFacts(
    client_name="Салон «Лотос»",
    client_address="г. Сургут, ул. Ленина, 1",
    client_phone_count=1,
    client_requisites_complete=True,
    best_call=AGREED_CALL,
    proposal=SENT_PROPOSAL,
    next_contact_on=date(2026, 3, 5),
    sample_request=DELIVERED_SAMPLES,
    client_confirmed_purchase=True,
    order_line_count=3,
    order_total=Decimal("15000.00"),
    order_approved=True,
    invoice_uploaded=True,
    shipment=RECEIVED_SHIPMENT,
    paid_total=Decimal("15000.00"),
    feedback_recorded=True,
)

CALL_CODES = ["call_logged", "call_description", "client_description", "decision_maker_email", "call_agreed"]
SAMPLE_CODES = [
    "sample_request",
    "sample_receiver_name",
    "sample_receiver_phone",
    "sample_potential_volume",
    "samples_delivered",
]
SHIPMENT_CODES = ["shipment_receiver", "shipment_address", "shipment_courier_date", "goods_received"]


def call(**changes) -> CallFacts:
    return replace(AGREED_CALL, **changes)


def proposal(**changes) -> ProposalFacts:
    return replace(SENT_PROPOSAL, **changes)


def samples(**changes) -> SampleRequestFacts:
    return replace(DELIVERED_SAMPLES, **changes)


def shipment(**changes) -> ShipmentFacts:
    return replace(RECEIVED_SHIPMENT, **changes)


def codes(stage: str, facts: DealFacts) -> list[str]:
    return [criterion.code for criterion in missing_criteria(stage, facts)]


# (stage, what is absent, the facts without it, the criteria codes reported missing)
ABSENT_FACTS = [
    (Stage.LEAD, "no client name", {"client_name": ""}, ["client_name"]),
    (Stage.LEAD, "blank client name", {"client_name": "   "}, ["client_name"]),
    (Stage.LEAD, "no client address", {"client_address": ""}, ["client_address"]),
    (Stage.LEAD, "blank client address", {"client_address": " \t"}, ["client_address"]),
    (Stage.LEAD, "no phone", {"client_phone_count": 0}, ["client_phone"]),
    (
        Stage.LEAD,
        "an empty card",
        {"client_name": "", "client_address": "", "client_phone_count": 0},
        ["client_name", "client_address", "client_phone"],
    ),
    (Stage.CALL, "no call logged", {"best_call": None}, CALL_CODES),
    (Stage.CALL, "no call description", {"best_call": call(call_description="")}, ["call_description"]),
    (Stage.CALL, "blank call description", {"best_call": call(call_description="  ")}, ["call_description"]),
    (Stage.CALL, "no client description", {"best_call": call(client_description="")}, ["client_description"]),
    (
        Stage.CALL,
        "no decision maker email",
        {"best_call": call(decision_maker_email="")},
        ["decision_maker_email"],
    ),
    (
        Stage.CALL,
        "client asks to call back",
        {"best_call": call(outcome=CallOutcome.CALL_BACK)},
        ["call_agreed"],
    ),
    (Stage.CALL, "client not reached", {"best_call": call(outcome=CallOutcome.NOT_REACHED)}, ["call_agreed"]),
    (Stage.CALL, "client refused", {"best_call": call(outcome=CallOutcome.REFUSED)}, ["call_agreed"]),
    (
        Stage.PROPOSAL,
        "no proposal and no callback date",
        {"proposal": None, "next_contact_on": None},
        ["proposal_sent", "callback_date"],
    ),
    (Stage.PROPOSAL, "no proposal, callback date agreed", {"proposal": None}, ["proposal_sent"]),
    (
        Stage.PROPOSAL,
        "proposal without file or template",
        {"proposal": proposal(has_file_or_template=False)},
        ["proposal_sent"],
    ),
    (Stage.PROPOSAL, "proposal without email", {"proposal": proposal(sent_to_email="")}, ["proposal_sent"]),
    (
        Stage.PROPOSAL,
        "proposal without sending time",
        {"proposal": proposal(sent_at=None)},
        ["proposal_sent"],
    ),
    (
        Stage.PROPOSAL,
        "no callback date anywhere",
        {"proposal": proposal(callback_on=None), "next_contact_on": None},
        ["callback_date"],
    ),
    (Stage.SAMPLES, "no sample request", {"sample_request": None}, SAMPLE_CODES),
    (Stage.SAMPLES, "request without lines", {"sample_request": samples(line_count=0)}, ["sample_request"]),
    (
        Stage.SAMPLES,
        "request without receiver name",
        {"sample_request": samples(receiver_name=" ")},
        ["sample_receiver_name"],
    ),
    (
        Stage.SAMPLES,
        "request without receiver phone",
        {"sample_request": samples(receiver_phone="")},
        ["sample_receiver_phone"],
    ),
    (
        Stage.SAMPLES,
        "request without potential volume",
        {"sample_request": samples(potential_volume="")},
        ["sample_potential_volume"],
    ),
    (
        Stage.SAMPLES,
        "samples not handed over",
        {"sample_request": samples(delivered=False)},
        ["samples_delivered"],
    ),
    (Stage.FOLLOW_UP, "client has not confirmed", {"client_confirmed_purchase": False}, ["client_confirmed"]),
    (Stage.DEAL, "no order lines", {"order_line_count": 0}, ["order_lines"]),
    (Stage.DEAL, "requisites incomplete", {"client_requisites_complete": False}, ["requisites"]),
    (Stage.DEAL, "order not approved", {"order_approved": False}, ["order_approved"]),
    (Stage.DEAL, "no invoice", {"invoice_uploaded": False}, ["invoice"]),
    (
        Stage.DEAL,
        "nothing done",
        {
            "order_line_count": 0,
            "client_requisites_complete": False,
            "order_approved": False,
            "invoice_uploaded": False,
        },
        ["order_lines", "requisites", "order_approved", "invoice"],
    ),
    (Stage.SHIPMENT, "no shipment", {"shipment": None}, SHIPMENT_CODES),
    (Stage.SHIPMENT, "no receiver name", {"shipment": shipment(receiver_name="")}, ["shipment_receiver"]),
    (Stage.SHIPMENT, "no receiver phone", {"shipment": shipment(receiver_phone=" ")}, ["shipment_receiver"]),
    (
        Stage.SHIPMENT,
        "no delivery address",
        {"shipment": shipment(delivery_address="")},
        ["shipment_address"],
    ),
    (Stage.SHIPMENT, "no courier date", {"shipment": shipment(courier_date=None)}, ["shipment_courier_date"]),
    (Stage.SHIPMENT, "goods not received", {"shipment": shipment(received=False)}, ["goods_received"]),
    (Stage.PAYMENT, "nothing paid", {"paid_total": Decimal("0")}, ["paid_in_full"]),
    (Stage.PAYMENT, "paid one kopeck short", {"paid_total": Decimal("14999.99")}, ["paid_in_full"]),
    (
        Stage.PAYMENT,
        "an empty order counts as unpaid",
        {"order_total": Decimal("0"), "paid_total": Decimal("0")},
        ["paid_in_full"],
    ),
    (Stage.CLOSED, "no feedback", {"feedback_recorded": False}, ["feedback"]),
]


@pytest.mark.parametrize(
    ("stage", "changes", "expected"),
    [
        pytest.param(stage, changes, expected, id=f"{stage.value}: {what}")
        for stage, what, changes, expected in ABSENT_FACTS
    ],
)
def test_criterion_is_reported_missing_when_its_fact_is_absent(stage, changes, expected):
    assert codes(stage, replace(COMPLETE, **changes)) == expected


def test_every_criterion_has_a_case_that_reports_it_missing():
    covered = {code for _stage, _what, _changes, expected in ABSENT_FACTS for code in expected}
    all_codes = {criterion.code for definition in STAGES for criterion in definition.criteria}
    assert all_codes - covered == set()


@pytest.mark.parametrize("stage", ORDER)
def test_nothing_is_missing_when_all_facts_hold(stage):
    assert missing_criteria(stage, COMPLETE) == []


@pytest.mark.parametrize("stage", ORDER)
def test_empty_snapshot_misses_every_criterion_of_the_stage_in_listed_order(stage):
    expected = [criterion.code for criterion in stages.definition(stage).criteria]
    assert codes(stage, DealFacts()) == expected


@pytest.mark.parametrize("outcome", [CallOutcome.AGREED_SAMPLES, CallOutcome.AGREED_PROPOSAL])
def test_agreeing_to_samples_or_to_a_proposal_both_pass_the_call(outcome):
    assert codes(Stage.CALL, replace(COMPLETE, best_call=call(outcome=outcome))) == []


@pytest.mark.parametrize(
    ("callback_on", "next_contact_on"),
    [(date(2026, 3, 5), None), (None, date(2026, 3, 6)), (date(2026, 3, 5), date(2026, 3, 6))],
)
def test_callback_date_holds_from_the_proposal_or_the_next_contact_date(callback_on, next_contact_on):
    facts = replace(COMPLETE, proposal=proposal(callback_on=callback_on), next_contact_on=next_contact_on)
    assert codes(Stage.PROPOSAL, facts) == []


@pytest.mark.parametrize("paid", [Decimal("15000.00"), Decimal("15000.01"), Decimal("20000")])
def test_payment_covering_or_exceeding_the_order_total_is_paid_in_full(paid):
    assert codes(Stage.PAYMENT, replace(COMPLETE, paid_total=paid)) == []


def test_a_stage_looks_only_at_its_own_facts():
    # Everything but the call is missing: only the call stage complains.
    facts = DealFacts(best_call=AGREED_CALL)
    assert codes(Stage.CALL, facts) == []
    assert codes(Stage.LEAD, facts) == ["client_name", "client_address", "client_phone"]


def test_checklist_pairs_every_criterion_with_whether_it_holds():
    facts = replace(COMPLETE, order_approved=False, invoice_uploaded=False)
    assert [(criterion.code, holds) for criterion, holds in checklist(Stage.DEAL, facts)] == [
        ("order_lines", True),
        ("requisites", True),
        ("order_approved", False),
        ("invoice", False),
    ]


def test_every_criterion_has_a_russian_label():
    for definition in STAGES:
        assert str(definition.last_action)
        for criterion in definition.criteria:
            assert str(criterion.label).strip()


def test_criterion_codes_are_unique_across_stages():
    all_codes = [criterion.code for definition in STAGES for criterion in definition.criteria]
    assert len(all_codes) == len(set(all_codes))


# --- the order of stages ------------------------------------------------------------------------


def test_there_are_nine_stages_numbered_one_to_nine_in_pipeline_order():
    assert [definition.number for definition in STAGES] == list(range(1, 10))
    assert ORDER == (
        "lead",
        "call",
        "proposal",
        "samples",
        "follow_up",
        "deal",
        "shipment",
        "payment",
        "closed",
    )
    assert tuple(Stage.values) == ORDER


@pytest.mark.parametrize("position", range(9))
def test_number_and_definition_agree_with_the_order(position):
    stage = ORDER[position]
    assert stages.number(stage) == position + 1
    assert stages.definition(stage).stage == stage
    assert stages.definition(stage).regulation_slug == f"stage-{stage}"
    assert stages.definition(stage).label == Stage(stage).label


@pytest.mark.parametrize(("stage", "following"), list(pairwise(ORDER)))
def test_next_stage_is_the_following_one(stage, following):
    assert next_stage(stage) == following


def test_closing_is_the_last_stage():
    assert next_stage(Stage.CLOSED) is None


def test_is_before_follows_the_pipeline_order():
    assert stages.is_before(Stage.LEAD, Stage.CALL)
    assert stages.is_before(Stage.SHIPMENT, Stage.CLOSED)
    assert not stages.is_before(Stage.DEAL, Stage.DEAL)
    assert not stages.is_before(Stage.PAYMENT, Stage.SAMPLES)


def test_deals_may_be_lost_at_stages_one_to_seven():
    assert [stages.number(stage) for stage in LOSABLE_STAGES] == [1, 2, 3, 4, 5, 6, 7]
    assert Stage.PAYMENT not in LOSABLE_STAGES
    assert Stage.CLOSED not in LOSABLE_STAGES


def test_finance_sees_stages_six_to_nine():
    assert [stages.number(stage) for stage in FINANCE_STAGES] == [6, 7, 8, 9]
    assert FINANCE_STAGES[0] == stages.REPEAT_ORDER_START == Stage.DEAL


def test_only_not_reached_calls_count_toward_the_five_attempt_limit():
    assert frozenset({CallOutcome.NOT_REACHED}) == stages.UNSUCCESSFUL_CALL_OUTCOMES
    assert stages.NO_CONTACT_ATTEMPTS_LIMIT == 5
