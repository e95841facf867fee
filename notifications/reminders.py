"""The daily reminder rules (SPEC §7). Each rule reads the database for one day and says who should be
reminded of what; ``notifications.services`` stores and sends them once per subject, kind and day.

A rule is given ``today`` and ``days``: the dates whose reminders go out today (today itself, plus
the days off just before it, so a birthday on a Sunday is remembered on Monday).
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db.models import Exists, Max, OuterRef, Q, Subquery
from django.db.models.functions import ExtractDay, ExtractMonth
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.roles import Role
from atlanset_portal.templatetags.formatting import rub
from atlanset_portal.wording import ACCUSATIVE, month_year
from compensation.models import Statement
from compensation.services import hunters_of_month
from deals.models import ClientHoliday, Contact, Deal, Transfer
from deals.selectors import overdue_deferred_payments
from deals.stages import ORDER, DealStatus, Stage, definition
from kpi.models import Activity, Task
from kpi.months import month_start, previous_month

from .models import NotificationKind


@dataclass(frozen=True)
class Reminder:
    recipient_id: int
    kind: str
    subject_key: str
    title: str
    body: str = ""
    url: str = ""


def _people(role: Role) -> list[int]:
    return list(User.objects.filter(role=role, is_active=True).values_list("pk", flat=True))


def _deal_url(deal_id: int) -> str:
    return reverse("deals:detail", args=[deal_id])


def _client_url(client_id: int) -> str:
    return reverse("clients:detail", args=[client_id])


def _day(value: date) -> str:
    return date_format(value, "j E")


def follow_ups_due(today: date, days: list[date]) -> Iterator[Reminder]:
    """Open tasks (kpi.Task: a next contact agreed on a call, meeting, message, follow-up or proposal)
    due today or overdue, to whoever works the deal now (the client, for a contact outside a deal);
    a task of a closed deal waits. One reminder per deal, or per client outside deals, a day."""
    tasks = (
        Task.objects.open()
        .filter(due_on__lte=today)
        .filter(
            Q(deal__isnull=False, deal__status=DealStatus.OPEN, deal__owner__is_active=True)
            | Q(deal__isnull=True, client__owner__is_active=True)
        )
        .values_list(
            "deal_id", "deal__owner_id", "client_id", "client__owner_id", "client__name", "due_on", "due_time"
        )
    )
    for deal_id, deal_owner_id, client_id, client_owner_id, client_name, due_on, due_time in tasks.iterator(
        chunk_size=2000
    ):
        overdue = due_on < days[0]
        title = (
            _("Просрочен контакт с «%(client)s» (с %(day)s)")
            if overdue
            else _("Сегодня связаться с «%(client)s»")
        ) % {"client": client_name, "day": _day(due_on)}
        if due_time is not None and not overdue:
            title = _("%(title)s в %(time)s") % {"title": title, "time": f"{due_time:%H:%M}"}
        yield Reminder(
            recipient_id=deal_owner_id if deal_id else client_owner_id,
            kind=NotificationKind.FOLLOW_UP_DUE,
            subject_key=f"deal:{deal_id}" if deal_id else f"client:{client_id}",
            title=title,
            url=_deal_url(deal_id) if deal_id else _client_url(client_id),
        )


def deferred_payments_overdue(today: date, days: list[date]) -> Iterator[Reminder]:
    """Deferred payments past their term: the deal's owner and the accountants ("Получение оплаты")."""
    accountants = _people(Role.ACCOUNTANT)
    for item in overdue_deferred_payments(today=today):
        owner = [item.owner_id] if item.owner_active else []
        title = _("Просрочена оплата «%(client)s»: срок был %(day)s") % {
            "client": item.client_name,
            "day": _day(item.due_on),
        }
        for recipient_id in {*owner, *accountants}:
            yield Reminder(
                recipient_id=recipient_id,
                kind=NotificationKind.PAYMENT_OVERDUE,
                subject_key=f"deal:{item.deal_id}",
                title=title,
                body=_("Не оплачено: %(amount)s.") % {"amount": rub(item.outstanding)},
                url=_deal_url(item.deal_id),
            )


