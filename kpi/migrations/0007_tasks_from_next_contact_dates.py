"""Every next contact agreed so far becomes a task (kpi.Task): the next contact of each deal, with what
the latest contact agreeing that date said, and the latest next contact agreed with a client outside a
deal (any kind of activity: a meeting's or a call's was ignored before). Contacts outside a deal due more
than 30 days ago were no longer shown anywhere and are left behind."""

from datetime import timedelta

from django.db import migrations
from django.utils import timezone

FORGOTTEN_AFTER_DAYS = 30


def _latest(rows, key):
    """The latest row of each key: rows are (key, moment, pk, …) in any order."""
    latest = {}
    for row in rows:
        current = latest.get(row[0])
        if current is None or (row[1], row[2]) > (current[1], current[2]):
            latest[row[0]] = row
    return latest


def tasks_from_next_contact_dates(apps, schema_editor):
    Deal = apps.get_model("deals", "Deal")
    FollowUp = apps.get_model("deals", "FollowUp")
    Proposal = apps.get_model("deals", "Proposal")
    Activity = apps.get_model("kpi", "Activity")
    Task = apps.get_model("kpi", "Task")

    due = dict(Deal.objects.filter(next_contact_on__isnull=False).values_list("pk", "next_contact_on"))
    clients = dict(Deal.objects.filter(pk__in=due).values_list("pk", "client_id"))
    # What agreed each deal's date: the latest follow-up, proposal or activity on the deal naming it.
    sources = []
    for deal_id, at, pk, on, outcome, author_id in FollowUp.objects.filter(
        deal_id__in=due, next_contact_on__isnull=False
    ).values_list("deal_id", "at", "pk", "next_contact_on", "outcome", "author_id"):
        if due[deal_id] == on:
            sources.append((deal_id, at, pk, outcome, author_id, None))
    for deal_id, at, pk, on, email, author_id in Proposal.objects.filter(deal_id__in=due).values_list(
        "deal_id", "sent_at", "pk", "callback_on", "sent_to_email", "author_id"
    ):
        if due[deal_id] == on:
            sources.append((deal_id, at, pk, f"Перезвонить после КП ({email})", author_id, None))
    for deal_id, at, pk, on, outcome, note, owner_id in Activity.objects.filter(
        deal_id__in=due, next_contact_on__isnull=False
    ).values_list("deal_id", "at", "pk", "next_contact_on", "outcome", "note", "owner_id"):
        if due[deal_id] == on:
            sources.append((deal_id, at, pk, outcome or note, owner_id, pk))
    agreed = _latest(sources, key=0)
    tasks = []
    for deal_id, due_on in due.items():
        source = agreed.get(deal_id)
        tasks.append(
            Task(
                client_id=clients[deal_id],
                deal_id=deal_id,
                activity_id=source[5] if source else None,
                due_on=due_on,
                what=(source[3] if source else "")[:300],
                created_by_id=source[4] if source else None,
                created_at=source[1] if source else timezone.now(),
            )
        )
    # Outside deals: the client's latest activity with a next contact (a later one rescheduled it).
    since = timezone.localdate() - timedelta(days=FORGOTTEN_AFTER_DAYS)
    latest = _latest(
        Activity.objects.filter(deal__isnull=True, client__isnull=False, next_contact_on__isnull=False)
        .values_list("client_id", "at", "pk", "next_contact_on", "outcome", "note", "owner_id")
        .iterator(chunk_size=2000),
        key=0,
    )
    for client_id, at, pk, due_on, outcome, note, owner_id in latest.values():
        if due_on >= since:
            tasks.append(
                Task(
                    client_id=client_id,
                    activity_id=pk,
                    due_on=due_on,
                    what=(outcome or note)[:300],
                    created_by_id=owner_id,
                    created_at=at,
                )
            )
    Task.objects.bulk_create(tasks, batch_size=2000)


class Migration(migrations.Migration):
    dependencies = [
        ("kpi", "0006_tasks_of_agreed_contacts"),
        ("deals", "0018_lead_import_upload"),
    ]

    operations = [migrations.RunPython(tasks_from_next_contact_dates, migrations.RunPython.noop)]
