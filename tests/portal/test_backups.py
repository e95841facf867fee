"""Backups (atlanset_portal/backups.py, `manage.py backup` / `restore_backup`).

The round trip runs in CI's PostgreSQL pass: data made through the services (a hunter who signs in, a
client, a deal with its uploaded invoice and a payment, the month's statement locked), backed up, restored
into a new database, and used there through the portal's own pages.
"""

import os
import shutil
import subprocess
import uuid
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction
from django.test import Client as Browser
from django.urls import reverse
from django.utils import timezone

from accounts.roles import Role
from atlanset_portal.backups import backups_list, backups_prune, media_archive_for, next_run
from compensation.models import Statement, StatementLine
from deals.models import Client, DealDocument, Payment
from tests.deals.factories import Pipeline
from tests.factories import TEST_PASSWORD, UserFactory
from tests.kpi.factories import paid_deal
from tests.workflow import close_month

MARCH = date(2026, 3, 1)
ON_POSTGRESQL = settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"


def local(*args) -> datetime:
    return timezone.make_aware(datetime(*args))


# --- names, retention, schedule --------------------------------------------------------------------------


def touch_backup(directory: Path, stamp: str, *, media: bool = True) -> None:
    (directory / f"atlanset-{stamp}.dump").write_bytes(b"dump")
    if media:
        (directory / f"atlanset-{stamp}.media.tar").write_bytes(b"tar")


def test_old_backups_are_deleted_after_the_kept_days_but_never_the_newest(tmp_path):
    for stamp in ("20261101-023000", "20261125-023000", "20261205-023000"):
        touch_backup(tmp_path, stamp)
    touch_backup(tmp_path, "20261206-023000", media=False)  # a dump whose media archive never came
    for name, started in (
        ("20261204-023000", local(2026, 12, 4, 2, 31)),
        ("20261207-023000", local(2026, 12, 7, 2, 31)),
    ):
        partial = tmp_path / f"atlanset-{name}.dump.partial"  # interrupted, and one still being written
        partial.write_bytes(b"part of a dump")
        os.utime(partial, (started.timestamp(), started.timestamp()))
    (tmp_path / "notes.txt").write_text("not ours")

    deleted = backups_prune(directory=tmp_path, keep_days=14, now=local(2026, 12, 7, 3, 0))

    assert sorted(path.name for path in deleted) == [
        "atlanset-20261101-023000.dump",
        "atlanset-20261101-023000.media.tar",
        "atlanset-20261204-023000.dump.partial",
    ]
    assert [backup.stamp for backup in backups_list(tmp_path)] == [
        local(2026, 11, 25, 2, 30),
        local(2026, 12, 5, 2, 30),
    ]
    assert (tmp_path / "notes.txt").exists() and (tmp_path / "atlanset-20261206-023000.dump").exists()
    assert (tmp_path / "atlanset-20261207-023000.dump.partial").exists()

    # Months without a new backup (the service stopped): the last one stays whatever its age.
    backups_prune(directory=tmp_path, keep_days=14, now=local(2027, 6, 1, 3, 0))
    assert [backup.stamp for backup in backups_list(tmp_path)] == [local(2026, 12, 5, 2, 30)]


def test_the_nightly_run_is_the_next_time_the_clock_shows_it():
    at = time(2, 30)
    assert next_run(at, local(2026, 12, 7, 1, 0)) == local(2026, 12, 7, 2, 30)
    assert next_run(at, local(2026, 12, 7, 2, 30)) == local(2026, 12, 8, 2, 30)
    assert next_run(at, local(2026, 12, 31, 23, 0)) == local(2027, 1, 1, 2, 30)