def _settlement_falls_on(received_on: date, cadence: str, day: date) -> bool:
    if day <= received_on:
        return False
    if cadence == "weekly":
        return (day - received_on).days % 7 == 0
    # Monthly on the day of receipt; in a shorter month, on its last day.
    following = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    last_day = (following - timedelta(days=1)).day
    return day.day == min(received_on.day, last_day)


def consignment_settlements_due(today: date, days: list[date]) -> Iterator[Reminder]:
    """Consignment clients whose weekly or monthly settlement falls due: check what was sold."""
    deals = Deal.objects.filter(
        status=DealStatus.OPEN,
        client__payment_terms="consignment",
        owner__is_active=True,
        shipment__received_on__isnull=False,
        paid_in_full_on__isnull=True,
    ).values_list("pk", "owner_id", "client__name", "client__consignment_cadence", "shipment__received_on")
    for pk, owner_id, client_name, cadence, received_on in deals:
        if any(_settlement_falls_on(received_on, cadence, day) for day in days):
            yield Reminder(
                recipient_id=owner_id,
                kind=NotificationKind.CONSIGNMENT_DUE,
                subject_key=f"deal:{pk}",
                title=_("Расчёт по реализации с «%(client)s»: узнайте, что продано")
                % {"client": client_name},
                url=_deal_url(pk),
            )


def idle_limit(stage: str) -> int:
    """Days a deal may rest in the stage before it is reported idle: the stage's own limit, unless the
    STAGE_IDLE_DAYS setting overrides it."""
    return int(settings.STAGE_IDLE_DAYS.get(stage, definition(stage).idle_limit_days))


def deals_idle(today: date, days: list[date]) -> Iterator[Reminder]:
    """Open deals with no stage change and no activity for longer than their stage's limit; a next
    contact agreed for a later date holds the reminder back."""
    last_activity = (
        Activity.objects.filter(deal=OuterRef("pk")).order_by().values("deal").annotate(last=Max("at"))
    )
    midnight = datetime.combine(today, time.min, tzinfo=timezone.get_current_timezone())
    conditions = Q()
    for stage in ORDER:
        limit = idle_limit(stage)
        conditions |= Q(stage=stage, stage_entered_at__lt=midnight - timedelta(days=limit)) & (
            Q(last_activity__isnull=True) | Q(last_activity__lt=midnight - timedelta(days=limit))
        )
    deals = (
        Deal.objects.filter(status=DealStatus.OPEN, owner__is_active=True)
        .exclude(next_contact_on__gt=today)
        .annotate(last_activity=Subquery(last_activity.values("last")))
        .filter(conditions)
        .values_list("pk", "owner_id", "client__name", "stage")
    )
    for pk, owner_id, client_name, stage in deals.iterator(chunk_size=2000):
        yield Reminder(
            recipient_id=owner_id,
            kind=NotificationKind.DEAL_IDLE,
            subject_key=f"deal:{pk}",
            title=_("Сделка с «%(client)s» без движения на этапе «%(stage)s»")
            % {"client": client_name, "stage": Stage(stage).label},
            url=_deal_url(pk),
        )


def _month_days(days: list[date]) -> Q:
    condition = Q()
    for day in days:
        condition |= Q(month=day.month, day=day.day)
        if day.month == 2 and day.day == 28 and (day + timedelta(days=1)).month == 3:
            condition |= Q(month=2, day=29)  # 29 February is celebrated on the 28th in other years
    return condition


def celebrations(today: date, days: list[date]) -> Iterator[Reminder]:
    """Birthdays of the clients' contacts and the clients' own holidays ("Ведение клиента")."""
    contacts = (
        Contact.objects.filter(birthday__isnull=False, client__owner__is_active=True)
        .annotate(month=ExtractMonth("birthday"), day=ExtractDay("birthday"))
        .filter(_month_days(days))
        .values_list("pk", "name", "client_id", "client__name", "client__owner_id")
    )
    for pk, name, client_id, client_name, owner_id in contacts:
        yield Reminder(
            recipient_id=owner_id,
            kind=NotificationKind.CELEBRATION,
            subject_key=f"contact:{pk}",
            title=_("День рождения: %(name)s («%(client)s»)") % {"name": name, "client": client_name},
            url=_client_url(client_id),
        )
    holidays = ClientHoliday.objects.filter(_month_days(days), client__owner__is_active=True).values_list(
        "pk", "name", "client_id", "client__name", "client__owner_id"
    )
    for pk, name, client_id, client_name, owner_id in holidays:
        yield Reminder(
            recipient_id=owner_id,
            kind=NotificationKind.CELEBRATION,
            subject_key=f"holiday:{pk}",
            title=_("Праздник у «%(client)s»: %(name)s") % {"client": client_name, "name": name},
            url=_client_url(client_id),
        )


