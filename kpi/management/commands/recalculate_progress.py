from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from kpi.figures import dashboard_figures_refresh
from kpi.months import month_start, parse_month
from kpi.progress import progress_recalculate, progress_recalculate_history


class Command(BaseCommand):
    help = (
        "Recalculates the stored plan progress, one month (--month 2026-03) or every month with data, "
        "and the month's stored dashboard figures."
    )

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
        dashboard_figures_refresh(first if month else month_start(timezone.localdate()))
        self.stdout.write(f"Plan progress rows written: {written}")
