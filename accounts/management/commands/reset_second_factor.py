from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from accounts.two_factor import second_factor_reset


class Command(BaseCommand):
    help = (
        "Сбрасывает приложение-аутентификатор пользователя (например, суперпользователя, потерявшего "
        "телефон): при следующем входе он настроит его заново. Сброс записывается в журнал от имени --by."
    )

    def add_arguments(self, parser):
        parser.add_argument("username", help="чьё приложение сбросить")
        parser.add_argument("--by", required=True, help="логин суперпользователя, который сбрасывает")

    def handle(self, *args, username, by, **options):
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"Пользователя {username} нет.")
        acting_user = User.objects.filter(username=by).first()
        if acting_user is None:
            raise CommandError(f"Пользователя {by} нет.")
        try:
            reset = second_factor_reset(user=user, acting_user=acting_user)
        except PermissionDenied:
            raise CommandError(f"{by} не суперпользователь: сбросить приложение может только он.") from None
        self.stdout.write(
            self.style.SUCCESS(
                f"Приложение-аутентификатор {username} сброшено (удалено: {reset.devices}); "
                "при следующем входе он настроит его заново."
            )
        )
