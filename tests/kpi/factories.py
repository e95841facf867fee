"""KPI test data made the way the portal makes it: activities through ``activity_log``, PBX calls through
``call_records_import``, payments through ``payment_record`` on deals walked to the payment stage.

Times are given as Yekaterinburg wall-clock moments (the portal's TIME_ZONE), as a hunter would say them.
"""

import itertools
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.utils import timezone

from accounts.models import User
from accounts.roles import Role
from deals.models import Client, Deal, Payment
from deals.services import payment_record, payment_refund
from deals.stages import Stage
from kpi.models import Activity, CallDirection, MonthlyPlan
from kpi.services import PlanRow, activity_log, call_records_import, plans_save
from kpi.telephony import CallRow
from tests.deals.factories import Pipeline, make_client, make_deal
from tests.factories import UserFactory

YEKT = ZoneInfo("Asia/Yekaterinburg")
ORDER_TOTAL = Decimal("5000.00")  # Pipeline's order: 10 × a 500 ₽ product

_sequence = itertools.count(1)


def local(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    """A Yekaterinburg wall-clock moment."""
    return datetime(year, month, day, hour, minute, tzinfo=YEKT)


def make_hunter(**fields) -> User:
    number = next(_sequence)
    defaults = {
        "username": f"kpi_hunter_{number}",
        "full_name": f"Хантер {number:03d}",
        "role": Role.HUNTER,
        "extension": str(200 + number),
    }
    return UserFactory(**{**defaults, **fields})


def pbx_call(
    hunter: User | None,
    *,
    at: datetime,
    duration_s: int = 60,
    direction: str = CallDirection.OUTGOING,
    other_number: str = "",
    extension: str | None = None,
) -> CallRow:
    """One call as the PBX reports it, stored through ``call_records_import``; returns the row."""
    row = CallRow(
        external_id=f"kpi-test-call-{next(_sequence)}",
        started_at=at,
        direction=direction,
        extension=hunter.extension if extension is None else extension,
        other_number=other_number,
        duration_s=duration_s,
    )
    call_records_import(rows=[row])
    return row


def log_activity(user: User, kind: str, *, at: datetime, client: Client | None = None, **kwargs) -> Activity:
    """A manual activity on one of the user's clients (a new card dated last year unless given), entered
    on the day it is dated."""
    client = client or make_client(acting_user=user, created_at=local(2020, 1, 15))
    kwargs.setdefault("entered_on", timezone.localdate(at))
    return activity_log(acting_user=user, kind=kind, client=client, at=at, **kwargs)


def paid_deal(
    pipeline: Pipeline, *payments: tuple[Decimal | str, date], client: Client | None = None
) -> Deal:
    """A deal walked to the payment stage and paid as listed: (amount, received on) pairs."""
    deal = make_deal(acting_user=pipeline.hunter, client=client or make_client(acting_user=pipeline.hunter))
    deal = pipeline.advance_to(deal, Stage.PAYMENT)
    for amount, received_on in payments:
        payment_record(
            acting_user=pipeline.accountant,
            deal=deal,
            amount=Decimal(amount),
            received_on=received_on,
            bank_document=f"п/п {next(_sequence)}",
        )
    return Deal.objects.get(pk=deal.pk)


def refund(deal: Deal, amount: Decimal | str, recorded_on: date, by: User) -> Payment:
    """Money returned to the client, recorded by the accountant through ``payment_refund``."""
    return payment_refund(
        acting_user=by,
        deal=deal,
        amount=Decimal(amount),
        recorded_on=recorded_on,
        bank_document=f"возврат {next(_sequence)}",
    )


def set_plan(head: User, hunter: User, month: date, **targets) -> MonthlyPlan:
    [plan] = plans_save(acting_user=head, month=month, rows=[PlanRow(hunter=hunter, **targets)])
    return plan
