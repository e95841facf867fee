from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from atlanset_portal.backups import BackupError, backup_restore, media_archive_for


class Command(BaseCommand):
    help = (
        "Restores a backup made by `manage.py backup`: the database dump FILE (atlanset-….dump) into the "
        "configured database, which must be empty, and the media archive beside it (atlanset-….media.tar) "
        "into MEDIA_ROOT. --force drops everything in a non-empty database first."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path, help="the database dump, atlanset-YYYYMMDD-HHMMSS.dump")
        parser.add_argument("--media", type=Path, help="the media archive (default: the one beside FILE)")
        parser.add_argument("--no-media", action="store_true", help="restore the database only")
        parser.add_argument(
            "--force",
            action="store_true",
            help="drop everything in a non-empty database and write the files over MEDIA_ROOT's",
        )
        parser.add_argument("--database", default="default")

    def handle(self, *args, file, media=None, no_media=False, force=False, database="default", **options):
        try:
            if no_media:
                media = None
            elif media is None:
                media = media_archive_for(file)
                if not media.is_file():
                    message = f"No media archive beside the dump ({media}): give --media or --no-media."
                    raise BackupError(message)
            restored = backup_restore(dump=file, media=media, database=database, force=force)
        except BackupError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(
            f"Restored the database {restored.database} ({restored.tables} tables and sequences) from "
            f"{file.name}"
            + (f" and {restored.files} files into {settings.MEDIA_ROOT}" if media is not None else "")
            + ". Start the portal as usual: `migrate` brings the tables up to this version of the code."
        )
        if not restored.cache_cleared:
            self.stderr.write(
                "The cache could not be cleared: clear it (the CACHE_URL database of Redis) before the "
                "portal serves pages, or they may show parts drawn from the data before the restore."
            )