def test_the_nightly_service_backs_up_at_once_retries_a_failure_after_an_hour_then_keeps_the_time(
    monkeypatch, tmp_path
):
    from accounts.management.commands import backup as command

    clock = {"now": local(2026, 12, 7, 10, 0)}
    slept, outcomes = [], iter(["fails", "works", "stop"])

    def sleep(seconds):
        slept.append(seconds)
        clock["now"] += timedelta(seconds=seconds)

    def back_up(self, directory, keep_days, database):
        outcome = next(outcomes)
        if outcome == "fails":
            raise OSError("No space left on device")
        if outcome == "stop":
            raise KeyboardInterrupt

    monkeypatch.setattr(command.timezone, "now", lambda: clock["now"])
    monkeypatch.setattr(command.clock, "sleep", sleep)
    monkeypatch.setattr(command.Command, "_back_up", back_up)
    with pytest.raises(KeyboardInterrupt):
        call_command("backup", dir=tmp_path, daily_at=time(2, 30))

    # No backup yet: at once; the failure: an hour later; then 02:30 the next night.
    assert slept == [0, 3600, (15 * 60 + 30) * 60]


def test_the_media_archive_is_named_after_its_dump(tmp_path):
    dump = tmp_path / "atlanset-20261207-023000.dump"
    assert media_archive_for(dump) == tmp_path / "atlanset-20261207-023000.media.tar"


@pytest.mark.skipif(ON_POSTGRESQL, reason="the SQLite refusal; PostgreSQL is backed up below")
def test_backup_says_it_needs_postgresql(db, tmp_path):
    with pytest.raises(CommandError, match="PostgreSQL"):
        call_command("backup", dir=tmp_path)
    assert not list(tmp_path.iterdir())


def test_restore_names_the_missing_media_archive(tmp_path):
    dump = tmp_path / "atlanset-20261207-023000.dump"
    dump.write_bytes(b"")
    with pytest.raises(CommandError, match="--no-media"):
        call_command("restore_backup", str(dump))


# --- the round trip on PostgreSQL ------------------------------------------------------------------------


def postgres_bin() -> Path | None:
    """CI names its PostgreSQL's binaries; elsewhere the newest Debian installs, or the ones on PATH."""
    if folder := os.environ.get("CI_POSTGRES_BIN"):
        return Path(folder)
    installed = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda path: int(path.parent.name))
    if installed:
        return installed[-1]
    found = shutil.which("pg_restore")
    return Path(found).parent if found else None


def libpq_environment() -> dict[str, str]:
    config = connection.settings_dict
    variables = {"PGHOST": config["HOST"], "PGPORT": str(config["PORT"] or ""), "PGUSER": config["USER"]}
    variables["PGPASSWORD"] = config["PASSWORD"]
    return {**os.environ, **{key: value for key, value in variables.items() if value}}


@contextmanager
def new_database(pg_bin: Path):
    """A new, empty database on the test server, dropped afterwards."""
    name = f"atlanset_restore_{uuid.uuid4().hex[:10]}"
    environment = libpq_environment()
    subprocess.run([pg_bin / "createdb", name], env=environment, check=True, capture_output=True)
    try:
        yield name
    finally:
        subprocess.run(
            [pg_bin / "dropdb", "--if-exists", "--force", name],
            env=environment,
            check=True,
            capture_output=True,
        )


@contextmanager
def connected_to(name: str):
    """The portal's connection (the test client's, the ORM's, the commands') on another database."""
    original = connection.settings_dict["NAME"]
    connection.close()
    connection.settings_dict["NAME"] = name
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict["NAME"] = original


