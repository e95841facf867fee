"""The pay workflow as tests need it: a month closed the way the head and the accountant close it."""

from datetime import date, datetime, time

from django.utils import timezone

from accounts.roles import Role
from compensation.models import Statement
from compensation.services import statement_approve, statement_lock
from kpi.months import month_start, next_month
from tests.factories import UserFactory


def after_month(month: date) -> datetime:
    """Noon on the first day of the next month: the earliest a month's statement is approved and locked."""
    return timezone.make_aware(datetime.combine(next_month(month_start(month)), time(12)))


def staff(role: str, username: str):
    from accounts.models import User

    return User.objects.filter(role=role, is_active=True).first() or UserFactory(username=username, role=role)


def approve(hunter, month: date, *, head=None) -> Statement:
    head = head or staff(Role.SALES_HEAD, "wf_head")
    return statement_approve(acting_user=head, hunter=hunter, month=month, at=after_month(month))


def close_month(hunter, month: date, *, head=None, accountant=None) -> Statement:
    """The head approves the hunter's statement and the accountant locks it, right after the month."""
    approve(hunter, month, head=head)
    accountant = accountant or staff(Role.ACCOUNTANT, "wf_buh")
    return statement_lock(acting_user=accountant, hunter=hunter, month=month, at=after_month(month))
