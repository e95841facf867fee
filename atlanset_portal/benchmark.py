"""The performance benchmark (``python manage.py benchmark``): the main pages through the full Django
stack as the user who uses them, the background jobs, a call-log import, and the hand-written SQL
floor of the head's dashboard. Jobs that write run inside a transaction that is rolled back, so the
benchmark can run again on the same data."""

import json
import os
import platform
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Q
from django.test import Client as TestClient
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from accounts.roles import Role
from accounts.two_factor import second_factor_required
from atlanset_portal.keyset import cursor_of
from compensation.models import Statement
from deals.models import Client, ClientPhone, Deal, Payment
from deals.stages import DealStatus, Stage
from kpi.counters import Counters
from kpi.models import ActivitySource, CallDirection
from kpi.months import month_range, month_start, previous_month
from kpi.progress import progress_recalculate
from kpi.services import call_records_import
from kpi.telephony import read_call_log
from notifications.services import daily_reminders_send


@dataclass
class Measurement:
    name: str
    target_ms: float | None
    samples_ms: list[float] = field(default_factory=list)
    queries: int | None = None
    note: str = ""

    @property
    def median_ms(self) -> float:
        return statistics.median(self.samples_ms)

    @property
    def p95_ms(self) -> float:
        ordered = sorted(self.samples_ms)
        return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]

    def as_dict(self) -> dict:
        data = asdict(self)
        data.pop("samples_ms")
        return {
            **data,
            "runs": len(self.samples_ms),
            "median_ms": round(self.median_ms, 1),
            "p95_ms": round(self.p95_ms, 1),
            "met": None if self.target_ms is None else self.median_ms <= self.target_ms,
        }


class RolledBack(Exception):
    """Raised to undo what a measured job wrote."""


