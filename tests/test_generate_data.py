"""``generate_data``: a coherent sales history, exactly as large as asked, added once."""

from datetime import date, datetime
from decimal import Decimal
from io import StringIO
from itertools import pairwise

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from django.db.models import Count, F, Sum
from django.utils import timezone

from accounts.models import User
from accounts.roles import Role
from atlanset_portal import data_generator
from compensation.models import Statement
from compensation.statements import compute_statement, statement_for
from deals import stages
from deals.models import Client, ClientPhone, Deal, Order, Payment, StageChange
from deals.phones import normalize_phone
from deals.requisites import (
    validate_bik,
    validate_correspondent_account,
    validate_inn,
    validate_kpp,
    validate_ogrn,
    validate_settlement_account,
)
from deals.search import client_search_text, contact_search_text
from deals.selectors import deal_facts
from kpi.models import Activity, MonthlyPlan
from tests.workflow import close_month

TINY = {"hunters": 3, "clients": 40, "deals": 120, "activities": 600, "payments": 80, "months": 6}


def _generate(**options) -> str:
    out = StringIO()
    call_command("generate_data", stdout=out, **options)
    return out.getvalue()


def _hunters():
    return User.objects.filter(username__startswith=data_generator.HUNTER_PREFIX)


def _deals():
    return Deal.objects.filter(external_key__startswith=data_generator.KEY_PREFIX)


def _clients():
    return Client.objects.filter(external_key__startswith=data_generator.KEY_PREFIX)


@pytest.fixture
def generated(db):
    return _generate(**TINY)


def test_creates_exactly_what_the_flags_ask(generated):
    hunters = _hunters()
    assert hunters.count() == 3
    assert set(hunters.values_list("role", flat=True)) == {Role.HUNTER}
    assert _clients().count() == 40
    assert _deals().count() == 120
    assert Activity.objects.filter(owner__in=hunters).count() == 600
    assert Payment.objects.filter(deal__in=_deals()).count() == 80
    for role in (Role.SALES_HEAD, Role.ACCOUNTANT, Role.PRODUCTION):
        assert User.objects.filter(role=role).exists()
    assert "activities: 600" in generated


def test_generated_users_sign_in_with_the_password_and_have_their_role_group(generated):
    for user in [*_hunters(), User.objects.get(username="gen-head")]:
        assert user.check_password(data_generator.DEFAULT_PASSWORD)
        assert list(user.groups.values_list("name", flat=True)) == [user.role]
    assert len(set(_hunters().values_list("extension", flat=True))) == 3


def test_payments_only_on_deals_at_or_past_the_payment_stage(generated):
    allowed = stages.ORDER[stages.ORDER.index(stages.Stage.PAYMENT) :]
    payments = Payment.objects.filter(deal__in=_deals())
    assert set(payments.values_list("deal__stage", flat=True)) <= set(allowed)
    for payment in payments:
        assert payment.accrual_month == payment.received_on.replace(day=1)
        assert payment.received_on == timezone.localdate(payment.recorded_at)
        assert (payment.kind == Payment.Kind.PAYMENT) == (payment.amount > 0)
    duplicated = payments.exclude(bank_document="").values("deal", "bank_document").annotate(n=Count("pk"))
    assert not duplicated.filter(n__gt=1).exists()


def test_paid_in_full_on_is_the_receipt_that_covered_the_order(generated):
    for deal in _deals():
        total = Order.objects.filter(deal=deal).values_list("total", flat=True).first() or Decimal("0")
        running, covered_on = Decimal("0"), None
        for amount, received_on in deal.payments.order_by("received_on", "pk").values_list(
            "amount", "received_on"
        ):
            running += amount
            if total and running >= total:
                covered_on = received_on
                break
        assert deal.paid_in_full_on == covered_on
        if deal.stage == stages.Stage.CLOSED:
            assert covered_on is not None


def test_stage_history_ends_at_the_current_stage_with_increasing_times(generated):
    for deal in _deals():
        changes = list(deal.stage_changes.order_by("at", "pk"))
        assert changes[0].kind == StageChange.Kind.CREATED
        assert changes[0].at == deal.created_at
        assert [change.at for change in changes] == sorted(change.at for change in changes)
        assert changes[-1].to_stage == deal.stage
        moves = [change for change in changes if change.kind in ("created", "forward")]
        assert deal.stage_entered_at == moves[-1].at
        for before, after in pairwise(moves):
            assert after.from_stage == before.to_stage
            assert stages.next_stage(before.to_stage) == after.to_stage
        if deal.status == "lost":
            assert changes[-1].kind == StageChange.Kind.LOST and deal.closed_at == changes[-1].at
        if deal.status == "won":
            assert changes[-1].kind == StageChange.Kind.WON and deal.closed_at == changes[-1].at
        assert changes[-1].at <= timezone.now()