on_postgresql = pytest.mark.skipif(
    not ON_POSTGRESQL,
    reason="pg_dump/pg_restore back up PostgreSQL only (CI's second pass sets DATABASE_URL to PostgreSQL)",
)


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_a_backup_restores_into_a_new_database_where_people_sign_in_and_the_money_stays_locked(
    migrated_data, settings, tmp_path
):
    pg_bin = postgres_bin()
    if pg_bin is None or not (pg_bin / "pg_restore").exists():
        pytest.skip("no PostgreSQL client programs (pg_dump, pg_restore, createdb) on this machine")
    settings.POSTGRES_BIN_DIR = str(pg_bin)
    settings.MEDIA_ROOT = str(tmp_path / "media")

    # The data: a hunter who signs in, her client and deal with its invoice (an upload) and a March payment,
    # and March's statement approved by the head and locked by the accountant.
    hunter = UserFactory(
        username="restored_hunter", full_name="Иван Иванов", role=Role.HUNTER, extension="101"
    )
    head = UserFactory(username="restored_head", role=Role.SALES_HEAD)
    accountant = UserFactory(username="restored_buh", role=Role.ACCOUNTANT)
    production = UserFactory(username="restored_prod", role=Role.PRODUCTION)
    pipeline = Pipeline(hunter=hunter, production=production, accountant=accountant)
    deal = paid_deal(pipeline, ("1000.00", date(2026, 3, 5)))
    locked = close_month(hunter, MARCH, head=head, accountant=accountant)
    invoice = DealDocument.objects.get(deal=deal, kind=DealDocument.Kind.INVOICE)
    invoice_bytes = Path(invoice.file.path).read_bytes()
    payment = Payment.objects.get(deal=deal)
    client_name = deal.client.name
    lines = StatementLine.objects.filter(statement=locked).count()
    assert locked.status == Statement.Status.LOCKED and lines

    call_command("backup", dir=tmp_path / "backups")
    [backup] = backups_list(tmp_path / "backups")
    assert oct(backup.database.stat().st_mode & 0o777) == oct(0o600)

    # Never into the database it came from, or any other that has tables.
    with pytest.raises(CommandError, match="not empty"):
        call_command("restore_backup", str(backup.database))

    settings.MEDIA_ROOT = str(tmp_path / "restored-media")
    cache.set("drawn:from-the-database-before", "<tr>…</tr>")
    with new_database(pg_bin) as name, connected_to(name):
        call_command("restore_backup", str(backup.database))
        # Nothing drawn from the data before the restore is shown from the cache after it.
        assert cache.get("drawn:from-the-database-before") is None
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_database()")
            assert cursor.fetchone() == (name,)

        browser = Browser()
        signed_in = browser.post(reverse("login"), {"username": "restored_hunter", "password": TEST_PASSWORD})
        assert signed_in.status_code == 302 and signed_in["Location"] == reverse("home")
        assert browser.get(reverse("clients:detail", args=[deal.client_id])).status_code == 200
        assert Client.objects.get(pk=deal.client_id).name == client_name

        statement = Statement.objects.get(pk=locked.pk)
        assert (statement.status, statement.total) == (Statement.Status.LOCKED, locked.total)
        assert StatementLine.objects.filter(statement=statement).count() == lines
        page = browser.get(reverse("compensation:statement", args=["restored_hunter", "2026-03"]))
        assert page.status_code == 200

        download = browser.get(reverse("deals:document_download", args=[invoice.pk]))
        assert download.status_code == 200
        assert b"".join(download.streaming_content) == invoice_bytes
        assert (Path(settings.MEDIA_ROOT) / invoice.file.name).read_bytes() == invoice_bytes

        # The money guards came back with the tables.
        with pytest.raises(IntegrityError), transaction.atomic():
            Payment.objects.filter(pk=payment.pk).delete()
        with pytest.raises(IntegrityError), transaction.atomic():
            StatementLine.objects.filter(statement=statement).update(amount=Decimal("1.00"))
        assert Payment.objects.filter(pk=payment.pk, amount=payment.amount).exists()

        # Restoring again refuses the now full database, and --force replaces what is there.
        with pytest.raises(CommandError, match="not empty"):
            call_command("restore_backup", str(backup.database))
        Client.objects.filter(pk=deal.client_id).update(name="Изменено после копии")
        call_command("restore_backup", str(backup.database), force=True)
        assert Client.objects.get(pk=deal.client_id).name == client_name

    # Nor over uploaded files already there (those restored above), even into an empty database.
    with new_database(pg_bin) as name, connected_to(name), pytest.raises(CommandError, match="MEDIA_ROOT"):
        call_command("restore_backup", str(backup.database))
