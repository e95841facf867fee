"""Demo users for every role and a small data set; running it again changes nothing."""

from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.demo import DEMO_PASSWORD, DEMO_TOTP_SECRET, seed_demo_second_factor, seed_demo_users
from accounts.models import User
from deals.demo import seed_demo_pipeline
from kpi.demo import seed_demo_plans
from kpi.progress import progress_recalculate_history
from notifications.services import daily_reminders_send
from onboarding.demo import seed_demo_onboarding


class Command(BaseCommand):
    help = "Создаёт демо-пользователей всех ролей и демо-данные (повторный запуск ничего не меняет)."

    @transaction.atomic
    def handle(self, *args, **options):
        created = seed_demo_users()
        with_code = seed_demo_second_factor()
        seed_demo_onboarding(author=User.objects.get(username="head"))
        pipeline_created = seed_demo_pipeline()
        seed_demo_plans(head=User.objects.get(username="head"))
        self.stdout.write(self.style.SUCCESS("Демо-данные готовы. Пользователи (логин / пароль):"))
        for user, is_new in created:
            role = user.get_role_display() if user.role else "администратор"
            mark = "" if is_new else " (уже был)"
            self.stdout.write(f"  {user.username:<10} / {DEMO_PASSWORD}   {role}: {user.full_name}{mark}")
        if with_code:
            self.stdout.write(
                f"Вход кодом TOTP подтверждают {', '.join(with_code)}: ключ {DEMO_TOTP_SECRET} "
                "(или текущий код: python manage.py totp_code <логин>)."
            )
        if pipeline_created:
            progress_recalculate_history()
            daily_reminders_send()
            self.stdout.write("Созданы демо-клиенты и сделки на всех этапах воронки.")