def statements_pending(today: date, days: list[date]) -> Iterator[Reminder]:
    """After a month ends, its statements wait for the head's approval, then for the accountant's lock."""
    month = previous_month(month_start(today))
    hunters = hunters_of_month(month)
    if not hunters:
        return
    status = dict(
        Statement.objects.filter(month=month, hunter__in=hunters).values_list("hunter_id", "status")
    )
    to_approve = sum(1 for hunter in hunters if status.get(hunter.pk, Statement.Status.DRAFT) == "draft")
    to_lock = sum(1 for hunter in hunters if status.get(hunter.pk) == Statement.Status.APPROVED)
    url = f"{reverse('compensation:statements')}?month={month:%Y-%m}"
    month_name = month_year(month, ACCUSATIVE)
    if to_approve:
        for recipient_id in _people(Role.SALES_HEAD):
            yield Reminder(
                recipient_id=recipient_id,
                kind=NotificationKind.STATEMENTS_PENDING,
                subject_key=f"approve:{month:%Y-%m}",
                title=_("Расчётные листы за %(month)s ждут утверждения: %(count)s")
                % {"month": month_name, "count": to_approve},
                url=url,
            )
    if to_lock:
        for recipient_id in _people(Role.ACCOUNTANT):
            yield Reminder(
                recipient_id=recipient_id,
                kind=NotificationKind.STATEMENTS_PENDING,
                subject_key=f"lock:{month:%Y-%m}",
                title=_("Утверждённые расчётные листы за %(month)s ждут закрытия: %(count)s")
                % {"month": month_name, "count": to_lock},
                url=url,
            )


def transfers_due(today: date, days: list[date]) -> Iterator[Reminder]:
    """Temporary transfers whose return date has come while the client is still with the stand-in."""
    # Only the newest transfer of a client (or of a deal) stands: a later one supersedes a return date.
    due = Transfer.objects.filter(return_on__lte=today).select_related("client", "deal", "to_owner", "by")
    newer_of_deal = Transfer.objects.filter(deal=OuterRef("deal"), at__gt=OuterRef("at"))
    newer_of_client = Transfer.objects.filter(
        client=OuterRef("client"), deal__isnull=True, at__gt=OuterRef("at")
    )
    transfers = [
        *due.filter(deal__isnull=False).exclude(Exists(newer_of_deal)),
        *due.filter(deal__isnull=True).exclude(Exists(newer_of_client)),
    ]
    for transfer in transfers:
        current_owner = transfer.deal.owner_id if transfer.deal_id else transfer.client.owner_id
        if current_owner != transfer.to_owner_id:
            continue  # already returned or handed on
        title = _("Пора вернуть «%(client)s» от %(to)s (срок %(day)s)") % {
            "client": transfer.client.name,
            "to": transfer.to_owner,
            "day": _day(transfer.return_on),
        }
        url = _deal_url(transfer.deal_id) if transfer.deal_id else _client_url(transfer.client_id)
        recipients = {user.pk for user in (transfer.by, transfer.to_owner) if user.is_active}
        for recipient_id in recipients:
            yield Reminder(
                recipient_id=recipient_id,
                kind=NotificationKind.TRANSFER_RETURN,
                subject_key=f"transfer:{transfer.pk}",
                title=title,
                url=url,
            )


RULES = (
    follow_ups_due,
    deferred_payments_overdue,
    consignment_settlements_due,
    deals_idle,
    celebrations,
    statements_pending,
    transfers_due,
)
