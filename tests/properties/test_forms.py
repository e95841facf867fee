"""Issue 8 "Bad input": the main forms posted through the test client, as the role that uses them.

Whatever is posted: never a 500; a refusal is the page again (400) with the form's errors in Russian shown
on it and no row written or changed; an accepted post stores the values as cleaned (phones in E.164),
in a shape PostgreSQL would store too, and the page it leads to opens.
"""

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django import forms as django_forms
from django.core.files.uploadedfile import SimpleUploadedFile
from django.forms.formsets import ManagementForm
from django.forms.models import model_to_dict
from django.urls import reverse
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from atlanset_portal.numbers import NumberRefused, format_decimal, input_text, parse_decimal
from atlanset_portal.templatetags.formatting import rub
from compensation.models import Expense, PaySchemeVersion
from deals.forms import OrderLineForm, SampleLineForm, line_price_field, line_quantity_field
from deals.models import (
    Client,
    ClientPhone,
    ClientSource,
    Deal,
    Order,
    OrderVersion,
    OrderVersionLine,
    Payment,
    SampleLine,
    SampleRequest,
)
from deals.phones import parse_phone, split_phones
from deals.requisites import validate_bik, validate_inn, validate_kpp
from deals.services import OrderLineInput, client_update_requisites, order_set_lines, payment_record
from deals.stages import Stage
from kpi.models import Activity, ActivityKind, DepartmentQuarterPlan, MonthlyPlan
from tests.deals.factories import VALID_REQUISITES, branch_requisites, make_client, make_deal, make_product
from tests.properties.support import (
    assert_clear_russian,
    assert_errors_shown,
    date_text,
    date_typed,
    datetime_text,
    datetime_typed,
    digits,
    file_name,
    money_text,
    money_typed,
    nasty_text,
    number_text,
    page_text,
    phone_is_stable,
    phone_text,
    posted_form,
    production_problems,
    rolled_back,
    row_counts,
    valid_phone,
    words,
)

# Examples per property (hypothesis max_examples).
CLIENT_CREATE_EXAMPLES = 25
CLIENT_EDIT_EXAMPLES = 25
REQUISITES_EXAMPLES = 40
ACTIVITY_EXAMPLES = 30
PAYMENT_EXAMPLES = 25
REFUND_EXAMPLES = 25
PLAN_GRID_EXAMPLES = 25
PLAN_MONTH_EXAMPLES = 25
EXPENSE_CLAIM_EXAMPLES = 30
EXPENSE_DECISION_EXAMPLES = 20
ORDER_EXAMPLES = 60
NUMBER_EXAMPLES = 300
SAMPLE_EXAMPLES = 25
SCHEME_EXAMPLES = 30

WEB = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
}
INT4_MAX = 2_147_483_647
short_words = words.map(lambda text: text[:50])


def values_of(data: dict) -> list[str]:
    return [str(value) for value in data.values()]


def cleaned(field: django_forms.Field, text: object) -> object:
    """What a form field makes of the posted text (Russian number formats included), None if refused."""
    try:
        return field.clean(text)
    except django_forms.ValidationError:
        return None


def as_money(text: object) -> Decimal | None:
    return cleaned(django_forms.DecimalField(decimal_places=2), text)


# --- clients -------------------------------------------------------------------------------------------

EXISTING_PHONE = "+79120000000"
VALID_CLIENT = {
    "name": "Салон «Лотос»",
    "address": "г. Сургут, ул. Ленина, 1",
    "phones_text": "8 912 345-67-89",
    "city": "Сургут",
    "email": "info@lotos.ru",
    "website": "lotos.ru",
    "segment": "Салоны красоты",
    "source": ClientSource.TWO_GIS,
    "decision_maker_name": "Мария Соколова",
    "decision_maker_email": "director@lotos.ru",
    "notes": "",
}
phones_text = st.one_of(
    phone_text,
    st.lists(phone_text, min_size=1, max_size=4).flatmap(
        lambda phones: st.sampled_from(["\n", "; ", ", ", "\r\n"]).map(lambda sep: sep.join(phones))
    ),
    st.sampled_from(["8 912 000-00-00", "+7 912 000 00 00; 8 912 345-67-89"]),  # one is in the base already
)
email_text = st.one_of(st.emails().map(str), st.just("a" * 250 + "@example.ru"), nasty_text)
CLIENT_FIELDS = {
    "name": nasty_text,
    "address": nasty_text,
    "phones_text": phones_text,
    "city": nasty_text,
    "email": email_text,
    "website": nasty_text,
    "segment": nasty_text,
    "source": st.one_of(st.sampled_from(ClientSource.values), nasty_text),
    "decision_maker_name": nasty_text,
    "decision_maker_email": email_text,
    "notes": nasty_text,
}
CLIENT_GOOD = {
    "name": words,
    "address": words,
    "phones_text": st.lists(valid_phone, min_size=1, max_size=3).map("; ".join),
    "city": words,
    "email": st.one_of(st.just(""), st.emails().map(str)),
    "website": words,
    "segment": words,
    "decision_maker_name": words,
    "notes": words,
}
CLIENT_TABLES = (Client, ClientPhone)


def form_phones(text: str) -> list[tuple[str, str]]:
    """The numbers the form's phones field holds (ClientForm.phones), each in E.164 with its extension
    («доб. 12», «,12»): a number typed twice is kept once, with the extension if either had one."""
    numbers: dict[str, str] = {}
    for piece in split_phones(text):
        phone = parse_phone(piece)
        numbers[phone.number] = numbers.get(phone.number) or phone.extension
    return list(numbers.items())


