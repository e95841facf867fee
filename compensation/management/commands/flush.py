"""Django's ``flush``, made to work with the money guards on SQLite.

Emptying the whole database is a deliberate wipe (a fresh start, or the test runner between
transactional tests), not a change to recorded money. PostgreSQL's flush truncates, which row triggers
do not see; SQLite's deletes row by row, so there the guards step aside for the wipe and come back right
after it (compensation/guards.py)."""

from django.core.management.commands.flush import Command as FlushCommand
from django.db import DEFAULT_DB_ALIAS, connections

from compensation import guards


class Command(FlushCommand):
    def handle(self, **options):
        connection = connections[options.get("database") or DEFAULT_DB_ALIAS]
        if connection.vendor != "sqlite":
            return super().handle(**options)
        with connection.cursor() as cursor:
            installed = {
                name for (name,) in cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
            }
        lifted = {name: sql for name, sql in guards.sqlite_triggers().items() if name in installed}
        with connection.cursor() as cursor:
            for name in lifted:
                cursor.execute(f"DROP TRIGGER {name}")
        try:
            return super().handle(**options)
        finally:
            with connection.cursor() as cursor:
                for sql in lifted.values():
                    cursor.execute(sql)
