from django.core.management.base import BaseCommand, CommandError

from kpi.months import parse_month
from kpi.progress import progress_recalculate, progress_recalculate_history


class Command(BaseCommand):
    help = "Recalculates the stored plan progress: one month (--month 2026-03) or every month with data."

    def add_arguments(self, parser):
        parser.add_argument("--month", help="YYYY-MM; all months with data when omitted")

    def handle(self, *args, month=None, **options):
        if month:
            first = parse_month(month)
            if first is None:
                raise CommandError("--month must look like 2026-03")
            written = progress_recalculate(month=first)
        else:
            written = progress_recalculate_history()
        self.stdout.write(f"Plan progress rows written: {written}")
