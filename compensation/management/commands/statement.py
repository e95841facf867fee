"""Prints a hunter's monthly statement as JSON (shared/scenario-format.md)."""

import json

from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from accounts.roles import Role
from compensation.scenario import statement_json
from compensation.statements import statement_for
from kpi.months import parse_month


class Command(BaseCommand):
    help = "Печатает расчётный лист хантера за месяц."

    def add_arguments(self, parser):
        parser.add_argument("--hunter", required=True, help="логин хантера")
        parser.add_argument("--month", required=True, help="месяц ГГГГ-ММ")
        parser.add_argument("--format", choices=["json"], default="json")

    def handle(self, *args, hunter: str, month: str, **options):
        user = User.objects.filter(username=hunter, role=Role.HUNTER).first()
        if user is None:
            raise CommandError(f"Хантер «{hunter}» не найден")
        first_day = parse_month(month)
        if first_day is None:
            raise CommandError(f"«{month}» — не месяц в формате ГГГГ-ММ")
        data = statement_json(statement_for(hunter=user, month=first_day))
        self.stdout.write(json.dumps(data, ensure_ascii=False, indent=2))
