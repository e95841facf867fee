"""Writes about activities, call records and plans."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from simple_history.utils import bulk_create_with_history

from accounts.access import can
from accounts.models import User
from accounts.roles import Capability, Role
from atlanset_portal.bulk import insert_rows
from atlanset_portal.wording import ACCUSATIVE, month_year
from atlanset_portal.workdays import working_days_back
from compensation.changes import ensure_month_open, month_status, pay_changed
from compensation.models import Statement
from deals.models import Client, ClientPhone, Deal
from imports.models import ImportJob
from imports.services import ImportJobFailed, JobRun, import_job_create, import_job_run

from .counters import PLAN_TARGETS
from .models import (
    Activity,
    ActivityKind,
    ActivitySource,
    CallRecord,
    DepartmentQuarterPlan,
    MonthlyPlan,
    Task,
)
from .months import month_start, previous_month, quarter_start
from .progress import progress_schedule
from .telephony import CallLogFileError, check_call_log, read_call_log

PLAN_FIELDS = PLAN_TARGETS


@transaction.atomic
def activity_log(
    *,
    acting_user: User,
    kind: str,
    client: Client,
    deal: Deal | None = None,
    at: datetime | None = None,
    outcome: str = "",
    note: str = "",
    next_contact_on: date | None = None,
    next_contact_time: time | None = None,
    entered_on: date | None = None,
) -> Activity:
    """A manual entry of a call, meeting, message, proposal, samples or follow-up (manual calls do not
    count for KPI: only the PBX's do). ``entered_on`` is the day the entry is made (today; a replay of
    history gives the day it was made then): the activity may be dated at most a few working days
    before it. A next contact agreed on any kind of activity becomes a task (``task_schedule``)."""
    if not can(acting_user, Capability.WORK_PIPELINE):
        raise PermissionDenied
    if not can(acting_user, Capability.VIEW_ALL_HUNTERS) and client.owner_id != acting_user.pk:
        raise PermissionDenied
    if deal is not None and deal.client_id != client.pk:
        raise ValidationError({"deal": _("Сделка относится к другому клиенту.")})
    if kind == ActivityKind.FOLLOW_UP and next_contact_on is None:
        raise ValidationError({"next_contact_on": _("Для дожима укажите дату следующего контакта.")})
    owner = client.owner if can(acting_user, Capability.VIEW_ALL_HUNTERS) else acting_user
    at = at or timezone.now()
    check_activity_date(owner=owner, at=at, entered_on=entered_on)
    activity = Activity(
        owner=owner,
        kind=kind,
        client=client,
        deal=deal,
        at=at,
        outcome=outcome.strip(),
        note=note.strip(),
        next_contact_on=next_contact_on,
        source=ActivitySource.MANUAL,
    )
    activity.full_clean()
    activity.save()
    if next_contact_on is not None:
        task_schedule(
            agreed_by=acting_user,
            client=client,
            deal=deal,
            due_on=next_contact_on,
            due_time=next_contact_time,
            what=activity.outcome or activity.note,
            activity=activity,
        )
    _activities_changed({(owner.pk, timezone.localdate(activity.at))})
    return activity


# --- tasks: the next contacts agreed with clients ---------------------------------------------------


def _thread(*, client: Client, deal: Deal | None):
    """The open task of a deal, or of the client outside any deal, with what it belongs to locked: one
    writer at a time keeps one open task per deal (and per client outside deals)."""
    if deal is not None:
        Deal.objects.select_for_update(no_key=True).filter(pk=deal.pk).first()
        return Task.objects.filter(deal=deal, status=Task.Status.OPEN)
    Client.objects.select_for_update(no_key=True).filter(pk=client.pk).first()
    return Task.objects.filter(client=client, deal__isnull=True, status=Task.Status.OPEN)


def _deal_next_contact_sync(deal_id: int | None) -> None:
    """``Deal.next_contact_on`` is the due date of the deal's open task (none: no next contact): the
    board, the deal list and the idle rule read it from the deal."""
    if deal_id is None:
        return
    due_on = (
        Task.objects.filter(deal_id=deal_id, status=Task.Status.OPEN)
        .order_by("due_on")
        .values_list("due_on", flat=True)
        .first()
    )
    deal = Deal.objects.select_for_update(no_key=True).get(pk=deal_id)
    if deal.next_contact_on != due_on:
        deal.next_contact_on = due_on
        deal.save(update_fields=["next_contact_on"])


@transaction.atomic
def task_schedule(
    *,
    agreed_by: User | None,
    client: Client,
    deal: Deal | None = None,
    due_on: date,
    due_time: time | None = None,
    what: str = "",
    activity: Activity | None = None,
) -> Task:
    """A next contact agreed with the client becomes an open task. It takes the place of the open task of
    the same deal (or of the client outside a deal), which is closed as moved to it: the contact agreed
    last is the next one. The services that record contacts (``activity_log``, ``follow_up_record``,
    ``proposal_record``) call it after their own checks of who may."""
    if deal is not None and deal.client_id != client.pk:
        raise ValidationError({"deal": _("Сделка относится к другому клиенту.")})
    now = timezone.now()
    previous = list(_thread(client=client, deal=deal).values_list("pk", flat=True))
    Task.objects.filter(pk__in=previous).update(status=Task.Status.MOVED, closed_at=now, closed_by=agreed_by)
    task = Task(
        client=client,
        deal=deal,
        activity=activity,
        due_on=due_on,
        due_time=due_time,
        what=what.strip()[:300],
        created_by=agreed_by,
        created_at=now,
    )
    task.full_clean(validate_constraints=False)
    task.save()
    Task.objects.filter(pk__in=previous).update(moved_to=task)
    _deal_next_contact_sync(deal.pk if deal else None)
    return task


def _checked_open_task(acting_user: User, task: Task) -> Task:
    """The task, locked, if the user works it (its hunter now, or the head) and it is still open. Its
    deal (or client) is locked first, in the order ``task_schedule`` takes them."""
    task = Task.objects.select_related("client", "deal").get(pk=task.pk)
    _thread(client=task.client, deal=task.deal)
    task = Task.objects.select_for_update(of=("self",)).select_related("client", "deal").get(pk=task.pk)
    works = can(acting_user, Capability.VIEW_ALL_HUNTERS) or (
        can(acting_user, Capability.WORK_PIPELINE)
        and (task.deal.owner_id if task.deal_id else task.client.owner_id) == acting_user.pk
    )
    if not works:
        raise PermissionDenied
    if task.status != Task.Status.OPEN:
        raise ValidationError(_("Задача уже закрыта: её выполнили или перенесли."))
    return task


@transaction.atomic
def task_done(*, acting_user: User, task: Task) -> Task:
    """The contact took place: the task is closed as done."""
    task = _checked_open_task(acting_user, task)
    task.status = Task.Status.DONE
    task.closed_at = timezone.now()
    task.closed_by = acting_user
    task.save(update_fields=["status", "closed_at", "closed_by"])
    _deal_next_contact_sync(task.deal_id)
    return task


@transaction.atomic
def task_move(
    *, acting_user: User, task: Task, due_on: date, due_time: time | None = None, today: date | None = None
) -> Task:
    """The contact is put off to another day (``today``, the day of the move, or later): a new open task
    with the same client, deal and agreement, the old one closed as moved to it. Returns the new task."""
    task = _checked_open_task(acting_user, task)
    if due_on < (today or timezone.localdate()):
        raise ValidationError({"due_on": _("Перенести можно на сегодня или позже.")})
    if (due_on, due_time) == (task.due_on, task.due_time):
        raise ValidationError({"due_on": _("Задача уже назначена на этот день.")})
    return task_schedule(
        agreed_by=acting_user,
        client=task.client,
        deal=task.deal,
        due_on=due_on,
        due_time=due_time,
        what=task.what,
        activity=task.activity,
    )


@transaction.atomic
def deal_tasks_done(*, acting_user: User, deal: Deal) -> int:
    """Closes the deal's open task as done: the contact took place and nothing further was agreed (the
    client confirmed the purchase). Returns how many were closed."""
    closed = Task.objects.filter(deal=deal, status=Task.Status.OPEN).update(
        status=Task.Status.DONE, closed_at=timezone.now(), closed_by=acting_user
    )
    _deal_next_contact_sync(deal.pk)
    return closed


def check_activity_date(*, owner: User, at: datetime, entered_on: date | None = None) -> None:
    """A hand-entered activity happened today or up to ``ACTIVITY_BACKDATE_WORKING_DAYS`` working days
    ago, and never in a month whose statement is approved or locked: the KPI figures of a month the head
    has signed off are not rewritten by hand (calls from the PBX still arrive and are checked)."""
    today = entered_on or timezone.localdate()
    day = timezone.localdate(at)
    earliest = working_days_back(today, settings.ACTIVITY_BACKDATE_WORKING_DAYS)
    if day > today:
        raise ValidationError({"at": _("Активность записывается, когда она уже состоялась: дата в будущем.")})
    if day < earliest:
        raise ValidationError(
            {
                "at": _("Задним числом активность записывается не раньше %(day)s (%(count)s раб. дн. назад).")
                % {"day": f"{earliest:%d.%m.%Y}", "count": settings.ACTIVITY_BACKDATE_WORKING_DAYS}
            }
        )
    if month_status(hunter_id=owner.pk, month=day) != Statement.Status.DRAFT:
        raise ValidationError(
            {
                "at": _(
                    "Расчётный лист за %(month)s уже утверждён или закрыт: активности в этот месяц не "
                    "записываются."
                )
                % {"month": month_year(day, ACCUSATIVE)}
            }
        )


def _activities_changed(owner_days: set[tuple[int, date]]) -> None:
    """Activities count for KPI: the months they fall in are recounted, and a statement approved for one
    of them is checked again (a PBX call can still arrive for a month the head has approved)."""
    owners_by_month: dict[date, set[int]] = {}
    for owner_id, day in owner_days:
        owners_by_month.setdefault(month_start(day), set()).add(owner_id)
    # One check per month, not per hunter and day: a call log brings thousands of such pairs.
    for month, owner_ids in sorted(owners_by_month.items()):
        pay_changed(hunter_ids=owner_ids, month=month, cause=_("изменились активности месяца"))
    progress_schedule(months=owners_by_month, hunter_ids={owner for owner, _day in owner_days})


# --- plans -----------------------------------------------------------------------------------------


@dataclass
class PlanRow:
    hunter: User
    revenue_target: Decimal = Decimal("0")
    deals_target: int = 0
    leads_target: int = 0
    calls_target: int = 0
    meetings_target: int = 0
    messages_target: int = 0


@transaction.atomic
def plans_save(
    *, acting_user: User, month: date, rows: Sequence[PlanRow], cleared: Iterable[User] = ()
) -> list[MonthlyPlan]:
    """Saves the month's plan grid: one sales and KPI plan per hunter in ``rows``, and no plan any more
    for the hunters in ``cleared`` (the head's explicit "снять план"). A hunter in neither keeps what
    they have: an empty row of the grid creates no plan and removes none."""
    if not can(acting_user, Capability.MANAGE_PLANS):
        raise PermissionDenied
    month = month_start(month)
    saved = []
    for row in rows:
        if row.hunter.role != Role.HUNTER:
            raise ValidationError(_("План ставится только хантеру."))
        values = {name: getattr(row, name) for name in PLAN_FIELDS}
        if any(value is None or value < 0 for value in values.values()):
            raise ValidationError(_("Плановые значения не могут быть отрицательными."))
        existing = MonthlyPlan.objects.filter(hunter=row.hunter, month=month).first()
        if existing is not None and all(getattr(existing, name) == value for name, value in values.items()):
            saved.append(existing)
            continue
        ensure_month_open(hunter_id=row.hunter.pk, month=month)
        plan, _created = MonthlyPlan.objects.update_or_create(
            hunter=row.hunter,
            month=month,
            defaults={**values, "set_by": acting_user, "updated_at": timezone.now()},
        )
        saved.append(plan)
        pay_changed(hunter_ids=[row.hunter.pk], month=month, cause=_("изменён план месяца"))
    for hunter in cleared:
        if hunter.pk in {row.hunter.pk for row in rows}:
            raise ValidationError(
                _("План хантера %(hunter)s и сохраняется, и снимается: выберите что-то одно.")
                % {"hunter": hunter}
            )
        plan = MonthlyPlan.objects.filter(hunter=hunter, month=month).first()
        if plan is None:
            continue
        ensure_month_open(hunter_id=hunter.pk, month=month)
        plan._history_user = acting_user  # the audit history names who took the plan back
        plan.delete()
        pay_changed(hunter_ids=[hunter.pk], month=month, cause=_("снят план месяца"))
    progress_schedule(months=[month], hunter_ids=[*(row.hunter.pk for row in rows), *(h.pk for h in cleared)])
    return saved


@transaction.atomic
def plans_copy_previous(*, acting_user: User, month: date) -> int:
    """Copies last month's plans into this month for the hunters who have none yet; returns how many."""
    if not can(acting_user, Capability.MANAGE_PLANS):
        raise PermissionDenied
    month = month_start(month)
    existing = set(MonthlyPlan.objects.filter(month=month).values_list("hunter_id", flat=True))
    copies = [
        MonthlyPlan(
            hunter_id=plan.hunter_id,
            month=month,
            set_by=acting_user,
            **{name: getattr(plan, name) for name in PLAN_FIELDS},
        )
        for plan in MonthlyPlan.objects.filter(
            month=previous_month(month), hunter__is_active=True, hunter__role=Role.HUNTER
        )
        if plan.hunter_id not in existing
    ]
    for copy in copies:
        ensure_month_open(hunter_id=copy.hunter_id, month=month)
    # With their history rows, so the audit shows each copy and who made it.
    bulk_create_with_history(
        copies,
        MonthlyPlan,
        default_user=acting_user,
        default_change_reason=_("копия плана прошлого месяца"),
    )
    if copies:
        pay_changed(
            hunter_ids=[copy.hunter_id for copy in copies],
            month=month,
            cause=_("план скопирован с прошлого месяца"),
        )
    progress_schedule(months=[month], hunter_ids=[copy.hunter_id for copy in copies])
    return len(copies)


@transaction.atomic
def quarter_plan_save(
    *, acting_user: User, quarter: date, revenue_target: Decimal, bonus_pool: Decimal, split: str = ""
) -> DepartmentQuarterPlan:
    if not can(acting_user, Capability.MANAGE_PLANS):
        raise PermissionDenied
    if revenue_target < 0 or bonus_pool < 0:
        raise ValidationError(_("План и фонд не могут быть отрицательными."))
    plan, _created = DepartmentQuarterPlan.objects.update_or_create(
        quarter_start=quarter_start(quarter),
        defaults={
            "revenue_target": revenue_target,
            "bonus_pool": bonus_pool,
            "split": split,
            "set_by": acting_user,
            "updated_at": timezone.now(),
        },
    )
    return plan


# --- telephony -------------------------------------------------------------------------------------


@dataclass
class CallImportResult:
    created: int = 0
    already_imported: int = 0
    without_hunter: list = field(default_factory=list)  # rows whose extension matches no hunter
    without_client: int = 0


def _hunters_by_extension() -> dict[str, User]:
    return {user.extension: user for user in User.objects.filter(role=Role.HUNTER).exclude(extension="")}


@transaction.atomic
def call_records_import(*, rows: Iterable, batch_size: int = 2000) -> CallImportResult:
    """Stores PBX call records, matching the hunter by extension and the client by phone; a record
    already stored (same call id) is skipped, so a file can be imported again safely."""
    rows = list(rows)
    result = CallImportResult()
    known = set(
        CallRecord.objects.filter(external_id__in=[row.external_id for row in rows]).values_list(
            "external_id", flat=True
        )
    )
    fresh = [row for row in rows if row.external_id not in known]
    result.already_imported = len(rows) - len(fresh)
    hunters = _hunters_by_extension()
    numbers = {row.other_number for row in fresh if row.other_number}
    clients = dict(ClientPhone.objects.filter(number__in=numbers).values_list("number", "client_id"))
    client_owner = dict(Client.objects.filter(pk__in=set(clients.values())).values_list("pk", "owner_id"))
    now = timezone.now()
    records, activities = [], []
    for row in fresh:
        hunter = hunters.get(row.extension)
        client_id = clients.get(row.other_number)
        records.append(
            [
                row.external_id,
                row.started_at,
                row.direction,
                row.extension,
                row.other_number,
                row.duration_s,
                row.recording_url,
                row.end_reason,
                hunter.pk if hunter else None,
                client_id,
                None,  # the activity, filled in below
                now,
            ]
        )
        if hunter is None:
            result.without_hunter.append(row)
            continue
        if client_id is None:
            result.without_client += 1
        # A call to another hunter's client still counts for the caller; the client link is kept only
        # where the caller owns the card, so nobody's timeline shows another hunter's work.
        own_client = client_id if client_id is not None and client_owner.get(client_id) == hunter.pk else None
        activities.append(
            (
                len(records) - 1,
                (
                    hunter.pk,
                    ActivityKind.CALL,
                    row.started_at,
                    own_client,
                    ActivitySource.TELEPHONY,
                    row.direction,
                    row.duration_s,
                    row.end_reason[:300],
                    "",
                    now,
                ),
            )
        )
    activity_ids = insert_rows(
        Activity,
        [
            "owner_id",
            "kind",
            "at",
            "client_id",
            "source",
            "direction",
            "duration_s",
            "outcome",
            "note",
            "created_at",
        ],
        (values for _index, values in activities),
        batch_size=batch_size // 4,
    )
    for (index, _values), activity_id in zip(activities, activity_ids, strict=True):
        records[index][10] = activity_id
    insert_rows(
        CallRecord,
        [
            "external_id",
            "started_at",
            "direction",
            "extension",
            "other_number",
            "duration_s",
            "recording_url",
            "end_reason",
            "hunter_id",
            "client_id",
            "activity_id",
            "imported_at",
        ],
        records,
        batch_size=batch_size // 4,
    )
    result.created = len(records)
    _activities_changed({(values[0], timezone.localdate(values[2])) for _index, values in activities})
    return result


# Rows stored per transaction by a background call-log import: each chunk commits with the job's progress,
# and an attempt that takes over after a lost worker goes on from the last chunk.
CALL_IMPORT_CHUNK = 20_000
# Unmatched and rejected rows a finished import keeps for its report (the counts are kept whatever they are).
CALL_REPORT_ROWS = 200


def call_log_import_enqueue(*, acting_user: User, data: bytes, file_name: str) -> ImportJob:
    """Queues the import of an uploaded call log (SPEC §7) and returns its job. The file is checked first
    (check_call_log): a file with no call log in it is refused at once, nothing is queued."""
    from .tasks import import_call_log

    if not can(acting_user, Capability.MANAGE_PLANS):
        raise PermissionDenied
    check_call_log(data, file_name)
    return import_job_create(
        acting_user=acting_user,
        kind=ImportJob.Kind.CALLS,
        data=data,
        task=import_call_log,
        file_name=file_name,
    )


def call_log_import_run(*, job_id: int) -> None:
    """The background half of a call-log import: reads the file, stores its calls chunk by chunk."""

    def work(run: JobRun) -> None:
        try:
            log = read_call_log(run.input(), run.job.file_name)
        except CallLogFileError as error:
            raise ImportJobFailed(" ".join(error.messages)) from None
        rows = log.rows
        if run.job.processed and run.job.result:
            report, start = run.job.result, run.job.processed  # an earlier attempt stored these chunks
        else:
            report, start = _call_report(log), 0
        run.progress(start, total=len(rows), result=report)
        for offset in range(start, len(rows), CALL_IMPORT_CHUNK):
            chunk = rows[offset : offset + CALL_IMPORT_CHUNK]
            with run.locked():
                _add_to_call_report(report, call_records_import(rows=chunk))
                run.progress(offset + len(chunk), result=report)
        with run.locked():
            run.finish(report)

    import_job_run(job_id=job_id, work=work)


def _call_report(log) -> dict:
    return {
        "created": 0,
        "already_imported": 0,
        "without_client": 0,
        "without_hunter_count": 0,
        "without_hunter": [],
        "error_count": len(log.errors),
        "errors": [
            {"row": error.row_number, "message": error.message} for error in log.errors[:CALL_REPORT_ROWS]
        ],
    }


def _add_to_call_report(report: dict, result: CallImportResult) -> None:
    report["created"] += result.created
    report["already_imported"] += result.already_imported
    report["without_client"] += result.without_client
    report["without_hunter_count"] += len(result.without_hunter)
    room = CALL_REPORT_ROWS - len(report["without_hunter"])
    report["without_hunter"] += [
        {
            "call_id": row.external_id,
            "extension": row.extension,
            "started_at": f"{timezone.localtime(row.started_at):%d.%m.%Y %H:%M}",
        }
        for row in result.without_hunter[: max(room, 0)]
    ]


@transaction.atomic
def activities_import(
    *,
    owner: User,
    kind: str,
    at: datetime,
    count: int = 1,
    client: Client | None = None,
    source: str = ActivitySource.MANUAL,
    direction: str = "",
    duration_s: int | None = None,
) -> list[Activity]:
    """Activities brought over from history (a scenario file, the old CRM), ``count`` identical ones."""
    if owner.role != Role.HUNTER:
        raise ValidationError(_("Активности ведут только хантеры."))
    if source == ActivitySource.TELEPHONY and kind != ActivityKind.CALL:
        raise ValidationError(_("Из телефонии приходят только звонки."))
    template = Activity(
        owner=owner,
        kind=kind,
        at=at,
        client=client,
        source=source,
        direction=direction,
        duration_s=duration_s,
        next_contact_on=at.date() if kind == ActivityKind.FOLLOW_UP else None,
    )
    template.full_clean(exclude=["client"])
    _activities_changed({(owner.pk, timezone.localdate(at))})
    return Activity.objects.bulk_create(
        [
            Activity(
                **{
                    f.attname: getattr(template, f.attname)
                    for f in Activity._meta.concrete_fields
                    if not f.primary_key
                }
            )
            for _ in range(count)
        ]
    )