def test_every_passed_stage_meets_its_exit_criteria(generated):
    for deal in _deals():
        facts = deal_facts(deal)
        first = deal.stage_changes.get(kind=StageChange.Kind.CREATED).to_stage
        refunded = deal.payments.filter(kind=Payment.Kind.REFUND).exists()
        passed = stages.ORDER[stages.ORDER.index(first) : stages.ORDER.index(deal.stage)]
        for stage in passed:
            if stage == stages.Stage.PAYMENT and refunded:
                continue  # a refund after closing takes the deal below its order total again
            assert not stages.missing_criteria(stage, facts), (deal.pk, stage)
        if deal.status == "won":
            assert not stages.missing_criteria(stages.Stage.CLOSED, facts)


def test_lost_deals_have_a_reason_and_the_funnel_narrows(generated):
    deals = _deals()
    assert not deals.filter(status="lost", lost_reason__isnull=True).exists()
    assert set(deals.filter(status="lost").values_list("stage", flat=True)) <= set(stages.LOSABLE_STAGES)
    assert not deals.exclude(status="lost").filter(lost_reason__isnull=False).exists()
    assert deals.filter(status="lost").exists()
    assert deals.exclude(stage=stages.Stage.LEAD).exists()


def test_new_client_flag_follows_the_clients_earlier_payments(generated):
    for deal in _deals():
        paid_before = Payment.objects.filter(
            deal__client=deal.client, kind=Payment.Kind.PAYMENT, recorded_at__lt=deal.created_at
        ).exists()
        assert deal.is_new_client == (not paid_before)
        if deal.stage_changes.get(kind=StageChange.Kind.CREATED).to_stage == stages.REPEAT_ORDER_START:
            assert not deal.is_new_client  # a repeat order starts at «Сделка» only for a paying client
    assert _deals().filter(is_new_client=False).exists()


def test_deals_and_activities_belong_to_the_clients_hunter(generated):
    deals = _deals()
    assert not deals.exclude(owner=F("client__owner")).exists()
    assert set(deals.values_list("owner__role", flat=True)) == {Role.HUNTER}
    assert not deals.filter(created_at__lt=F("client__created_at")).exists()
    activities = Activity.objects.filter(owner__in=_hunters())
    assert not activities.filter(deal__isnull=False).exclude(owner=F("deal__owner")).exists()
    assert not activities.filter(client__isnull=False).exclude(owner=F("client__owner")).exists()
    assert not activities.filter(at__gt=timezone.now()).exists()
    calls = activities.filter(kind="call")
    assert calls.filter(source="telephony").count() > calls.filter(source="manual").count()


def test_clients_have_normalised_phones_and_valid_requisites(generated):
    numbers = list(ClientPhone.objects.filter(client__in=_clients()).values_list("number", flat=True))
    assert numbers and all(normalize_phone(number) == number for number in numbers)
    assert _clients().annotate(n=Count("phones")).filter(n=0).count() == 0
    with_inn = _clients().exclude(inn="")
    assert with_inn.exists()
    for client in with_inn:
        validate_inn(client.inn)
        validate_ogrn(client.ogrn)
        if len(client.inn) == 10:
            validate_kpp(client.kpp)
        if client.bik:
            validate_bik(client.bik)
            validate_settlement_account(client.settlement_account, client.bik)
            validate_correspondent_account(client.correspondent_account, client.bik)
    for client in _clients().filter(deals__stage__in=stages.FINANCE_STAGES).distinct():
        assert not client.missing_requisites()


def test_generated_clients_and_contacts_are_searchable_as_the_services_would_make_them(generated):
    clients = _clients().prefetch_related("phones", "contacts")
    assert any(client.contacts.all() for client in clients)
    for client in clients:
        phones = [phone.number for phone in client.phones.all()]
        assert client.search_text == client_search_text(client, phones=phones, contacts=client.contacts.all())
        for contact in client.contacts.all():
            assert contact.search_text == contact_search_text(contact)