class Benchmark:
    def __init__(self, *, requests: int = 20, warmup: int = 3, out=print):
        self.requests = requests
        self.warmup = warmup
        self.out = out
        self.results: list[Measurement] = []
        host = (settings.ALLOWED_HOSTS or ["127.0.0.1"])[0].lstrip(".").replace("*", "127.0.0.1")
        self.client_options = {
            "HTTP_HOST": host,
            "secure": bool(getattr(settings, "SECURE_SSL_REDIRECT", False)),
        }

    # --- pages ----------------------------------------------------------------------------------

    def page(
        self, name: str, user: User, url: str, *, target_ms: float | None, note: str = ""
    ) -> Measurement:
        browser = TestClient(HTTP_HOST=self.client_options["HTTP_HOST"])
        browser.force_login(user)
        if second_factor_required(user):
            _confirm_second_factor(browser, user)
        secure = self.client_options["secure"]
        for _ in range(self.warmup):
            response = browser.get(url, secure=secure)
            if response.status_code != 200:
                answer = f"{response.status_code} {response.get('Location', '')}"
                raise RuntimeError(f"{name}: {url} answered {answer}")
        measurement = Measurement(name=name, target_ms=target_ms, note=note or url)
        for _ in range(self.requests):
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                browser.get(url, secure=secure)
                measurement.samples_ms.append((time.perf_counter() - started) * 1000)
            measurement.queries = len(queries)
        return self._done(measurement)

    # --- jobs -----------------------------------------------------------------------------------

    def job(
        self, name: str, work: Callable[[], object], *, target_ms: float | None, runs: int = 3, note: str = ""
    ):
        measurement = Measurement(name=name, target_ms=target_ms, note=note)
        for _ in range(runs):
            try:
                with transaction.atomic():
                    with CaptureQueriesContext(connection) as queries:
                        started = time.perf_counter()
                        work()
                        measurement.samples_ms.append((time.perf_counter() - started) * 1000)
                    measurement.queries = len(queries)
                    raise RolledBack
            except RolledBack:
                pass
        return self._done(measurement)

    def _done(self, measurement: Measurement) -> Measurement:
        self.results.append(measurement)
        row = measurement.as_dict()
        target = f"≤ {measurement.target_ms:.0f}" if measurement.target_ms else "—"
        self.out(
            f"{measurement.name:<46} {row['median_ms']:>10.1f} {row['p95_ms']:>10.1f} "
            f"{row['queries'] if row['queries'] is not None else '—':>8} {target:>10}"
        )
        return measurement

    # --- the run --------------------------------------------------------------------------------

    def run(self, *, call_rows: int = 100_000) -> dict:
        today = timezone.localdate()
        month = month_start(today)
        last_month = previous_month(month)
        head = _first_active(Role.SALES_HEAD)
        accountant = _first_active(Role.ACCOUNTANT)
        if head is None or accountant is None:
            raise RuntimeError("No sales head or accountant: load data first (generate_data or seed_demo).")
        busiest = (
            User.objects.filter(role=Role.HUNTER, is_active=True)
            .annotate(open_deals=Count("deals", filter=Q(deals__status=DealStatus.OPEN)))
            .order_by("-open_deals", "pk")
            .first()
        )
        deal = (
            Deal.objects.filter(stage=Stage.PAYMENT)
            .annotate(events=Count("stage_changes"))
            .order_by("-events", "pk")
            .values_list("pk", flat=True)
            .first()
        ) or Deal.objects.order_by("-pk").values_list("pk", flat=True).first()
        word = _name_word()
        phone = ClientPhone.objects.order_by("pk").values_list("number", flat=True).first() or ""
        fragment = phone[-7:-2]  # five digits from the middle of a number
        counts = {
            "hunters": User.objects.filter(role=Role.HUNTER).count(),
            "clients": Client.objects.count(),
            "deals": Deal.objects.count(),
            "open_deals": Deal.objects.filter(status=DealStatus.OPEN).count(),
            "activities": _count("kpi_activity"),
            "payments": _count("deals_payment"),
            "statements": _count("compensation_statement"),
            "locked_statements": Statement.objects.filter(
                status__in=(Statement.Status.LOCKED, Statement.Status.PAID)
            ).count(),
            "busiest_hunter_open_deals": busiest.open_deals if busiest else 0,
        }
        load_before = os.getloadavg()
        self.out(
            f"Database: {connection.vendor}; DEBUG={settings.DEBUG}; load {load_before[0]:.1f}; data: "
            + ", ".join(f"{key} {value}" for key, value in counts.items())
        )
        self.out(f"{'what':<52} {'median ms':>10} {'p95 ms':>10} {'queries':>8} {'target':>10}")

        # The head: the dashboard, the statements, the lists.
        dashboard = self.page(
            "head dashboard, one month",
            head,
            f"{reverse('kpi:dashboard')}?month={month:%Y-%m}",
            target_ms=None,
        )
        # The same page when every part has to be drawn again (the first visit after a change to all of
        # them): no cache at all.
        with override_settings(CACHES=NO_CACHE):
            self.page(
                "head dashboard, every part drawn afresh",
                head,
                f"{reverse('kpi:dashboard')}?month={month:%Y-%m}",
                target_ms=None,
            )
        for label, shown in (("this month, drafts", month), ("last month", last_month)):
            self.page(
                f"statement list ({label})",
                head,
                f"{reverse('compensation:statements')}?month={shown:%Y-%m}",
                target_ms=300,
            )
        if busiest is not None:
            for label, shown in (("this month", month), ("last month", last_month)):
                self.page(
                    f"one statement, busiest hunter ({label})",
                    head,
                    reverse("compensation:statement", args=[busiest.username, f"{shown:%Y-%m}"]),
                    target_ms=100,
                )
        if deal is not None:
            self.page("deal page", head, reverse("deals:detail", args=[deal]), target_ms=50)
        self.page("deal list (head, all deals), first page", head, reverse("deals:list"), target_ms=None)
        self.page(
            "deal list (head), 100th page by cursor",
            head,
            f"{reverse('deals:list')}?older={_cursor_after(Deal.objects.all(), 'created_at', 99 * 50)}",
            target_ms=None,
        )
        self.page("client list, first page", head, reverse("clients:list"), target_ms=None)
        self.page(
            "client list, searched by name and filtered",
            head,
            f"{reverse('clients:list')}?q={word}&status=in_work",
            target_ms=50,
        )
        self.page(
            "client search by phone fragment", head, f"{reverse('clients:list')}?q={fragment}", target_ms=50
        )
        self.page("header search by name", head, f"{reverse('search')}?q={word}", target_ms=50)
        self.page("header search by phone fragment", head, f"{reverse('search')}?q={fragment}", target_ms=50)

        # The accountant's home page: recent payments, first page and a late one.
        self.page("payments page (accountant)", accountant, reverse("compensation:payments"), target_ms=100)
        deep = _cursor_after(Payment.objects.all(), "recorded_at", 99 * 50)
        self.page(
            "payments page, 100th page by cursor",
            accountant,
            f"{reverse('compensation:payments')}?older={deep}",
            target_ms=100,
        )

        # The hunters: their day, the board, a search.
        if busiest is not None:
            self.page(
                f"«Мой день», busiest hunter ({busiest.open_deals} open deals)",
                busiest,
                reverse("kpi:my_day"),
                target_ms=80,
            )
            self.page(
                f"hunter board, busiest hunter ({busiest.open_deals} open deals)",
                busiest,
                reverse("deals:board"),
                target_ms=100,
            )
        # The target's case: a hunter with 500 open deals, every one due today (made for the measurement
        # and rolled back after it).
        try:
            with transaction.atomic():
                loaded = _hunter_with_open_deals(500, today)
                self.page("hunter board (500 open deals)", loaded, reverse("deals:board"), target_ms=100)
                self.page(
                    "«Мой день» (500 open deals due today)", loaded, reverse("kpi:my_day"), target_ms=80
                )
                raise RolledBack
        except RolledBack:
            pass

        self.job(
            "plan progress recalculation, all hunters",
            lambda: progress_recalculate(month=month),
            target_ms=3000,
            note=f"{month:%Y-%m}",
        )
        self.job(
            "daily reminder run",
            lambda: daily_reminders_send(today=_a_working_day(today)),
            target_ms=None,
            runs=1,
        )
        if call_rows:
            self.job(
                f"call-log import, {call_rows} rows",
                lambda: call_records_import(
                    rows=read_call_log(_call_log(call_rows, month), "calls.csv").rows
                ),
                target_ms=60_000,
                runs=1,
            )
        floor = self.job(
            "SQL floor: dashboard figures in one query",
            lambda: dashboard_floor(month),
            target_ms=None,
            runs=self.requests,
        )
        ratio = dashboard.median_ms / floor.median_ms if floor.median_ms else None
        self.out(
            f"Dashboard / SQL floor: {ratio:.2f}× (target ≤ 2×)" if ratio else "Dashboard / SQL floor: —"
        )
        return {
            "date": timezone.now().isoformat(timespec="seconds"),
            "database": connection.vendor,
            "debug": settings.DEBUG,
            "machine": _machine(),
            "data": counts,
            "requests": self.requests,
            "warmup": self.warmup,
            "dashboard_to_floor": round(ratio, 2) if ratio else None,
            # Other work on the machine skews the figures: the 1-minute load average before and after.
            "load_average": [round(load_before[0], 1), round(os.getloadavg()[0], 1)],
            "results": [m.as_dict() for m in self.results],
        }


