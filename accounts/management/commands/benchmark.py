from pathlib import Path

from django.core.management.base import BaseCommand

from atlanset_portal.benchmark import Benchmark, write_json


class Command(BaseCommand):
    help = (
        "Measures the main pages (median and 95th percentile, SQL queries), the background jobs, a call-log "
        "import and the dashboard's SQL floor on the configured database; prints a table and writes JSON."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--requests", type=int, default=20, help="measured requests per page (after warm-up)"
        )
        parser.add_argument("--warmup", type=int, default=3)
        parser.add_argument(
            "--call-rows", type=int, default=100_000, help="rows in the measured call-log import"
        )
        parser.add_argument("--json", default="var/benchmark.json", help="where to write the JSON report")

    def handle(self, *args, requests, warmup, call_rows, json, **options):
        benchmark = Benchmark(requests=requests, warmup=warmup, out=self.stdout.write)
        report = benchmark.run(call_rows=call_rows)
        write_json(report, Path(json))
        self.stdout.write(f"JSON report: {json}")