def assert_card_stored(client: Client, data: dict) -> None:
    for name in ("name", "address", "city", "website", "segment", "decision_maker_name", "notes"):
        assert getattr(client, name) == data.get(name, "").strip(), name
    assert client.email == data.get("email", "").strip()
    phones = list(client.phones.all())
    stored = sorted((phone.number, phone.extension) for phone in phones)
    assert stored == sorted(form_phones(data["phones_text"]))
    assert all(phone_is_stable(phone.number) for phone in phones)
    assert production_problems(client) == [] and all(production_problems(phone) == [] for phone in phones)


@pytest.fixture
def base_client(hunter):
    return make_client(acting_user=hunter, name="Кафе «Уют»", phones=[EXISTING_PHONE])


@pytest.mark.django_db
@settings(max_examples=CLIENT_CREATE_EXAMPLES, **WEB)
@given(data=posted_form(VALID_CLIENT, CLIENT_FIELDS, CLIENT_GOOD))
def test_client_card_is_created_as_typed_or_refused_in_russian_with_nothing_saved(
    client, hunter, base_client, data
):
    client.force_login(hunter)
    with rolled_back():
        before = row_counts(*CLIENT_TABLES)
        response = client.post(reverse("clients:create"), data)

        assert response.status_code in (302, 400)
        if response.status_code == 400:
            event("refused")
            assert_errors_shown(response, response.context["form"], echoed=values_of(data))
            assert row_counts(*CLIENT_TABLES) == before
            return
        event("saved")
        created = Client.objects.exclude(pk=base_client.pk).get()
        assert created.owner == hunter
        assert_card_stored(created, data)
        assert client.get(response["Location"]).status_code == 200


@pytest.mark.django_db
@settings(max_examples=CLIENT_EDIT_EXAMPLES, **WEB)
@given(data=posted_form(VALID_CLIENT, CLIENT_FIELDS, CLIENT_GOOD))
def test_client_card_is_edited_as_typed_or_left_exactly_as_it_was(client, hunter, base_client, data):
    client.force_login(hunter)
    with rolled_back():
        card = model_to_dict(Client.objects.get(pk=base_client.pk))
        phones = list(base_client.phones.values_list("number", flat=True))
        response = client.post(reverse("clients:edit", args=[base_client.pk]), data)

        assert response.status_code in (302, 400)
        stored = Client.objects.get(pk=base_client.pk)
        if response.status_code == 400:
            event("refused")
            assert_errors_shown(response, response.context["form"], echoed=values_of(data))
            assert model_to_dict(stored) == card, "a refused edit changed the card"
            assert list(stored.phones.values_list("number", flat=True)) == phones
            return
        event("saved")
        assert_card_stored(stored, data)


@pytest.mark.django_db
@pytest.mark.parametrize("typed", ["+310000000", "+81000000000000000"])
def test_a_stored_phone_stays_the_same_when_the_card_is_saved_again(client, hunter, typed):
    client.force_login(hunter)
    created = client.post(reverse("clients:create"), {**VALID_CLIENT, "phones_text": typed})
    if created.status_code == 400:  # refusing the number is fine too
        assert_errors_shown(created, created.context["form"], echoed=[typed])
        return
    card = Client.objects.get()
    [stored] = card.phones.values_list("number", flat=True)
    assert production_problems(ClientPhone.objects.get()) == []
    form = client.get(reverse("clients:edit", args=[card.pk])).context["form"]
    client.post(
        reverse("clients:edit", args=[card.pk]), {**VALID_CLIENT, "phones_text": form.initial["phones_text"]}
    )
    assert list(card.phones.values_list("number", flat=True)) == [stored]


# --- requisites ----------------------------------------------------------------------------------------

VALID_REQUISITES_FORM = dict(VALID_REQUISITES.__dict__)


def separated(value: str) -> st.SearchStrategy[str]:
    """The number as people paste it: with spaces, dashes or non-breaking spaces between digit groups."""
    return st.sampled_from([" ", "-", "\u00a0", "\u2013", ""]).map(
        lambda sep: sep.join(value[i : i + 3] for i in range(0, len(value), 3))
    )


def requisite(valid: str, length: int) -> st.SearchStrategy[str]:
    return st.one_of(
        separated(valid),
        st.text(alphabet="0123456789", min_size=length - 1, max_size=length + 1),
        st.text(alphabet="0123456789", min_size=length, max_size=length).map(lambda v: v[:4] + "AB" + v[6:]),
        digits,
        nasty_text,
    )


REQUISITE_FIELDS = {
    "legal_name": nasty_text,
    "inn": st.one_of(requisite(VALID_REQUISITES.inn, 10), st.just("500100732259")),
    "kpp": requisite(VALID_REQUISITES.kpp, 9),
    "ogrn": st.one_of(requisite(VALID_REQUISITES.ogrn, 13), st.just("304500116000157")),
    "legal_address": nasty_text,
    "bank_name": nasty_text,
    "bik": requisite(VALID_REQUISITES.bik, 9),
    "settlement_account": requisite(VALID_REQUISITES.settlement_account, 20),
    "correspondent_account": requisite(VALID_REQUISITES.correspondent_account, 20),
}