def test_a_monthly_plan_for_every_hunter_and_month_of_work(generated):
    plans = MonthlyPlan.objects.filter(hunter__in=_hunters())
    first = timezone.localdate().replace(day=1)
    for hunter in _hunters():
        months = set(plans.filter(hunter=hunter).values_list("month", flat=True))
        hired = timezone.localdate(hunter.date_joined).replace(day=1)
        assert first in months
        assert min(months) >= min(hired, first)
        assert len(months) == (first.year - min(months).year) * 12 + first.month - min(months).month + 1
    assert plans.filter(revenue_target__gt=0, calls_target__gt=0).count() == plans.count()


def _counts():
    return {model._meta.label: model.objects.count() for model in apps.get_models()}


def test_a_second_run_without_replace_is_refused_and_changes_nothing(generated):
    before = _counts()
    with pytest.raises(CommandError, match=r"already exists.*--replace"):
        _generate(**TINY)
    assert _counts() == before


def test_replace_deletes_the_previous_rows_first(generated):
    first_keys = set(_deals().values_list("pk", flat=True))
    output = _generate(**{**TINY, "clients": 30, "deals": 90, "seed": 7}, replace=True)
    assert "Deleted" in output
    assert _hunters().count() == 3
    assert _clients().count() == 30
    assert _deals().count() == 90
    assert Activity.objects.filter(owner__in=_hunters()).count() == 600
    assert not set(_deals().values_list("pk", flat=True)) & first_keys
    assert User.objects.filter(username="gen-head").count() == 1


def test_replace_refused_while_a_generated_hunter_has_a_locked_statement(generated):
    hunter = _hunters().first()
    close_month(hunter, timezone.localdate().replace(day=1))
    assert Statement.objects.get(hunter=hunter, month=timezone.localdate().replace(day=1)).is_locked
    before = _counts()
    with pytest.raises(CommandError, match="refused"):
        _generate(**TINY, replace=True)
    assert _counts() == before


def test_scale_multiplies_the_defaults_and_keeps_two_hunters(db):
    _generate(scale=0.0005, months=12)
    sizes = data_generator.scaled_sizes(0.0005)
    assert sizes == data_generator.Sizes(hunters=2, clients=10, deals=50, activities=500, payments=100)
    assert _hunters().count() == 2
    assert _clients().count() == 10
    assert _deals().count() == 50
    assert Activity.objects.filter(owner__in=_hunters()).count() == 500
    assert Payment.objects.filter(deal__in=_deals()).count() == 100


def test_an_explicit_flag_wins_over_scale(db):
    _generate(scale=0.0005, months=12, clients=12)
    assert _clients().count() == 12
    assert _deals().count() == 50


def test_existing_demo_data_is_reused_and_left_alone(db):
    call_command("seed_demo", stdout=StringIO())
    demo_deals = set(Deal.objects.values_list("pk", "stage", "status"))
    demo_users = set(User.objects.values_list("username", flat=True))
    output = _generate(**TINY)
    assert "staff users" not in output  # the demo head, accountant and production user are used
    assert not User.objects.filter(username__in=["gen-head", "gen-buh", "gen-prod"]).exists()
    assert not set(_hunters().values_list("extension", flat=True)) & set(
        User.objects.exclude(username__startswith="gen-").values_list("extension", flat=True)
    )
    _generate(**TINY, replace=True)
    assert set(
        Deal.objects.exclude(external_key__startswith="gen-").values_list("pk", "stage", "status")
    ) == (demo_deals)
    assert demo_users <= set(User.objects.values_list("username", flat=True))


def _fingerprint():
    return (
        list(_clients().order_by("external_key").values_list("name", "inn", "created_at")),
        sorted(ClientPhone.objects.filter(client__in=_clients()).values_list("number", flat=True)),
        list(_deals().order_by("external_key").values_list("stage", "status", "created_at", "is_new_client")),
        sorted(Payment.objects.filter(deal__in=_deals()).values_list("amount", "received_on")),
        Activity.objects.filter(owner__in=_hunters()).aggregate(total=Sum("duration_s"))["total"],
    )


def test_the_same_seed_and_moment_give_the_same_data(db):
    now = timezone.make_aware(datetime(2026, 3, 18, 15, 30))
    sizes = data_generator.Sizes(hunters=2, clients=25, deals=60, activities=300, payments=40)
    data_generator.generate(sizes=sizes, months=8, seed=11, now=now)
    first = _fingerprint()
    data_generator.delete_generated()
    data_generator.generate(sizes=sizes, months=8, seed=11, now=now)
    assert _fingerprint() == first
    assert Deal.objects.filter(created_at__gt=now).count() == 0


