import logging
import time as clock
from datetime import datetime, time, timedelta
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from atlanset_portal.backups import BackupError, backup_create, backups_prune, latest_backup_age, next_run

logger = logging.getLogger("atlanset_portal.backups")

# After a failed nightly backup (the database restarting, a full disk) the next try is this much later.
RETRY_AFTER = timedelta(hours=1)


def _clock_time(text: str) -> time:
    try:
        return datetime.strptime(text, "%H:%M").time()
    except ValueError as error:
        raise CommandError("--daily-at must look like 02:30") from error


class Command(BaseCommand):
    help = (
        "Backs up the database (pg_dump -Fc) and the uploaded files (a tar of MEDIA_ROOT) into BACKUP_DIR "
        "and deletes the backups older than BACKUP_KEEP_DAYS days. With --daily-at HH:MM it keeps running "
        "and backs up every day at that time (and at once when the newest backup is over a day old)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dir", type=Path, help="where the backups go (default: BACKUP_DIR)")
        parser.add_argument("--keep-days", type=int, help="default: BACKUP_KEEP_DAYS")
        parser.add_argument("--daily-at", type=_clock_time, help="HH:MM, the portal's time zone")
        parser.add_argument("--database", default="default")

    def handle(self, *args, dir=None, keep_days=None, daily_at=None, database="default", **options):
        directory = dir or Path(settings.BACKUP_DIR)
        keep_days = settings.BACKUP_KEEP_DAYS if keep_days is None else keep_days
        if keep_days < 1:
            raise CommandError("--keep-days must be at least 1")
        if daily_at is None:
            try:
                self._back_up(directory, keep_days, database)
            except BackupError as error:
                raise CommandError(str(error)) from error
            return
        self._run_daily(directory, keep_days, database, daily_at)

    def _back_up(self, directory: Path, keep_days: int, database: str) -> None:
        started = clock.monotonic()
        backup = backup_create(directory=directory, database=database)
        size = (backup.database.stat().st_size + backup.media.stat().st_size) / 1024 / 1024
        self.stdout.write(
            f"Backup {backup.database.name} + {backup.media.name} ({size:.1f} MB) "
            f"in {clock.monotonic() - started:.1f} s"
        )
        for path in backups_prune(directory=directory, keep_days=keep_days):
            self.stdout.write(f"Deleted {path.name} (older than {keep_days} days)")

    def _run_daily(self, directory: Path, keep_days: int, database: str, at: time) -> None:
        age = latest_backup_age(directory)
        due = timezone.now() if age is None or age > timedelta(days=1) else next_run(at, timezone.now())
        while True:
            self.stdout.write(f"Next backup at {timezone.localtime(due):%Y-%m-%d %H:%M %Z}")
            clock.sleep(max(0.0, (due - timezone.now()).total_seconds()))
            try:
                self._back_up(directory, keep_days, database)
            except Exception:
                logger.exception("Backup failed; trying again in %s", RETRY_AFTER)
                due = min(timezone.now() + RETRY_AFTER, next_run(at, timezone.now()))
            else:
                due = next_run(at, timezone.now())