@pytest.mark.django_db
@settings(max_examples=REQUISITES_EXAMPLES, **WEB)
@given(
    data=posted_form(
        VALID_REQUISITES_FORM,
        REQUISITE_FIELDS,
        {
            "legal_name": words,
            "legal_address": words,
            "bank_name": words,
            **{name: separated(getattr(VALID_REQUISITES, name)) for name in ("inn", "kpp", "ogrn", "bik")},
            "settlement_account": separated(VALID_REQUISITES.settlement_account),
            "correspondent_account": separated(VALID_REQUISITES.correspondent_account),
        },
    )
)
def test_requisites_are_stored_normalised_and_valid_or_refused_with_the_card_unchanged(
    client, hunter, base_client, data
):
    client.force_login(hunter)
    with rolled_back():
        card = model_to_dict(Client.objects.get(pk=base_client.pk))
        response = client.post(reverse("clients:requisites", args=[base_client.pk]), data)

        assert response.status_code in (302, 400)
        stored = Client.objects.get(pk=base_client.pk)
        if response.status_code == 400:
            event("refused")
            assert_errors_shown(response, response.context["form"], echoed=values_of(data))
            assert model_to_dict(stored) == card
            return
        event("saved")
        assert production_problems(stored) == []
        for name, check in (("inn", validate_inn), ("kpp", validate_kpp), ("bik", validate_bik)):
            value = getattr(stored, name)
            assert value == "" or check(value) == value, name
        if stored.inn:
            assert stored.inn.isascii() and stored.inn.isdigit()


@pytest.mark.django_db
@pytest.mark.parametrize("field", ["settlement_account", "correspondent_account"])
def test_bank_accounts_without_a_bik_are_checked_or_refused(client, hunter, base_client, field):
    client.force_login(hunter)
    typed = " ".join(getattr(VALID_REQUISITES, field)[i : i + 3] for i in range(0, 20, 3))
    data = {**VALID_REQUISITES_FORM, "bik": "", field: typed}
    response = client.post(reverse("clients:requisites", args=[base_client.pk]), data)
    if response.status_code == 400:
        assert_errors_shown(response, response.context["form"], echoed=values_of(data))
    else:
        assert getattr(Client.objects.get(pk=base_client.pk), field) == getattr(VALID_REQUISITES, field)


@pytest.mark.django_db
def test_requisites_of_a_company_already_in_the_base_are_refused_in_russian(client, hunter, base_client):
    branch = make_client(acting_user=hunter, name="Филиал")
    client_update_requisites(acting_user=hunter, client=branch, requisites=branch_requisites())
    client.force_login(hunter)
    data = {**VALID_REQUISITES_FORM, "kpp": Client.objects.get(pk=branch.pk).kpp}
    response = client.post(reverse("clients:requisites", args=[base_client.pk]), data)
    assert response.status_code == 400
    assert_errors_shown(response, response.context["form"], echoed=values_of(data))


# --- activities ----------------------------------------------------------------------------------------

# 23:59 on 31.12.9999 in Yekaterinburg, the last moment the portal can keep (it takes local dates).


@pytest.fixture
def hunters_deal(hunter, base_client):
    return make_deal(acting_user=hunter, client=base_client)


@pytest.fixture
def others_client(other_hunter):
    return make_client(acting_user=other_hunter, name="Чужой клиент")


@pytest.mark.django_db
@settings(max_examples=ACTIVITY_EXAMPLES, **WEB)
@given(data=st.data())
def test_activity_is_logged_as_typed_or_refused_in_russian_with_nothing_saved(
    client, hunter, base_client, hunters_deal, others_client, data
):
    valid = {
        "kind": ActivityKind.MEETING,
        "client": str(base_client.pk),
        "deal": str(hunters_deal.pk),
        "at": "2026-03-04T15:00",
        "outcome": "Договорились о пробниках",
        "note": "",
        "next_contact_on": "2026-03-10",
    }
    fields = {
        "kind": st.one_of(st.sampled_from(ActivityKind.values), nasty_text),
        "client": st.one_of(st.just(str(others_client.pk)), number_text, nasty_text),
        "deal": st.one_of(st.just(""), number_text, nasty_text),
        "at": datetime_text,
        "outcome": nasty_text,
        "note": nasty_text,
        "next_contact_on": st.one_of(st.just(""), date_text),
    }
    good = {
        "kind": st.sampled_from(ActivityKind.values),
        "at": datetime_typed,
        "outcome": short_words,
        "note": words,
        "next_contact_on": date_typed,
    }
    form = data.draw(posted_form(valid, fields, good))
    client.force_login(hunter)
    with rolled_back():
        before = row_counts(Activity)
        response = client.post(reverse("kpi:activity_create"), form)

        assert response.status_code in (302, 400)
        if response.status_code == 400:
            event("refused")
            assert_errors_shown(response, response.context["form"], echoed=values_of(form))
            assert row_counts(Activity) == before
            return
        event("saved")
        activity = Activity.objects.latest("pk")
        assert activity.owner == hunter and activity.client_id == int(form["client"])
        assert activity.outcome == form.get("outcome", "").strip()
        assert production_problems(activity) == []
        assert row_counts(Activity)["kpi.Activity"] == before["kpi.Activity"] + 1


@pytest.mark.django_db
@pytest.mark.parametrize("at", ["0001-01-01T03:00", "0001-01-01T00:00"])
def test_an_activity_time_the_database_cannot_hold_is_refused_not_a_500(client, hunter, base_client, at):
    client.force_login(hunter)
    response = client.post(
        reverse("kpi:activity_create"), {"kind": ActivityKind.MEETING, "client": base_client.pk, "at": at}
    )
    assert response.status_code == 400
    assert_errors_shown(response, response.context["form"], echoed=[at])
    assert not Activity.objects.exists()


# --- payments and refunds (the accountant) -------------------------------------------------------------


@pytest.fixture
def deal_awaiting_payment(pipeline, base_client):
    return pipeline.advance_to(make_deal(acting_user=pipeline.hunter, client=base_client), Stage.PAYMENT)