def _name_word() -> str:
    """What someone types to find a client by name: the first word of the first client's brand (the
    name in «…», e.g. «Лотос» of «Салон красоты «Лотос Плюс»»), else of its name."""
    name = Client.objects.order_by("pk").values_list("name", flat=True).first() or ""
    brand = name.split("«", 1)[-1].split("»", 1)[0]
    words = [word for word in brand.split() if any(char.isalpha() for char in word)]
    return words[0] if words else ""


def _first_active(role: str) -> User | None:
    return User.objects.filter(role=role, is_active=True).order_by("pk").first()


def _cursor_after(queryset, field: str, skip: int) -> str:
    """The cursor a reader holds after paging ``skip`` rows down a newest-first list (or the oldest row's
    when the list is shorter)."""
    row = (
        queryset.order_by(f"-{field}", "-pk")[skip : skip + 1].first()
        or queryset.order_by(field, "pk").first()
    )
    return quote(cursor_of(row, field)) if row else ""


def _hunter_with_open_deals(count: int, today) -> User:
    """A hunter holding ``count`` open deals spread over the stages, a third of them with an order."""
    from accounts.services import user_create
    from deals.models import Order
    from deals.search import client_search_text
    from deals.stages import ORDER
    from kpi.models import Task

    hunter = user_create(
        username=f"bench-{time.time_ns()}", password=None, full_name="Нагрузочный хантер", role=Role.HUNTER
    )
    now = timezone.now()
    clients = [
        Client(name=f"Клиент нагрузки {n}", address="Сургут", owner=hunter, created_by=hunter, created_at=now)
        for n in range(count)
    ]
    numbers = [f"+7999{hunter.pk % 1000:03d}{n:04d}" for n in range(count)]
    for client, number in zip(clients, numbers, strict=True):
        client.search_text = client_search_text(client, phones=[number], contacts=())
    clients = Client.objects.bulk_create(clients)
    ClientPhone.objects.bulk_create(
        [ClientPhone(client=client, number=number) for client, number in zip(clients, numbers, strict=True)]
    )
    deals = Deal.objects.bulk_create(
        [
            Deal(
                client=client,
                owner=hunter,
                created_by=hunter,
                stage=ORDER[n % len(ORDER)],
                is_new_client=True,
                next_contact_on=today,
                created_at=now,
                stage_entered_at=now,
            )
            for n, client in enumerate(clients)
        ]
    )
    Order.objects.bulk_create(
        [Order(deal=deal, total=Decimal("15000.00"), cost_total=Decimal("9000.00")) for deal in deals[::3]]
    )
    # Each deal's next contact is its open task, which «Мой день» lists.
    Task.objects.bulk_create(
        [
            Task(client=deal.client, deal=deal, due_on=today, what="Перезвонить", created_by=hunter)
            for deal in deals
        ]
    )
    return hunter


