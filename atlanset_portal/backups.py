"""Backups of the portal: the PostgreSQL database as a pg_dump archive and the uploaded files as a tar.

``dumpdata``/``loaddata`` is no backup here: the money guards (``compensation/guards.py``) refuse to
update or delete a payment or a posted statement line and to write into a locked month, so loading a
dump row by row fails on the first locked statement; and uploaded files are in no database. pg_dump
copies the tables, their sequences and the guards' triggers as they are, and pg_restore puts them
back into an empty database (the guards are created after the data, and name their schema).

One backup is two files with one stamp (local time):
``atlanset-YYYYMMDD-HHMMSS.dump`` (``pg_dump --format=custom``) and ``atlanset-YYYYMMDD-HHMMSS.media.tar``
(the contents of MEDIA_ROOT). The database is dumped first, so every file it names is in the tar. Each
file is written under a ``.partial`` name and renamed when complete; only the owner may read them (they
hold the password hashes and the client base).
"""

import os
import re
import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

from django.conf import settings
from django.db import connections
from django.utils import timezone

from .outage import cache_clear

PREFIX = "atlanset-"
DATABASE_SUFFIX = ".dump"
MEDIA_SUFFIX = ".media.tar"
PARTIAL_SUFFIX = ".partial"
_STAMP = "%Y%m%d-%H%M%S"
_NAME = re.compile(rf"^{PREFIX}(\d{{8}}-\d{{6}})(?:{re.escape(DATABASE_SUFFIX)}|{re.escape(MEDIA_SUFFIX)})$")