@pytest.fixture
def paid_deal(deal_awaiting_payment, accountant):
    payment_record(
        acting_user=accountant,
        deal=deal_awaiting_payment,
        amount=Decimal("5000.00"),
        received_on=date(2026, 3, 5),
        bank_document="п/п 1",
    )
    return Deal.objects.get(pk=deal_awaiting_payment.pk)


PAYMENT_FIELDS = {
    "amount": money_text,
    "received_on": date_text,
    "bank_document": nasty_text,
}


@pytest.mark.django_db
@settings(max_examples=PAYMENT_EXAMPLES, **WEB)
@given(
    data=posted_form(
        {"amount": "1500.50", "received_on": "2026-03-05", "bank_document": "п/п 17"},
        PAYMENT_FIELDS,
        {"amount": money_typed, "received_on": date_typed, "bank_document": short_words},
    )
)
def test_payment_is_recorded_to_the_kopeck_or_refused_in_russian_with_nothing_saved(
    client, accountant, deal_awaiting_payment, data
):
    client.force_login(accountant)
    with rolled_back():
        before = row_counts(Payment)
        response = client.post(reverse("deals:payment", args=[deal_awaiting_payment.pk]), data)

        assert response.status_code in (302, 400)
        if response.status_code == 400:
            event("refused")
            assert_errors_shown(response, response.context["forms"]["payment"], echoed=values_of(data))
            assert row_counts(Payment) == before
            return
        event("saved")
        payment = Payment.objects.latest("pk")
        assert payment.amount == as_money(data["amount"])
        assert payment.bank_document == data["bank_document"].strip()
        assert production_problems(payment) == []
        assert client.get(reverse("deals:detail", args=[deal_awaiting_payment.pk])).status_code == 200


@pytest.mark.django_db
@settings(max_examples=REFUND_EXAMPLES, **WEB)
@given(
    data=posted_form(
        {"amount": "700.00", "recorded_on": "2026-03-20", "bank_document": "возврат 3"},
        {
            "amount": money_text,
            "recorded_on": date_text,
            "bank_document": nasty_text,
        },
        {
            "amount": st.decimals(min_value=Decimal("0.01"), max_value=Decimal("5000"), places=2).map(str),
            "recorded_on": date_typed,
            "bank_document": short_words,
        },
    )
)
def test_refund_up_to_the_paid_sum_is_recorded_or_refused_in_russian_with_nothing_saved(
    client, accountant, paid_deal, data
):
    client.force_login(accountant)
    with rolled_back():
        before = row_counts(Payment)
        response = client.post(reverse("deals:refund", args=[paid_deal.pk]), data)

        assert response.status_code in (302, 400)
        if response.status_code == 400:
            event("refused")
            assert_errors_shown(response, response.context["forms"]["refund"], echoed=values_of(data))
            assert row_counts(Payment) == before
            return
        event("saved")
        refund = Payment.objects.latest("pk")
        assert refund.kind == Payment.Kind.REFUND and refund.amount == -as_money(data["amount"])
        assert Decimal("-5000") <= refund.amount < 0
        assert production_problems(refund) == []
        assert client.get(reverse("deals:detail", args=[paid_deal.pk])).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("amount", ["10000000000000", "1e13"])
def test_an_amount_the_money_column_cannot_hold_is_refused_in_russian(
    client, accountant, deal_awaiting_payment, amount
):
    client.force_login(accountant)
    data = {"amount": amount, "received_on": "2026-03-05", "bank_document": "п/п 18"}
    response = client.post(reverse("deals:payment", args=[deal_awaiting_payment.pk]), data)
    assert response.status_code == 400
    assert_errors_shown(response, response.context["forms"]["payment"], echoed=[amount])
    assert not Payment.objects.exists()


# --- the plan grid (the sales head) --------------------------------------------------------------------

PLAN_NAMES = (
    "revenue_target",
    "deals_target",
    "leads_target",
    "calls_target",
    "meetings_target",
    "messages_target",
)
count_text = st.one_of(st.integers(0, 500).map(str), number_text, nasty_text)


@pytest.mark.django_db
@settings(max_examples=PLAN_GRID_EXAMPLES, **WEB)
@given(data=st.data())
def test_plan_grid_saves_every_row_or_none_and_refuses_in_russian(
    client, sales_head, hunter, other_hunter, data
):
    valid = {}
    for person in (hunter, other_hunter):
        valid.update({f"h{person.pk}-revenue_target": "300000.00", f"h{person.pk}-deals_target": "2"})
        valid.update({f"h{person.pk}-{name}": "5" for name in PLAN_NAMES[2:]})
    fields = {
        name: (st.one_of(money_text, count_text) if name.endswith("revenue_target") else count_text)
        for name in valid
    }
    good = {
        name: (money_typed if name.endswith("revenue_target") else st.integers(0, 10**6).map(str))
        for name in valid
    }
    form = {"action": "plans", **data.draw(posted_form(valid, fields, good))}
    client.force_login(sales_head)
    with rolled_back():
        before = {plan.pk: model_to_dict(plan) for plan in MonthlyPlan.objects.all()}
        response = client.post(reverse("kpi:plans", args=["2026-03"]), form)

        assert response.status_code in (302, 400)
        if response.status_code == 400:
            event("refused")
            errors = [error for _hunter, row in response.context["rows"] for error in row.errors.values()]
            assert errors
            for _hunter, row in response.context["rows"]:
                if row.errors:
                    assert_errors_shown(response, row, echoed=values_of(form))
            assert {plan.pk: model_to_dict(plan) for plan in MonthlyPlan.objects.all()} == before
            return
        event("saved")
        for person in (hunter, other_hunter):
            plan = MonthlyPlan.objects.filter(hunter=person, month=date(2026, 3, 1)).first()
            texts = [form.get(f"h{person.pk}-{name}", "") for name in PLAN_NAMES]
            if all(cleaned(django_forms.DecimalField(required=False), text) is None for text in texts):
                assert plan is None  # a row left empty is no plan, not a plan of zeros
                continue
            assert production_problems(plan) == []
            for name in PLAN_NAMES[1:]:
                assert getattr(plan, name) == cleaned(
                    django_forms.IntegerField(), form[f"h{person.pk}-{name}"]
                )
            assert plan.revenue_target == as_money(form[f"h{person.pk}-revenue_target"])
        assert client.get(response["Location"]).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("deals_target", ["100000000000000000000", "3000000000"])
