"""Adds a realistic sales history in bulk (see ``atlanset_portal.data_generator``)."""

import time

from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError, transaction
from django.db.models.deletion import ProtectedError, RestrictedError

from atlanset_portal import data_generator as generator

SIZE_FLAGS = ("hunters", "clients", "deals", "activities", "payments")


class _StdoutProgress:
    """A line per phase with its duration; a bar redrawn in place while a phase runs on a terminal."""

    WIDTH = 30

    def __init__(self, stdout):
        self.stdout = stdout
        self.tty = stdout.isatty()
        self.started = time.monotonic()

    def phase(self, name: str, total: int) -> None:
        self.name, self.total, self.count = name, max(total, 1), 0
        self.phase_started = self.drawn = time.monotonic()
        self._draw()

    def advance(self, count: int) -> None:
        self.count += count
        if self.tty and time.monotonic() - self.drawn > 0.2:
            self._draw()

    def done(self) -> None:
        elapsed = time.monotonic() - self.phase_started
        line = (
            f"  {self.name}: {self.count} in {elapsed:.1f} s (total {time.monotonic() - self.started:.1f} s)"
        )
        self.stdout.write(("\r\033[K" if self.tty else "") + line)

    def _draw(self) -> None:
        self.drawn = time.monotonic()
        if not self.tty:
            return
        filled = min(self.WIDTH, self.WIDTH * self.count // self.total)
        bar = "#" * filled + "." * (self.WIDTH - filled)
        percent = min(100, 100 * self.count // self.total)
        self.stdout.write(f"\r\033[K  {self.name} [{bar}] {percent:3d}% {self.count}/{self.total}", ending="")
        self.stdout.flush()


class Command(BaseCommand):
    help = (
        "Adds a realistic sales history (hunters, clients, deals, payments, activities, plans) in bulk. "
        "Refuses when generated data exists, unless --replace."
    )

    def add_arguments(self, parser):
        defaults = generator.DEFAULT_SIZES
        for flag in SIZE_FLAGS:
            parser.add_argument(
                f"--{flag}", type=int, default=None, help=f"how many (default {getattr(defaults, flag)})"
            )
        parser.add_argument(
            "--scale",
            type=float,
            default=None,
            help="multiplies the defaults (0.01 = 1 %%; at least 2 hunters)",
        )
        parser.add_argument("--months", type=int, default=generator.DEFAULT_MONTHS, help="history length")
        parser.add_argument("--seed", type=int, default=generator.DEFAULT_SEED)
        parser.add_argument("--password", default=generator.DEFAULT_PASSWORD, help="for every created user")
        parser.add_argument("--replace", action="store_true", help="delete previously generated rows first")
        parser.add_argument(
            "--open-share",
            type=float,
            default=generator.OPEN_SHARE,
            help="share of the deals left open (default %(default)s)",
        )
        parser.add_argument(
            "--busy-open-deals",
            type=int,
            default=generator.BUSY_OPEN_DEALS,
            help="open deals of the busiest hunter (default %(default)s, as far as the deals allow)",
        )

    def handle(self, *args, scale, months, seed, password, replace, open_share, busy_open_deals, **options):
        if not 0 <= open_share < 1:
            raise CommandError("--open-share must be from 0 to 1.")
        if busy_open_deals < 0:
            raise CommandError("--busy-open-deals must not be negative.")
        if scale is not None and scale <= 0:
            raise CommandError("--scale must be greater than zero.")
        base = generator.scaled_sizes(scale) if scale is not None else generator.DEFAULT_SIZES
        sizes = generator.Sizes(
            **{
                flag: options[flag] if options[flag] is not None else getattr(base, flag)
                for flag in SIZE_FLAGS
            }
        )
        for flag in SIZE_FLAGS:
            if getattr(sizes, flag) < 0 or (flag == "hunters" and sizes.hunters < 1):
                raise CommandError(f"--{flag} must be positive.")
        self.stdout.write(
            f"Generating {sizes.hunters} hunters, {sizes.clients} clients, {sizes.deals} deals, "
            f"{sizes.activities} activities, {sizes.payments} payments over {months} months (seed {seed})."
        )
        progress = _StdoutProgress(self.stdout)
        try:
            with transaction.atomic():
                if generator.generated_data_exists():
                    if not replace:
                        raise CommandError(
                            "Generated data already exists (users gen-hunter-…, clients and deals keyed "
                            "gen-…). Run with --replace to delete it and generate again."
                        )
                    deleted = generator.delete_generated(progress)
                    self.stdout.write(f"Deleted {deleted} previously generated rows.")
                counts = generator.generate(
                    sizes=sizes,
                    months=months,
                    seed=seed,
                    password=password,
                    progress=progress,
                    open_share=open_share,
                    busy_open_deals=busy_open_deals,
                )
        except generator.GeneratorError as error:
            raise CommandError(str(error)) from None
        except (ProtectedError, RestrictedError, IntegrityError) as error:
            # e.g. a locked statement of a generated hunter, or real rows that refer to generated ones
            raise CommandError(f"The database refused the change, nothing was written: {error}") from None
        elapsed = time.monotonic() - progress.started
        self.stdout.write(self.style.SUCCESS(f"Done in {elapsed:.1f} s. Created:"))
        for label, count in sorted(counts.items()):
            self.stdout.write(f"  {label}: {count}")
        self.stdout.write(
            f"Generated users (gen-hunter-…, and gen-head, gen-buh, gen-prod when created) sign in with "
            f"password «{password}». Run `manage.py recalculate_progress` to refresh the dashboards."
        )
