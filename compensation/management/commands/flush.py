"""Django's ``flush``, made to work with the money-integrity triggers on SQLite.

Emptying the whole database is a deliberate wipe (a fresh start, or the test runner between
transactional tests), not a change to recorded money. PostgreSQL's flush truncates, which row triggers
do not see; SQLite's deletes row by row in no fixed order, so there the guards step aside for the wipe
and come back right after it."""

from importlib import import_module

from django.core.management.commands.flush import Command as FlushCommand
from django.db import DEFAULT_DB_ALIAS, connections

triggers = import_module("compensation.migrations.0004_money_integrity_triggers")


class Command(FlushCommand):
    def handle(self, **options):
        connection = connections[options.get("database") or DEFAULT_DB_ALIAS]
        if connection.vendor != "sqlite":
            return super().handle(**options)
        with connection.cursor() as cursor:
            existing = {
                name
                for (name,) in cursor.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'trigger'"
                ).fetchall()
            }
            guards = [
                (name, sql)
                for name, sql in zip(triggers.SQLITE_NAMES, triggers.SQLITE, strict=True)
                if name in existing
            ]
            for name, _sql in guards:
                cursor.execute(f"DROP TRIGGER {name}")
        try:
            return super().handle(**options)
        finally:
            with connection.cursor() as cursor:
                for _name, sql in guards:
                    cursor.execute(sql)