def test_a_plan_number_beyond_the_integer_column_is_refused_not_a_500(
    client, sales_head, hunter, deals_target
):
    client.force_login(sales_head)
    form = {
        "action": "plans",
        f"h{hunter.pk}-revenue_target": "1000",
        f"h{hunter.pk}-deals_target": deals_target,
    }
    form.update({f"h{hunter.pk}-{name}": "1" for name in PLAN_NAMES[2:]})
    response = client.post(reverse("kpi:plans", args=["2026-03"]), form)
    assert response.status_code == 400
    assert not MonthlyPlan.objects.exists()


@pytest.mark.django_db
def test_a_quarter_plan_beyond_the_money_column_is_refused(client, sales_head):
    client.force_login(sales_head)
    data = {"action": "quarter", "quarter-revenue_target": "1" + "0" * 20, "quarter-bonus_pool": "1000"}
    response = client.post(reverse("kpi:plans", args=["2026-03"]), data)
    assert response.status_code == 400
    assert not DepartmentQuarterPlan.objects.exists()


@pytest.mark.django_db
@settings(max_examples=PLAN_MONTH_EXAMPLES, **WEB)
@given(
    month=st.one_of(
        st.from_regex(r"\A-?[0-9]{1,6}-[0-9]{1,3}\Z"), nasty_text.filter(lambda t: t and "/" not in t)
    )
)
def test_plan_grid_of_any_month_in_the_address_opens_or_is_not_found(client, sales_head, month):
    client.force_login(sales_head)
    response = client.get(reverse("kpi:plans", args=[month]))
    assert response.status_code in (200, 404)


# --- expense claims ------------------------------------------------------------------------------------

receipt = st.one_of(
    st.just(("chek.pdf", b"%PDF-1.4 taxi")),
    st.tuples(
        st.sampled_from(["chek.pdf", "photo.jpg", "scan.png", "virus.exe", "chek", "CHEK.PDF"]),
        st.binary(max_size=200),
    ),
    st.tuples(file_name, st.binary(max_size=50)),
)


@pytest.mark.django_db
@settings(max_examples=EXPENSE_CLAIM_EXAMPLES, **WEB)
@given(
    data=posted_form(
        {"amount": "1200.00", "note": "Такси до клиента"},
        {"amount": money_text, "note": nasty_text, "meeting": nasty_text},
        {"amount": money_typed, "note": words},
    ),
    upload=st.one_of(st.just(("chek.pdf", b"%PDF-1.4 taxi")), receipt, st.none()),
)
def test_expense_claim_is_filed_with_its_receipt_or_refused_in_russian_with_nothing_saved(
    client, hunter, data, upload
):
    client.force_login(hunter)
    form = dict(data)
    if upload is not None:
        form["receipt"] = SimpleUploadedFile(upload[0], upload[1])
    with rolled_back():
        before = row_counts(Expense)
        response = client.post(reverse("compensation:expenses"), form)

        assert response.status_code in (302, 400)
        if response.status_code == 400:
            event("refused")
            echoed = values_of(data) + ([upload[0]] if upload else [])
            assert_errors_shown(response, response.context["claim_form"], echoed=echoed)
            assert row_counts(Expense) == before
            return
        event("saved")
        expense = Expense.objects.latest("pk")
        assert expense.hunter == hunter and expense.status == Expense.Status.CLAIMED
        assert expense.amount == as_money(data["amount"])
        assert expense.note == data["note"].strip() and production_problems(expense) == []


@pytest.fixture
def claimed_expense(hunter):
    from compensation.services import expense_claim

    return expense_claim(acting_user=hunter, amount=Decimal("1200.00"), note="Такси")


@pytest.mark.django_db
@settings(max_examples=EXPENSE_DECISION_EXAMPLES, **WEB)
@given(approved=st.one_of(money_text, st.just("1000")))
def test_expense_decision_takes_any_amount_without_a_500(client, sales_head, claimed_expense, approved):
    client.force_login(sales_head)
    with rolled_back():
        response = client.post(
            reverse("compensation:expenses"),
            {"expense": claimed_expense.pk, "approved_amount": approved},
            follow=True,
        )
        assert response.status_code == 200
        expense = Expense.objects.get(pk=claimed_expense.pk)
        if expense.status == Expense.Status.CLAIMED:  # refused: the reason is flashed on the page
            event("refused")
            shown = [str(message) for message in response.context["messages"]]
            assert shown
            for message in shown:
                assert_clear_russian(message, echoed=[approved])
                assert message in page_text(response)
        else:
            event("decided")
            assert expense.approved_amount == as_money(approved)
            assert Decimal(0) <= expense.approved_amount <= expense.amount


@pytest.mark.django_db
@pytest.mark.parametrize("expense_id", ["abc", "1.5", "", "99999999999999999999999"])
def test_expense_decision_for_a_malformed_id_is_not_found_not_a_500(client, sales_head, expense_id):
    client.force_login(sales_head)
    response = client.post(reverse("compensation:expenses"), {"expense": expense_id, "approved_amount": "1"})
    assert response.status_code == 404