# --- a working department's shape --------------------------------------------------------------------

SHAPE_NOW = timezone.make_aware(datetime(2026, 3, 18, 15, 30))
SHAPE_SIZES = data_generator.Sizes(hunters=3, clients=80, deals=300, activities=900, payments=150)


def paid_figures(lines) -> list[tuple]:
    """What each line pays and on what, compared as numbers (posted rates keep eight decimal places)."""
    return [(line.kind, line.amount, line.base, line.rate, line.deal_key, line.source_id) for line in lines]


@pytest.fixture
def department(db):
    data_generator.generate(sizes=SHAPE_SIZES, months=12, seed=3, now=SHAPE_NOW, busy_open_deals=45)


def test_a_fifth_of_the_deals_are_open_and_the_busiest_hunter_carries_the_asked_load(department):
    deals = _deals()
    assert deals.count() == 300
    assert 0.18 <= deals.filter(status="open").count() / 300 <= 0.22
    open_by_hunter = dict(deals.filter(status="open").values_list("owner").annotate(n=Count("pk")).order_by())
    assert max(open_by_hunter.values()) == 45
    # Stalled prospects stay where they were left; nobody's deal is open past the stage it reached.
    assert not deals.filter(status="open", stage=stages.Stage.CLOSED, paid_in_full_on__isnull=True).exists()
    assert not deals.filter(status="open", lost_reason__isnull=False).exists()


def test_every_ended_month_is_approved_locked_and_paid_and_this_month_is_a_stored_draft(department):
    statements = Statement.objects.filter(hunter__in=_hunters())
    months = sorted(set(statements.values_list("month", flat=True)))
    this_month = SHAPE_NOW.date().replace(day=1)
    assert months[-1] == this_month
    assert len(months) == 12
    for record in statements.select_related("hunter"):
        if record.month == this_month:
            assert record.status == Statement.Status.DRAFT
            assert record.computed_lines is not None and not record.needs_check
            shown = statement_for(hunter=record.hunter, month=record.month)
            assert shown.total == record.computed_total
        else:
            assert record.status == Statement.Status.PAID
            assert record.approved_by is not None and record.locked_by is not None
            assert record.approved_at < record.locked_at < record.paid_at <= SHAPE_NOW
            assert record.total == record.approved_total == sum(line.amount for line in record.lines.all())
        # What is stored is what the statement engine works out from the data today.
        fresh = compute_statement(hunter=record.hunter, month=record.month)
        stored = statement_for(hunter=record.hunter, month=record.month)
        assert paid_figures(stored.lines) == paid_figures(fresh.lines)
        assert stored.total == fresh.total
    # Each hunter-month of work has its statement (a plan or money in it).
    planned = set(MonthlyPlan.objects.filter(hunter__in=_hunters()).values_list("hunter", "month"))
    assert planned <= set(statements.values_list("hunter", "month"))


@pytest.mark.parametrize(
    ("day", "status"),
    [(2, "draft"), (4, "approved"), (7, "locked"), (12, "paid")],
)
def test_last_months_statements_stand_where_the_head_and_accountant_leave_them_by_that_day(db, day, status):
    now = timezone.make_aware(datetime(2026, 3, day, 15, 30))
    sizes = data_generator.Sizes(hunters=2, clients=30, deals=100, activities=100, payments=30)
    data_generator.generate(sizes=sizes, months=4, seed=9, now=now, busy_open_deals=5)
    statements = Statement.objects.filter(hunter__in=_hunters())
    assert set(statements.filter(month=date(2026, 2, 1)).values_list("status", flat=True)) == {status}
    assert set(statements.filter(month=date(2026, 1, 1)).values_list("status", flat=True)) == {"paid"}
    assert set(statements.filter(month=date(2026, 3, 1)).values_list("status", flat=True)) == {"draft"}


def test_generated_locked_statements_are_replaced_with_the_rest(department):
    assert Statement.objects.filter(hunter__in=_hunters(), status="paid").exists()
    data_generator.delete_generated()
    assert not Statement.objects.filter(hunter__username__startswith="gen-hunter-").exists()
    assert not _deals().exists()