def _confirm_second_factor(browser: TestClient, user: User) -> None:
    """Marks the benchmark's session as past the TOTP step, as the code page would."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="benchmark", confirmed=True)
    session = browser.session
    session["otp_device_id"] = device.persistent_id
    session.save()


def _count(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {table}")
        return cursor.fetchone()[0]


def _a_working_day(day):
    from atlanset_portal.workdays import next_working_day

    return next_working_day(day)


def _call_log(rows: int, month) -> bytes:
    """A PBX export of ``rows`` calls in the month by the hunters' extensions to known client phones."""
    extensions = list(
        User.objects.filter(role=Role.HUNTER).exclude(extension="").values_list("extension", flat=True)
    )
    numbers = list(ClientPhone.objects.values_list("number", flat=True)[:5000]) or ["+79000000000"]
    start, _end = month_range(month)
    rng = random.Random(7)
    stamp = int(time.time())
    lines = ["call_id,started_at,extension,other_number,direction,duration_s,recording_url"]
    for index in range(rows):
        at = start + timedelta(minutes=rng.randrange(0, 27 * 24 * 60))
        lines.append(
            f"bench-{stamp}-{index},{at.isoformat()},{rng.choice(extensions or ['100'])},"
            f"{rng.choice(numbers)},out,{rng.choice([0, 15, 45, 120, 300])},"
        )
    return "\n".join(lines).encode()


KOPECK = Decimal("0.01")
NO_CACHE = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
FLOOR_SQL = """
    SELECT u.id,
           (SELECT COUNT(DISTINCT c.id) FROM deals_client c
              JOIN deals_clientphone p ON p.client_id = c.id
             WHERE c.created_by_id = u.id AND c.created_at >= %(start)s AND c.created_at < %(end)s
               AND c.name <> '' AND c.address <> '') AS leads,
           (SELECT COUNT(*) FROM kpi_activity a
             WHERE a.owner_id = u.id AND a.kind = 'call' AND a.at >= %(start)s AND a.at < %(end)s
               AND a.source = %(telephony)s AND a.direction = %(outgoing)s
               AND a.duration_s >= %(min_call)s) AS calls,
           (SELECT COUNT(*) FROM kpi_activity a
             WHERE a.owner_id = u.id AND a.kind = 'meeting'
               AND a.at >= %(start)s AND a.at < %(end)s) AS meetings,
           (SELECT COUNT(*) FROM kpi_activity a
             WHERE a.owner_id = u.id AND a.kind = 'message'
               AND a.at >= %(start)s AND a.at < %(end)s) AS messages,
           (SELECT COALESCE(SUM(pay.amount), 0) FROM deals_payment pay
             WHERE pay.credited_to_id = u.id AND pay.accrual_month = %(month)s) AS revenue,
           (SELECT COUNT(*) FROM deals_deal d
             WHERE d.completed_for_id = u.id AND d.completed_in = %(month)s) AS deals
      FROM accounts_user u
     WHERE u.role = 'hunter' AND u.is_active
"""


def dashboard_floor(month) -> dict[int, Counters]:
    """The results board's figures for every active hunter in one hand-written query over the raw tables
    (what ``kpi.counters.month_counters`` counts, and the dashboard reads stored): the floor the dashboard
    page is compared against. Its figures are checked against the stored ones in a test."""
    start, end = month_range(month)
    ops = connection.ops  # values as the ORM would send them (SQLite keeps UTC text)
    params = {
        "start": ops.adapt_datetimefield_value(start),
        "end": ops.adapt_datetimefield_value(end),
        "month": ops.adapt_datefield_value(month_start(month)),
        "telephony": ActivitySource.TELEPHONY,
        "outgoing": CallDirection.OUTGOING,
        "min_call": settings.KPI_MIN_CALL_SECONDS,
    }
    with connection.cursor() as cursor:
        cursor.execute(FLOOR_SQL, params)
        rows = cursor.fetchall()
    return {
        hunter_id: Counters(
            leads=leads,
            calls=calls,
            meetings=meetings,
            messages=messages,
            # SQLite sums money as a binary number: read to the kopeck.
            revenue=Decimal(str(revenue)).quantize(KOPECK),
            deals=deals,
        )
        for hunter_id, leads, calls, meetings, messages, revenue, deals in rows
    }


def _machine() -> dict:
    memory = ""
    try:
        with open("/proc/meminfo") as meminfo:
            memory = meminfo.readline().split(":", 1)[1].strip()
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "memory": memory,
        "python": platform.python_version(),
        "system": platform.platform(),
    }


def write_json(report: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n")