# --- numbers as Russian hunters type and read them (atlanset_portal/numbers.py) ------------------------

GROUPING_SPACES = [" ", "\u00a0", "\u202f"]
price_field = line_price_field(required=False)
quantity_field_of_lines = line_quantity_field()


@st.composite
def russian_spelling(draw, value: Decimal) -> str:
    """``value`` (not negative) as a person may type it in Russian: a decimal comma, thousands grouped by a
    space or not, trailing zeros of the fraction kept or not."""
    whole, _dot, fraction = format(value, "f").partition(".")
    if draw(st.booleans()) and len(whole) > 3:
        space = draw(st.sampled_from(GROUPING_SPACES))
        groups = []
        while len(whole) > 3:
            whole, groups = whole[:-3], [whole[-3:], *groups]
        whole = space.join([whole, *groups])
    if draw(st.booleans()):
        fraction = fraction.rstrip("0")
    return whole + ("," + fraction if fraction else "")


prices = st.decimals(min_value=Decimal("0"), max_value=Decimal("999999999999.99"), places=2)
quantities = st.decimals(min_value=Decimal("0.001"), max_value=Decimal("999999999.999"), places=3)


@settings(max_examples=NUMBER_EXAMPLES)
@given(data=st.data(), value=prices)
def test_a_price_typed_in_russian_is_read_as_exactly_that_price(data, value):
    typed = data.draw(russian_spelling(value))
    assert price_field.clean(typed) == value, f"{typed!r} read as {price_field.clean(typed)}"


@settings(max_examples=NUMBER_EXAMPLES)
@given(value=prices)
def test_a_decimal_comma_is_never_dropped_so_kopecks_never_become_roubles(value):
    """«237,50» is 237.50, never 23 750: the comma's digits are always the fraction."""
    typed = format(value, "f").replace(".", ",")
    assert parse_decimal(typed) == value
    assert parse_decimal(typed.replace(",", "")) == value * 100  # without the comma it is another number


@settings(max_examples=NUMBER_EXAMPLES)
@given(data=st.data(), value=quantities)
def test_a_quantity_typed_in_russian_is_read_exactly_and_shown_back_without_trailing_zeros(data, value):
    typed = data.draw(russian_spelling(value))
    read = quantity_field_of_lines.clean(typed)
    assert read == value
    # What the input shows again (a stored 10.000 is «10», 2.500 «2,5») reads back as the same number.
    shown = quantity_field_of_lines.prepare_value(value.quantize(Decimal("0.001")))
    assert "." not in shown and not (("," in shown) and shown.endswith("0"))
    assert quantity_field_of_lines.clean(shown) == value


@settings(max_examples=NUMBER_EXAMPLES)
@given(value=prices)
def test_every_amount_the_portal_shows_reads_back_as_the_same_amount(value):
    """The input's «237,50», the page's «1 234,50 ₽» and «1 234,5»: a hunter copying any of them back
    types the same amount, and none looks like «10.000»."""
    for shown in (
        price_field.prepare_value(value),
        rub(value).removesuffix("\u00a0₽"),
        format_decimal(value),
    ):
        assert "." not in shown, shown
        assert parse_decimal(shown) == value, shown


@settings(max_examples=NUMBER_EXAMPLES)
@given(whole=st.integers(1, 999), thousands=st.integers(0, 999))
def test_a_dot_before_three_digits_is_refused_not_guessed(whole, thousands):
    """«1.500» is 1,5 to some and 1 500 to others: refused, with both readings named."""
    typed = f"{whole}.{thousands:03d}"
    with pytest.raises(NumberRefused) as refusal:
        parse_decimal(typed)
    message = str(refusal.value)
    assert format_decimal(Decimal(f"{whole}{thousands:03d}")) in message
    assert_clear_russian(message, echoed=[typed])
    assert cleaned(price_field, typed) is None and cleaned(quantity_field_of_lines, typed) is None


@settings(max_examples=NUMBER_EXAMPLES)
@given(
    text=st.one_of(number_text, nasty_text, money_text, st.text(alphabet="0123456789 ,.-\u00a0", max_size=20))
)
def test_any_text_is_read_as_one_number_or_refused_in_russian(text):
    try:
        value = parse_decimal(text)
    except NumberRefused as refusal:
        assert_clear_russian(refusal, echoed=[text])
        return
    event("read")
    assert value.is_finite()
    assert parse_decimal(input_text(value)) == value  # what the input would show again means the same
    for field in (price_field, quantity_field_of_lines):
        try:
            field.clean(text)
        except django_forms.ValidationError as refusal:
            for message in refusal.messages:
                assert_clear_russian(message, echoed=[text])


# --- the order and the sample request: line formsets (the hunter) --------------------------------------


@pytest.fixture
def deal_at_deal_stage(pipeline, base_client):
    return pipeline.advance_to(make_deal(acting_user=pipeline.hunter, client=base_client), Stage.DEAL)


@pytest.fixture
def deal_at_samples_stage(pipeline, base_client):
    return pipeline.advance_to(make_deal(acting_user=pipeline.hunter, client=base_client), Stage.SAMPLES)


def russian(value: Decimal, style: int) -> str:
    """A number as a person types it on a phone: a comma, perhaps thousands grouped by a space, perhaps
    with zeros the column does not need."""
    text = format(value, "f")
    whole, _dot, fraction = text.partition(".")
    if style == 1 and len(whole) > 3:
        whole = f"{int(whole):,}".replace(",", "\u00a0" if len(whole) % 2 else " ")
    if style == 2 and fraction:
        fraction = fraction.rstrip("0")
    return whole + ("," + fraction if fraction else "")


