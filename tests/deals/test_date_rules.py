"""Dates checked against what must come before them, in the services (so every path) and shown in
Russian on the field: goods are received after the courier took them and not in the future, the next
contact is not in the past, a proposal's callback is not before it was sent (nor in the past), a proposal
was not sent tomorrow."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from deals.models import FollowUp, Proposal, Shipment
from deals.services import follow_up_record, proposal_record, shipment_record
from deals.stages import Stage
from tests.deals.factories import DEFAULT_ADDRESS, make_deal
from tests.properties.support import assert_errors_shown


def today():
    return timezone.localdate()


def days(n: int):
    return today() + timedelta(days=n)


# --- shipment -------------------------------------------------------------------------------------------


@pytest.fixture
def at_shipment(pipeline):
    return pipeline.advance_to(make_deal(acting_user=pipeline.hunter), Stage.SHIPMENT)


SHIPMENT = {"receiver_name": "Мария", "receiver_phone": "+79120003344", "delivery_address": DEFAULT_ADDRESS}


@pytest.mark.parametrize(
    ("courier", "received", "says"),
    [
        (-1, -2, "раньше, чем его забрал курьер"),
        (2, 1, "раньше, чем его забрал курьер"),
        (-3, 1, "не может быть в будущем"),
    ],
)
def test_goods_received_before_the_courier_or_in_the_future_are_refused(at_shipment, courier, received, says):
    with pytest.raises(ValidationError) as refusal:
        shipment_record(
            acting_user=at_shipment.owner,
            deal=at_shipment,
            courier_date=days(courier),
            received_on=days(received),
            **SHIPMENT,
        )
    assert list(refusal.value.message_dict) == ["received_on"]
    assert says in refusal.value.message_dict["received_on"][0]
    assert not Shipment.objects.filter(deal=at_shipment).exists()


@pytest.mark.parametrize(("courier", "received"), [(-2, -2), (-2, 0), (0, 0), (3, None)])
def test_a_receipt_on_or_after_the_courier_date_up_to_today_is_recorded(at_shipment, courier, received):
    shipment = shipment_record(
        acting_user=at_shipment.owner,
        deal=at_shipment,
        courier_date=days(courier),
        received_on=None if received is None else days(received),
        **SHIPMENT,
    )
    assert shipment.received_on == (None if received is None else days(received))


def test_the_shipment_form_shows_the_date_refusal_on_its_field(client, at_shipment):
    client.force_login(at_shipment.owner)
    data = {**SHIPMENT, "courier_date": days(-1).isoformat(), "received_on": days(1).isoformat()}
    response = client.post(reverse("deals:shipment", args=[at_shipment.pk]), data)

    assert response.status_code == 400
    form = response.context["forms"]["shipment"]
    assert_errors_shown(response, form, echoed=data.values())
    assert "не может быть в будущем" in form.errors["received_on"][0]
    assert not Shipment.objects.filter(deal=at_shipment).exists()


def test_the_head_is_held_to_the_same_dates_and_other_roles_are_refused(
    client, at_shipment, sales_head, accountant, other_hunter
):
    data = {**SHIPMENT, "courier_date": days(0).isoformat(), "received_on": days(-1).isoformat()}
    client.force_login(sales_head)
    response = client.post(reverse("deals:shipment", args=[at_shipment.pk]), data)
    assert response.status_code == 400 and "received_on" in response.context["forms"]["shipment"].errors
    client.force_login(other_hunter)
    assert client.post(reverse("deals:shipment", args=[at_shipment.pk]), data).status_code == 404
    client.force_login(accountant)
    data["received_on"] = days(0).isoformat()
    assert client.post(reverse("deals:shipment", args=[at_shipment.pk]), data).status_code == 403


# --- follow-up ------------------------------------------------------------------------------------------


@pytest.fixture
def at_follow_up(pipeline):
    return pipeline.advance_to(make_deal(acting_user=pipeline.hunter), Stage.FOLLOW_UP)


def test_a_next_contact_in_the_past_is_refused(at_follow_up):
    with pytest.raises(ValidationError) as refusal:
        follow_up_record(
            acting_user=at_follow_up.owner, deal=at_follow_up, outcome="Думают", next_contact_on=days(-1)
        )
    assert "не может быть в прошлом" in refusal.value.message_dict["next_contact_on"][0]
    assert today().strftime("%d.%m.%Y") in refusal.value.message_dict["next_contact_on"][0]
    assert not FollowUp.objects.exists()


def test_a_next_contact_today_or_later_is_recorded(at_follow_up):
    for offset in (0, 5):
        follow_up_record(
            acting_user=at_follow_up.owner, deal=at_follow_up, outcome="Думают", next_contact_on=days(offset)
        )
    assert FollowUp.objects.count() == 2


def test_a_follow_up_recorded_late_still_plans_the_next_contact_from_today(at_follow_up):
    """A contact of ten days ago entered now: its next contact is a plan, so it is today or later."""
    at = timezone.now() - timedelta(days=10)
    with pytest.raises(ValidationError) as refusal:
        follow_up_record(
            acting_user=at_follow_up.owner,
            deal=at_follow_up,
            outcome="Думают",
            next_contact_on=days(-9),
            at=at,
        )
    assert list(refusal.value.message_dict) == ["next_contact_on"]
    follow_up_record(
        acting_user=at_follow_up.owner, deal=at_follow_up, outcome="Думают", next_contact_on=days(1), at=at
    )
    at_follow_up.refresh_from_db()
    assert at_follow_up.next_contact_on == days(1)


def test_the_follow_up_form_shows_the_past_date_on_its_field(client, at_follow_up):
    client.force_login(at_follow_up.owner)
    data = {"outcome": "Перезвонить", "next_contact_on": days(-3).isoformat()}
    response = client.post(reverse("deals:follow_up", args=[at_follow_up.pk]), data)
    assert response.status_code == 400
    form = response.context["forms"]["follow_up"]
    assert_errors_shown(response, form, echoed=data.values())
    assert list(form.errors) == ["next_contact_on"]
    assert not FollowUp.objects.exists()


# --- proposal -------------------------------------------------------------------------------------------


@pytest.fixture
def at_proposal(pipeline):
    return pipeline.advance_to(make_deal(acting_user=pipeline.hunter), Stage.PROPOSAL)


def record_proposal(deal, **dates):
    return proposal_record(
        acting_user=deal.owner,
        deal=deal,
        template_name="КП",
        sent_to_email="director@example.ru",
        **{"sent_at": timezone.now(), "callback_on": days(2), **dates},
    )


def test_a_proposal_sent_tomorrow_and_its_callback_before_that_are_refused_together(at_proposal):
    with pytest.raises(ValidationError) as refusal:
        record_proposal(at_proposal, sent_at=timezone.now() + timedelta(days=1), callback_on=days(0))
    errors = refusal.value.message_dict
    assert "раньше отправки КП" in errors["callback_on"][0]
    assert "позже сегодняшнего дня" in errors["sent_at"][0]
    assert not Proposal.objects.exists()


def test_a_callback_before_the_proposal_was_sent_is_refused_naming_the_sending_day(at_proposal):
    sent = timezone.now() - timedelta(days=3)
    with pytest.raises(ValidationError) as refusal:
        record_proposal(at_proposal, sent_at=sent, callback_on=days(-4))
    message = refusal.value.message_dict["callback_on"][0]
    assert "раньше отправки КП" in message and days(-3).strftime("%d.%m.%Y") in message
    assert not Proposal.objects.exists()
    at_proposal.refresh_from_db()
    assert at_proposal.next_contact_on is None


def test_a_callback_after_sending_but_already_past_is_refused_too(at_proposal):
    with pytest.raises(ValidationError) as refusal:
        record_proposal(at_proposal, sent_at=timezone.now() - timedelta(days=3), callback_on=days(-1))
    assert "не может быть в прошлом" in refusal.value.message_dict["callback_on"][0]


def test_a_proposal_sent_days_ago_with_a_callback_from_today_is_recorded(at_proposal):
    proposal = record_proposal(at_proposal, sent_at=timezone.now() - timedelta(days=3), callback_on=today())
    at_proposal.refresh_from_db()
    assert proposal.callback_on == at_proposal.next_contact_on == today()


def test_a_callback_today_is_fine(at_proposal):
    assert record_proposal(at_proposal, callback_on=today()).callback_on == today()


def test_the_proposal_form_shows_a_callback_before_sending_on_its_field(client, at_proposal):
    client.force_login(at_proposal.owner)
    data = {
        "template_name": "КП",
        "sent_to_email": "director@example.ru",
        "sent_at": (timezone.localtime() - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"),
        "callback_on": days(-3).isoformat(),
    }
    response = client.post(reverse("deals:proposal", args=[at_proposal.pk]), data)
    assert response.status_code == 400
    form = response.context["forms"]["proposal"]
    assert_errors_shown(response, form, echoed=data.values())
    assert list(form.errors) == ["callback_on"]
    assert "раньше отправки КП" in form.errors["callback_on"][0]
    assert "раньше отправки КП" in response.content.decode()
    assert not Proposal.objects.exists()
