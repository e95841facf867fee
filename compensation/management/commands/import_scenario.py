"""Loads a sales history from a scenario JSON file (shared/scenario-format.md), all or nothing."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from compensation.scenario import ScenarioError, import_scenario, load_scenario_file


class Command(BaseCommand):
    help = "Загружает историю продаж из файла сценария JSON в порядке дат; при ошибке не загружается ничего."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)

    def handle(self, *args, file: Path, **options):
        if not file.is_file():
            raise CommandError(f"Файл не найден: {file}")
        try:
            replay = import_scenario(load_scenario_file(file.read_text(encoding="utf-8")))
        except ScenarioError as error:
            raise CommandError("Сценарий не загружен: " + "; ".join(error.messages)) from None
        self.stdout.write(
            f"Сценарий загружен: пользователей {len(replay.users)}, клиентов {len(replay.clients)}, "
            f"сделок {len(replay.deals)}, событий {len(replay.events)}."
        )