def typed_number(places: int, low: str, high: str) -> st.SearchStrategy[tuple[str, Decimal]]:
    """(text, the number meant): good values in the shapes Russian hunters type them."""
    return st.builds(
        lambda value, style: (russian(value, style), value),
        st.decimals(min_value=Decimal(low), max_value=Decimal(high), places=places),
        st.integers(0, 2),
    )


# Text that must be refused or read exactly: ambiguous separators, noise, numbers beyond the columns.
number_noise = st.one_of(
    number_text,
    nasty_text,
    st.sampled_from(["1.500", "10.000", "1.234,56", "1,234.56", "12 34", "2,5,0", "237,505", "-1", "0"]),
)


def line_rows(draw, *, products: list[str], priced: bool) -> list[dict]:
    """Up to four rows, each good (what it means kept under ``_meant``), blank, removed, or noise."""
    rows = []
    for _index in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["good", "good", "good", "blank", "removed", "noise"]))
        row: dict = {"DELETE": kind == "removed"}
        if kind == "blank":  # as the page sends an unused row: a sample row starts at 1
            row.update(product="", quantity="" if priced else draw(st.sampled_from(["", "1"])))
            if priced:
                row["price"] = ""
        elif kind == "noise":
            row["product"] = draw(st.one_of(st.sampled_from(products), number_text, nasty_text))
            row["quantity"] = draw(number_noise)
            if priced:
                row["price"] = draw(st.one_of(st.just(""), number_noise, money_text))
        else:
            quantity = draw(
                typed_number(3, "0.001", "99999")
                if priced
                else st.integers(1, 1000).map(lambda n: (str(n), n))
            )
            row.update(product=draw(st.sampled_from(products)), quantity=quantity[0], _meant=[quantity[1]])
            if priced:
                price = draw(st.one_of(st.just(("", None)), typed_number(2, "0", "9999999")))
                row["price"] = price[0]
                row["_meant"].append(price[1])
        rows.append(row)
    return rows


def management(draw, prefix: str, rows: list[dict], initial: int) -> dict:
    """The formset's management form, sometimes tampered with or missing."""
    shape = draw(st.sampled_from(["right", "right", "right", "missing", "count"]))
    if shape == "missing":
        return {}
    total = str(len(rows)) if shape == "right" else draw(st.one_of(number_text, nasty_text))
    return {f"{prefix}-TOTAL_FORMS": total, f"{prefix}-INITIAL_FORMS": str(initial)}


def posted_rows(prefix: str, rows: list[dict]) -> dict:
    data = {}
    for index, row in enumerate(rows):
        for name, value in row.items():
            if name == "DELETE":
                if value:
                    data[f"{prefix}-{index}-DELETE"] = "on"
            elif not name.startswith("_"):
                data[f"{prefix}-{index}-{name}"] = value
    return data


def rows_read(form: dict, prefix: str, rows: list[dict]) -> list[dict]:
    """The rows the server reads: as many as the posted count says (Django's own management form), less
    the removed rows and the rows left as the page sends an unused one."""
    management_form = ManagementForm(form, prefix=prefix)
    assert management_form.is_valid(), "saved although the form's line count was broken"
    read = rows[: management_form.cleaned_data["TOTAL_FORMS"]]
    return [row for row in read if not row["DELETE"] and (row["product"] or row["quantity"] not in ("", "1"))]


def line_as_cleaned(row: dict, line_form: type) -> tuple:
    """What the line's own fields make of the row, each value checked against what a good row meant."""
    fields = line_form.base_fields
    product = cleaned(fields["product"], row["product"])
    quantity = cleaned(fields["quantity"], row["quantity"])
    assert product is not None and quantity is not None, f"a line the form refuses was saved: {row}"
    values = [quantity]
    if "price" in fields:
        values.append(cleaned(fields["price"], row["price"]))
    if "_meant" in row:
        assert values == row["_meant"], f"{row} was read as {values}"
    return (product, *values)


@pytest.mark.django_db
@settings(max_examples=ORDER_EXAMPLES, **WEB)
@given(data=st.data())
def test_order_lines_are_saved_exactly_or_refused_in_russian_with_the_old_order_kept(
    client, hunter, deal_at_deal_stage, data
):
    products = [make_product(list_price=Decimal("250.00")), make_product(list_price=Decimal("90.00"))]
    order_set_lines(
        acting_user=hunter,
        deal=deal_at_deal_stage,
        lines=[OrderLineInput(product=products[0], quantity=Decimal("2"))],
    )
    rows = line_rows(data.draw, products=[str(product.pk) for product in products], priced=True)
    initial = data.draw(st.sampled_from([0, min(1, len(rows))]))
    form = {
        **management(data.draw, "lines", rows, initial),
        **posted_rows("lines", rows),
        "comment": data.draw(st.one_of(st.just(""), words, nasty_text)),
    }
    confirmation = data.draw(st.sampled_from(["none", "every price", "noise"]))
    if confirmation == "every price":  # the hunter confirmed every price the page showed
        form["confirm_prices"] = ";".join(
            f"{row['product']}:{row['_meant'][1]}"
            for row in rows
            if row.get("_meant") and row["_meant"][1] is not None
        )
    elif confirmation == "noise":
        form["confirm_prices"] = data.draw(st.one_of(nasty_text, st.just("1:sNaN;x:1;2:Infinity")))
    client.force_login(hunter)
    with rolled_back():
        order = Order.objects.get(deal=deal_at_deal_stage)
        lines_before = list(order.lines.values_list("product_id", "quantity", "price"))
        versions_before = row_counts(OrderVersion, OrderVersionLine)
        response = client.post(reverse("deals:order", args=[deal_at_deal_stage.pk]), form)

        assert response.status_code in (302, 400)
        order.refresh_from_db()
        if response.status_code == 400:
            event("refused")
            assert_errors_shown(response, response.context["forms"]["order"], echoed=values_of(form))
            assert list(order.lines.values_list("product_id", "quantity", "price")) == lines_before
            assert order.total == Decimal("500.00")
            assert row_counts(OrderVersion, OrderVersionLine) == versions_before
            return
        event("saved")
        expected = sorted(
            (product.pk, quantity, product.list_price if price is None else price)
            for product, quantity, price in (
                line_as_cleaned(row, OrderLineForm) for row in rows_read(form, "lines", rows)
            )
        )
        lines = list(order.lines.all())
        assert sorted((line.product_id, line.quantity, line.price) for line in lines) == expected
        # Rubles are rounded half up to the kopeck (2,100 × 58,85 = 123,585 → 123,59), not to even.
        assert order.total == sum((q * p for _id, q, p in expected), Decimal("0")).quantize(
            Decimal("0.01"), rounding=ROUND_HALF_UP
        )
        assert production_problems(order) == [] and all(production_problems(line) == [] for line in lines)
        assert client.get(reverse("deals:detail", args=[deal_at_deal_stage.pk])).status_code == 200


