"""Demo plans: last month's and this month's for the hunters who have finished onboarding."""

from decimal import Decimal

from django.utils import timezone

from accounts.models import User

from .models import MonthlyPlan
from .months import month_start, previous_month
from .services import PlanRow, plans_save

PLANNED = {"ivanov": "60000", "smirnova": "40000", "sokolov": "50000"}


def seed_demo_plans(*, head: User) -> bool:
    """Sets the plans once; returns whether it did."""
    this_month = month_start(timezone.localdate())
    if MonthlyPlan.objects.filter(month=this_month, hunter__username__in=PLANNED).exists():
        return False
    hunters = User.objects.filter(username__in=PLANNED)
    for month in (previous_month(this_month), this_month):
        plans_save(
            acting_user=head,
            month=month,
            rows=[
                PlanRow(
                    hunter=hunter,
                    revenue_target=Decimal(PLANNED[hunter.username]),
                    deals_target=1,
                    leads_target=5,
                    calls_target=40,
                    meetings_target=4,
                    messages_target=10,
                )
                for hunter in hunters
            ],
        )
    return True
