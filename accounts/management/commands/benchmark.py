import logging
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from atlanset_portal.benchmark import Benchmark, write_json
from atlanset_portal.collector import tune_for_requests
from atlanset_portal.load import gunicorn, run_load, summary


class Command(BaseCommand):
    help = (
        "Measures the pages people open most (median and 95th percentile, SQL queries), the background "
        "jobs, a call-log import and the dashboard's SQL floor on the configured database, and optionally a "
        "closed-loop HTTP load of signed-in hunters against gunicorn; prints a table and writes JSON."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--requests", type=int, default=20, help="measured requests per page (after warm-up)"
        )
        parser.add_argument("--warmup", type=int, default=3)
        parser.add_argument(
            "--call-rows", type=int, default=100_000, help="rows in the measured call-log import (0: none)"
        )
        parser.add_argument("--json", default="var/benchmark.json", help="where to write the JSON report")
        parser.add_argument("--no-pages", action="store_true", help="only the load run")
        load = parser.add_argument_group("load run")
        load.add_argument("--load-users", type=int, default=0, help="signed-in hunters (0: no load run)")
        load.add_argument("--load-seconds", type=float, default=60, help="measured time, after a warm-up")
        load.add_argument("--load-warmup", type=float, default=10, help="seconds not counted at the start")
        load.add_argument("--load-pause", type=float, default=1.0, help="each hunter's pause between pages")
        load.add_argument(
            "--load-url", default="", help="a portal already running (e.g. http://127.0.0.1:8000)"
        )
        load.add_argument(
            "--load-bind", default="127.0.0.1:8251", help="where to start gunicorn when no --load-url"
        )
        load.add_argument("--load-workers", type=int, default=3, help="gunicorn workers (the Dockerfile's 3)")

    def handle(self, *args, requests, warmup, call_rows, json, no_pages, **options):
        # Signing the measuring users in is not what is measured: no log line per sign-in.
        logging.getLogger("axes").setLevel(logging.WARNING)
        report: dict = {}
        # The pages are measured in this process as the web workers serve them (gunicorn.conf.py).
        tune_for_requests()
        if not no_pages:
            benchmark = Benchmark(requests=requests, warmup=warmup, out=self.stdout.write)
            report = benchmark.run(call_rows=call_rows)
        users = options["load_users"]
        if users:
            if settings.DEBUG:
                self.stderr.write("Warning: DEBUG=1; the load run measures a development server's settings.")
            arguments = {
                "users": users,
                "seconds": options["load_seconds"],
                "pause": options["load_pause"],
                "warmup": options["load_warmup"],
            }
            if options["load_url"]:
                result = run_load(base_url=options["load_url"], **arguments)
            else:
                log = Path(settings.VAR_DIR) / "benchmark-gunicorn.log"
                try:
                    with gunicorn(options["load_bind"], options["load_workers"], log) as url:
                        result = run_load(base_url=url, **arguments)
                except RuntimeError as error:
                    raise CommandError(str(error)) from None
                report.setdefault("load", {})["gunicorn_workers"] = options["load_workers"]
            report.setdefault("load", {}).update(result.as_dict())
            self.stdout.write(summary(result))
        write_json(report, Path(json))
        self.stdout.write(f"JSON report: {json}")