@pytest.mark.django_db
@settings(max_examples=SAMPLE_EXAMPLES, **WEB)
@given(data=st.data())
def test_sample_request_is_saved_line_by_line_or_refused_in_russian_with_nothing_saved(
    client, hunter, deal_at_samples_stage, data
):
    rows = line_rows(data.draw, products=[str(make_product().pk), str(make_product().pk)], priced=False)
    receiver = data.draw(
        posted_form(
            {
                "receiver_name": "Мария Соколова",
                "receiver_phone": "+7 912 000-11-22",
                "delivery_address": "Сургут, ул. Мира, 7",
                "potential_volume": "40 л в месяц",
            },
            {
                "receiver_name": nasty_text,
                "receiver_phone": phone_text,
                "delivery_address": nasty_text,
                "potential_volume": nasty_text,
            },
        )
    )
    form = {**management(data.draw, "sample_lines", rows, 0), **posted_rows("sample_lines", rows), **receiver}
    client.force_login(hunter)
    with rolled_back():
        before = row_counts(SampleRequest, SampleLine)
        response = client.post(reverse("deals:samples", args=[deal_at_samples_stage.pk]), form)

        assert response.status_code in (302, 400)
        if response.status_code == 400:
            event("refused")
            assert_errors_shown(response, response.context["forms"]["samples"], echoed=values_of(form))
            assert row_counts(SampleRequest, SampleLine) == before
            return
        event("saved")
        request = SampleRequest.objects.get(deal=deal_at_samples_stage)
        expected = sorted(
            (product.pk, int(quantity))
            for product, quantity in (
                line_as_cleaned(row, SampleLineForm) for row in rows_read(form, "sample_lines", rows)
            )
        )
        assert sorted(request.lines.values_list("product_id", "quantity")) == expected
        assert request.delivery_address == receiver["delivery_address"].strip()
        assert production_problems(request) == [] and phone_is_stable(request.receiver_phone)


# --- the pay scheme (the head) --------------------------------------------------------------------------

SCHEME_VALID = {
    "effective_from": "2026-06-01",
    "fixed_amount": "10000.00",
    "new_client_rate": "0.05",
    "existing_client_rate": "0.025",
    "margin_bonus_rate": "0.10",
    "accelerator": "marginal",
    "accelerator_multiplier": "2",
    "department_bonus_split": "equal",
}
rate_typed = st.decimals(min_value=0, max_value=1, places=4).map(str)


@pytest.mark.django_db
@settings(max_examples=SCHEME_EXAMPLES, **WEB)
@given(
    data=posted_form(
        SCHEME_VALID,
        {
            "effective_from": date_text,
            "fixed_amount": money_text,
            "new_client_rate": number_text,
            "existing_client_rate": number_text,
            "margin_bonus_rate": number_text,
            "accelerator": nasty_text,
            "accelerator_multiplier": number_text,
            "department_bonus_split": nasty_text,
        },
        {
            "fixed_amount": money_typed,
            "new_client_rate": rate_typed,
            "existing_client_rate": rate_typed,
            "margin_bonus_rate": rate_typed,
            "accelerator": st.sampled_from(["marginal", "retroactive"]),
            "accelerator_multiplier": st.decimals(min_value=1, max_value=10, places=2).map(str),
            "department_bonus_split": st.sampled_from(["equal", "revenue_share"]),
        },
    )
)
def test_pay_scheme_is_saved_as_typed_or_refused_in_russian_with_the_versions_unchanged(
    client, sales_head, data
):
    client.force_login(sales_head)
    with rolled_back():
        before = list(PaySchemeVersion.objects.values())
        response = client.post(reverse("compensation:scheme"), data)

        assert response.status_code in (302, 400)
        if response.status_code == 400:
            event("refused")
            assert_errors_shown(response, response.context["form"], echoed=values_of(data))
            assert list(PaySchemeVersion.objects.values()) == before
            return
        event("saved")
        version = PaySchemeVersion.objects.latest("created_at")
        for name in ("new_client_rate", "existing_client_rate", "margin_bonus_rate"):
            assert 0 <= getattr(version, name) <= 1
        assert version.accelerator_multiplier >= 1 and version.fixed_amount == as_money(data["fixed_amount"])
        assert version.effective_from.day == 1 and production_problems(version) == []