class BackupError(Exception):
    """A backup or a restore that cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class Backup:
    stamp: datetime
    database: Path
    media: Path


@dataclass(frozen=True)
class Restored:
    database: str
    tables: int
    files: int
    cache_cleared: bool


# --- PostgreSQL's own tools ------------------------------------------------------------------------------


def postgres_program(name: str) -> str:
    """pg_dump, pg_restore…: from POSTGRES_BIN_DIR when set, else from PATH."""
    folder = settings.POSTGRES_BIN_DIR
    found = str(Path(folder) / name) if folder else shutil.which(name)
    if not found or not Path(found).is_file():
        where = f"in POSTGRES_BIN_DIR ({folder})" if folder else "on PATH"
        raise BackupError(
            f"{name} not found {where}: install the PostgreSQL client of the server's major version "
            "(Debian: postgresql-client) or set POSTGRES_BIN_DIR."
        )
    return found


def _postgresql(database: str):
    connection = connections[database]
    if connection.vendor != "postgresql":
        raise BackupError(
            "Backups and restores work on PostgreSQL (DATABASE_URL=postgres://…); "
            f"the database '{database}' is {connection.vendor}."
        )
    return connection


def _libpq_environment(connection) -> dict[str, str]:
    """The connection as libpq variables, so the password never appears on a command line."""
    config = connection.settings_dict
    options = config.get("OPTIONS") or {}
    variables = {
        "PGHOST": config.get("HOST") or "",
        "PGPORT": str(config.get("PORT") or ""),
        "PGUSER": config.get("USER") or "",
        "PGPASSWORD": config.get("PASSWORD") or "",
        "PGDATABASE": config["NAME"],
        "PGSSLMODE": options.get("sslmode", ""),
        "PGCONNECT_TIMEOUT": str(options.get("connect_timeout", "")),
    }
    environment = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    environment.update({key: value for key, value in variables.items() if value})
    return environment


def _run(command: list[str], environment: dict[str, str]) -> subprocess.CompletedProcess:
    result = subprocess.run(
        command, env=environment, capture_output=True, text=True, stdin=subprocess.DEVNULL
    )
    if result.returncode != 0:
        raise BackupError(f"{Path(command[0]).name} failed ({result.returncode}): {result.stderr.strip()}")
    return result


# --- names ------------------------------------------------------------------------------------------------


def _stamp_of(path: Path) -> datetime | None:
    found = _NAME.match(path.name)
    if not found:
        return None
    return timezone.make_aware(datetime.strptime(found[1], _STAMP))


def backup_files(stamp_text: str, directory: Path) -> Backup:
    stamp = timezone.make_aware(datetime.strptime(stamp_text, _STAMP))
    base = f"{PREFIX}{stamp_text}"
    return Backup(
        stamp=stamp,
        database=directory / f"{base}{DATABASE_SUFFIX}",
        media=directory / f"{base}{MEDIA_SUFFIX}",
    )


def backups_list(directory: Path) -> list[Backup]:
    """The complete backups in ``directory`` (a database dump with its media archive), oldest first."""
    if not directory.is_dir():
        return []
    found = []
    for path in directory.glob(f"{PREFIX}*{DATABASE_SUFFIX}"):
        if (stamp := _stamp_of(path)) is not None:
            backup = backup_files(stamp.strftime(_STAMP), directory)
            if backup.media.is_file():
                found.append(backup)
    return sorted(found, key=lambda backup: backup.stamp)


def media_archive_for(dump: Path) -> Path:
    """The media archive made with a database dump: the same name with the other ending."""
    if not dump.name.endswith(DATABASE_SUFFIX):
        raise BackupError(f"{dump} is not a database dump of the portal ({PREFIX}…{DATABASE_SUFFIX}).")
    return dump.with_name(dump.name.removesuffix(DATABASE_SUFFIX) + MEDIA_SUFFIX)


# --- making backups ---------------------------------------------------------------------------------------


def backup_create(*, directory: Path, database: str = "default", now: datetime | None = None) -> Backup:
    """Dumps the database, then archives MEDIA_ROOT, both into ``directory``; checks that pg_restore can
    read the dump before keeping it."""
    connection = _postgresql(database)
    pg_dump, pg_restore = postgres_program("pg_dump"), postgres_program("pg_restore")
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    backup = backup_files(timezone.localtime(now or timezone.now()).strftime(_STAMP), directory)
    if backup.database.exists() or backup.media.exists():
        raise BackupError(f"A backup named {backup.database.name} exists already.")

    environment = _libpq_environment(connection)
    dump = _partial(backup.database)
    try:
        os.close(os.open(dump, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))  # pg_dump keeps the mode
        _run([pg_dump, "--format=custom", "--no-password", f"--file={dump}"], environment)
        _run([pg_restore, "--list", str(dump)], environment)
        archive = _partial(backup.media)
        _archive_media(Path(settings.MEDIA_ROOT), archive)
    except BaseException:
        for leftover in (dump, _partial(backup.media)):
            leftover.unlink(missing_ok=True)
        raise
    dump.rename(backup.database)
    archive.rename(backup.media)
    return backup


def _partial(path: Path) -> Path:
    return path.with_name(path.name + PARTIAL_SUFFIX)


def _archive_media(media_root: Path, archive: Path) -> None:
    descriptor = os.open(archive, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file, tarfile.open(fileobj=file, mode="w") as tar:
        if media_root.is_dir():
            for child in sorted(media_root.iterdir()):
                tar.add(child, arcname=child.name)


def backups_prune(*, directory: Path, keep_days: int, now: datetime | None = None) -> list[Path]:
    """Deletes the backups older than ``keep_days`` days, never the newest one, and the ``.partial``
    files an interrupted backup left (a day old: a younger one may be a backup still being written);
    returns what it deleted."""
    now = now or timezone.now()
    complete = backups_list(directory)
    newest = complete[-1].stamp if complete else None
    deleted = []
    for path in sorted(directory.glob(f"{PREFIX}*")) if directory.is_dir() else []:
        if path.name.endswith(PARTIAL_SUFFIX):
            old = now - datetime.fromtimestamp(path.stat().st_mtime, tz=UTC) > timedelta(days=1)
        else:
            stamp = _stamp_of(path)
            old = stamp is not None and stamp != newest and now - stamp > timedelta(days=keep_days)
        if old:
            path.unlink()
            deleted.append(path)
    return deleted


def latest_backup_age(directory: Path, now: datetime | None = None) -> timedelta | None:
    complete = backups_list(directory)
    return (now or timezone.now()) - complete[-1].stamp if complete else None


def next_run(at: time, now: datetime) -> datetime:
    """The next moment the clock shows ``at`` (the portal's time zone) after ``now``."""
    local = timezone.localtime(now)
    candidate = timezone.make_aware(datetime.combine(local.date(), at))
    if candidate <= local:
        candidate = timezone.make_aware(datetime.combine(local.date() + timedelta(days=1), at))
    return candidate


# --- restoring --------------------------------------------------------------------------------------------


def database_tables(database: str = "default") -> int:
    """How many tables, views and sequences the database holds outside PostgreSQL's own schemas."""
    with _postgresql(database).cursor() as cursor:
        cursor.execute(
            """SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
                 AND n.nspname NOT IN ('pg_catalog', 'information_schema')
                 AND n.nspname !~ '^pg_(toast|temp_)'"""
        )
        return cursor.fetchone()[0]


def _has_files(folder: Path) -> bool:
    return folder.is_dir() and any(path.is_file() or path.is_symlink() for path in folder.rglob("*"))


def backup_restore(
    *, dump: Path, media: Path | None, database: str = "default", force: bool = False
) -> Restored:
    """Restores a dump into the configured database and the media archive into MEDIA_ROOT.

    Both must be empty unless ``force``: then everything in the database's schema is dropped first and
    the archive's files are written over those in MEDIA_ROOT (others stay). The database is restored in
    one transaction, so a failed restore leaves it as it was."""
    connection = _postgresql(database)
    pg_restore = postgres_program("pg_restore")
    environment = _libpq_environment(connection)
    if not dump.is_file():
        raise BackupError(f"No such file: {dump}")
    listing = _run([pg_restore, "--list", str(dump)], environment).stdout
    if "django_migrations" not in listing:
        raise BackupError(f"{dump} is not a dump of the portal's database (it has no django_migrations).")
    if media is not None and not media.is_file():
        raise BackupError(f"No such file: {media}")
    media_root = Path(settings.MEDIA_ROOT)
    name = connection.settings_dict["NAME"]

    if not force:
        if tables := database_tables(database):
            raise BackupError(
                f"The database {name} is not empty ({tables} tables and sequences): a restore goes into an "
                "empty database. Create a new one, or run again with --force to drop everything in it first."
            )
        if media is not None and _has_files(media_root):
            raise BackupError(
                f"MEDIA_ROOT ({media_root}) already holds files. Run again with --force to write the "
                "archive's files over them."
            )
    else:
        _drop_schema(connection)

    _run(
        [
            pg_restore,
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            "--single-transaction",
            "--no-password",
            f"--dbname={name}",
            str(dump),
        ],
        environment,
    )
    connection.close()  # whatever it cached belongs to the database that was there before
    files = _extract_media(media, media_root) if media is not None else 0
    # So does the cache: the pages' kept parts and the debounce marks were made from the old data.
    return Restored(database=name, tables=database_tables(database), files=files, cache_cleared=cache_clear())


def _drop_schema(connection) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        schema = connection.ops.quote_name(cursor.fetchone()[0])
        cursor.execute(f"DROP SCHEMA {schema} CASCADE")
        cursor.execute(f"CREATE SCHEMA {schema}")


def _extract_media(archive: Path, media_root: Path) -> int:
    media_root.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive) as tar:
        members = tar.getmembers()
        # The "data" filter refuses absolute paths, "..", links out of the folder and device files.
        tar.extractall(media_root, members=members, filter="data")
    return sum(member.isfile() for member in members)
