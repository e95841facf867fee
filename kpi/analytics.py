"""Selectors for the sales head's dashboard (SPEC §8): the stage funnel, the revenue forecast and the
conversion of samples into orders.

Each selector runs a fixed number of SQL queries whatever the size of the history: the database does the
counting and grouping (aggregates, ``Exists`` subqueries, a ``Lead`` window over the stage history), and
Python only shapes the few aggregated rows that come back. Dates are calendar days in the portal's time
zone (``settings.TIME_ZONE``, Asia/Yekaterinburg); a period ``since``–``until`` includes both days.
"""

import statistics
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db.models import (
    Count,
    Exists,
    F,
    OuterRef,
    Q,
    QuerySet,
    Window,
)
from django.db.models.functions import Lead
from django.utils import timezone

from accounts.models import person_name
from atlanset_portal.money import MoneySum, round_kopecks
from deals.models import Deal, Order, OrderLine, SampleLine, SampleRequest, StageChange
from deals.stages import ORDER, STAGES, DealStatus, StageDefinition

ZERO = Decimal("0")
TENTH = Decimal("0.1")
SECONDS_PER_DAY = Decimal(24 * 60 * 60)

Kind = StageChange.Kind
# A deal enters a stage by being created there or moved forward into it; a move back is a rework, not a
# new entry, so it does not inflate the funnel.
ENTRY_KINDS = (Kind.CREATED, Kind.FORWARD)
# What ends a stay in a stage. A restoration does not: it resumes the deal where it was lost.
STAY_ENDING_KINDS = (Kind.FORWARD, Kind.BACK, Kind.LOST, Kind.WON)
# A lost or won record marks the end of work, so the time after it is no stay in a stage.
STAY_STARTING_KINDS = frozenset({Kind.CREATED, Kind.FORWARD, Kind.BACK, Kind.RESTORED})


# --- results ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FunnelStage:
    stage: StageDefinition
    entered: int  # distinct deals that entered the stage within the period
    moved_on: int  # of those, deals that went on to the next stage afterwards (at any time)
    conversion: Decimal | None  # moved_on / entered, in percent with one decimal; None when none entered
    median_days: Decimal | None  # median length of the stays in the stage that ended within the period


class RateSource:
    """Where a forecast row's rate comes from."""

    STAGE = "stage"  # the stage's own finished deals, at least the minimum sample
    DEPARTMENT = "department"  # too few at the stage: the department's overall rate
    NONE = "none"  # no finished deal in the window at all


@dataclass(frozen=True)
class ForecastRow:
    stage: StageDefinition
    open_deals: int  # open deals at the stage not yet paid in full
    without_order: int  # of those, deals with no order yet, counted at ``Forecast.average_order``
    ordered: Decimal  # the order totals of the open deals (the estimate for those without an order)
    received: Decimal  # what was already paid on them
    amount: Decimal  # the outstanding part: each deal's order total less what was paid, never below 0
    finished: int  # the stage's sample: deals finished within the window that were ever at this stage
    paid: int  # of those, deals paid in full
    rate_source: str  # RateSource: the stage's own rate, the department's, or none
    rate: Decimal | None  # the rate applied, in percent with one decimal; None without any history
    expected: Decimal  # amount × the rate applied, in roubles to the kopeck


@dataclass(frozen=True)
class Forecast:
    rows: list[ForecastRow]
    average_order: Decimal  # the average order total of the deals paid in full within the window
    total: Decimal  # the sum of the rows' expected amounts
    since: date  # the window of finished deals the rates are taken from, both days included
    until: date
    minimum_sample: int  # a stage with fewer finished deals takes the department's rate
    department_finished: int  # every deal finished within the window
    department_paid: int  # of those, deals paid in full
    department_rate: Decimal | None  # department_paid / department_finished in percent

    @property
    def outstanding(self) -> Decimal:
        return sum((row.amount for row in self.rows), ZERO)

    @property
    def open_deals(self) -> int:
        return sum(row.open_deals for row in self.rows)


@dataclass(frozen=True)
class SampleConversionRow:
    hunter_id: int
    hunter_name: str
    product_id: int
    product_name: str
    requests: int  # sample requests of the period (not declined) with this product
    converted: int  # of those, requests followed in time by an order of the product from the same client
    rate: Decimal  # converted / requests in percent with one decimal


# --- helpers ------------------------------------------------------------------------------------


def _start_of(day: date) -> datetime:
    """The first moment of a calendar day in the portal's time zone (not the user's active one)."""
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_default_timezone())


def _bounds(since: date, until: date) -> tuple[datetime, datetime]:
    """A half-open ``[start, end)`` range of moments covering the days ``since``…``until`` inclusive."""
    return _start_of(since), _start_of(until + timedelta(days=1))


def _share(part: int, whole: int) -> Decimal:
    """``part`` of ``whole`` (not zero) in percent, to one decimal."""
    return (Decimal(100) * part / whole).quantize(TENTH, rounding=ROUND_HALF_UP)


def _percent(part: int, whole: int) -> Decimal | None:
    return _share(part, whole) if whole else None


def _days(length: timedelta) -> Decimal:
    return Decimal(str(length.total_seconds())) / SECONDS_PER_DAY


def _owner_ids(owners: Iterable[int] | None) -> list[int] | None:
    # Materialised once: a generator would be spent by the first of several querysets.
    return None if owners is None else list(owners)


# --- funnel -------------------------------------------------------------------------------------


def stage_entries(*, since: date | None, until: date | None) -> QuerySet[StageChange]:
    """The entries into a stage within the days ``since``…``until`` (either open-ended when None): a deal
    created at the stage or moved forward into it. The funnel counts these, and the deal list's «вошла в
    этап» filter lists the deals behind them."""
    entries = StageChange.objects.filter(kind__in=ENTRY_KINDS)
    if since is not None:
        entries = entries.filter(at__gte=_start_of(since))
    if until is not None:
        entries = entries.filter(at__lt=_start_of(until + timedelta(days=1)))
    return entries


def moved_on_after_entry() -> Exists:
    """For an entry into a stage (the outer row): the deal went on to the next stage afterwards, at any
    time. Forward moves only go to the very next stage, so "entered the next stage" is a forward move
    out of this one, later than this entry (ties on ``at`` broken by insertion order)."""
    return Exists(
        StageChange.objects.filter(
            Q(at__gt=OuterRef("at")) | Q(at=OuterRef("at"), pk__gt=OuterRef("pk")),
            deal_id=OuterRef("deal_id"),
            kind=Kind.FORWARD,
            from_stage=OuterRef("to_stage"),
        )
    )


def deals_entering(
    deals: QuerySet[Deal], *, stage: str, since: date | None, until: date | None, moved_on: bool | None = None
) -> QuerySet[Deal]:
    """The deals behind a funnel figure: those that entered ``stage`` within the days, and with
    ``moved_on`` those that went on to the next stage afterwards (or, with False, did not). The entries
    are found first (an index on stage and time), not a subquery run for every deal."""
    entries = stage_entries(since=since, until=until).filter(to_stage=stage)
    entered = deals.filter(pk__in=entries.values("deal_id"))
    if moved_on is None:
        return entered
    went_on = entries.filter(moved_on_after_entry()).values("deal_id")
    return entered.filter(pk__in=went_on) if moved_on else entered.exclude(pk__in=went_on)


def funnel(*, since: date, until: date, owners: Iterable[int] | None = None) -> list[FunnelStage]:
    """One row per stage, in pipeline order: entries, conversion to the next stage and time spent.

    Two queries: one counting entries and conversions per stage, one reading the stays that ended within
    the period. ``owners`` limits both to the deals of these hunters (the deals' current owners).
    """
    start, end = _bounds(since, until)
    owner_ids = _owner_ids(owners)
    history = StageChange.objects.all()
    entries = stage_entries(since=since, until=until)
    if owner_ids is not None:
        history = history.filter(deal__owner_id__in=owner_ids)
        entries = entries.filter(deal__owner_id__in=owner_ids)

    counts = {
        row["to_stage"]: row
        for row in entries.values("to_stage")
        .annotate(
            entered=Count("deal_id", distinct=True),
            moved_on=Count("deal_id", distinct=True, filter=moved_on_after_entry()),
        )
        .order_by()
    }

    durations: dict[str, list[Decimal]] = {stage: [] for stage in ORDER}
    for stage, length in _stays_ended_within(history, start, end):
        durations[stage].append(_days(length))

    rows = []
    for definition in STAGES:
        row = counts.get(definition.stage.value, {"entered": 0, "moved_on": 0})
        stays = durations[definition.stage.value]
        rows.append(
            FunnelStage(
                stage=definition,
                entered=row["entered"],
                moved_on=row["moved_on"],
                conversion=_percent(row["moved_on"], row["entered"]),
                median_days=(
                    Decimal(statistics.median(stays)).quantize(TENTH, rounding=ROUND_HALF_UP)
                    if stays
                    else None
                ),
            )
        )
    return rows


def _stays_ended_within(
    history: QuerySet[StageChange], start: datetime, end: datetime
) -> list[tuple[str, timedelta]]:
    """(stage, length) of every stay that ended in ``[start, end)``, in one query.

    A stay runs from a stage change to the deal's next change; ``Lead`` over the deal's history ordered
    by ``at``, ``pk`` pairs each change with the one that followed it. Filters on the window columns are
    applied by Django outside the windowed subquery, so they do not break the pairing; the filter on
    deals keeps whole histories and only spares the database deals without a change in the period.
    """
    deal_order = {"partition_by": [F("deal_id")], "order_by": [F("at").asc(), F("pk").asc()]}
    rows = (
        history.filter(
            deal_id__in=StageChange.objects.filter(at__gte=start, at__lt=end).values("deal_id"),
        )
        .annotate(
            ended_at=Window(Lead("at"), **deal_order),
            ended_by=Window(Lead("kind"), **deal_order),
        )
        .filter(ended_at__gte=start, ended_at__lt=end, ended_by__in=STAY_ENDING_KINDS)
        .values_list("kind", "to_stage", "at", "ended_at")
        .order_by()
    )
    return [
        (stage, ended_at - began_at)
        for kind, stage, began_at, ended_at in rows
        if kind in STAY_STARTING_KINDS
    ]


# --- forecast -----------------------------------------------------------------------------------


def months_back(day: date, months: int) -> date:
    """The same day ``months`` months earlier (the month's last day when it is shorter)."""
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    month += 1
    last = (date(year + (month == 12), month % 12 + 1, 1) - timedelta(days=1)).day
    return date(year, month, min(day.day, last))


def forecast_window(today: date | None = None) -> tuple[date, date]:
    """The days whose finished deals the forecast's rates come from: the last ``FORECAST_WINDOW_MONTHS``
    months up to today."""
    today = today or timezone.localdate()
    return months_back(today, settings.FORECAST_WINDOW_MONTHS) + timedelta(days=1), today


def finished_within(since: date | None, until: date | None) -> Q:
    """Deals that finished within the days ``since``…``until`` (either open-ended when None): paid in
    full on one of them, or won or lost on one of them without having been paid in full."""
    paid, closed = Q(paid_in_full_on__isnull=False), Q()
    if since is not None:
        paid &= Q(paid_in_full_on__gte=since)
        closed &= Q(closed_at__gte=_start_of(since))
    if until is not None:
        paid &= Q(paid_in_full_on__lte=until)
        closed &= Q(closed_at__lt=_start_of(until + timedelta(days=1)))
    return paid | (
        Q(paid_in_full_on__isnull=True, status__in=[DealStatus.WON, DealStatus.LOST], closed_at__isnull=False)
        & closed
    )


def forecast_open_deals() -> QuerySet[Deal]:
    """The deals the forecast expects money from: open and not yet paid in full."""
    return Deal.objects.open().filter(paid_in_full_on__isnull=True)


def ever_at_stage(stage: str) -> Exists:
    """The deal was at ``stage`` at some time: any change into it (a move, or a loss or a win there)."""
    return Exists(StageChange.objects.filter(deal_id=OuterRef("pk"), to_stage=stage))


def forecast(
    *, owners: Iterable[int] | None = None, today: date | None = None, minimum_sample: int | None = None
) -> Forecast:
    """Expected revenue from open deals, stage by stage: what each still owes, times how often deals that
    were at that stage got paid.

    The rates come from the deals that finished within the window (``forecast_window``): for a stage S,
    the share of the finished deals that were ever at S and got paid in full. A stage with fewer finished
    deals than ``minimum_sample`` (``FORECAST_MIN_SAMPLE``) takes the department's overall rate (all
    deals finished within the window) instead, and says so. The rates are the department's whatever
    ``owners`` is, so that one hunter's short history does not swing their forecast; ``owners`` limits
    the open deals forecast. Each open deal counts for its outstanding part only (its order total less
    what was paid on it, never below zero); one without an order counts at the average order total of
    the deals paid in full within the window. Four queries.
    """
    since, until = forecast_window(today)
    minimum = settings.FORECAST_MIN_SAMPLE if minimum_sample is None else minimum_sample
    owner_ids = _owner_ids(owners)
    finished_deals = Deal.objects.filter(finished_within(since, until))
    paid = Q(deal__paid_in_full_on__isnull=False)

    rates = {
        row["to_stage"]: row
        for row in StageChange.objects.filter(deal__in=finished_deals)
        .values("to_stage")
        .annotate(finished=Count("deal_id", distinct=True), paid=Count("deal_id", distinct=True, filter=paid))
        .order_by()
    }
    department = finished_deals.aggregate(
        finished=Count("pk"),
        paid=Count("pk", filter=Q(paid_in_full_on__isnull=False)),
    )
    paid_orders = Order.objects.filter(
        deal__in=finished_deals.filter(paid_in_full_on__isnull=False)
    ).aggregate(total=MoneySum("total"), count=Count("pk"))
    average_order = (
        round_kopecks(paid_orders["total"] / paid_orders["count"]) if paid_orders["count"] else ZERO
    )

    open_deals = forecast_open_deals()
    if owner_ids is not None:
        open_deals = open_deals.filter(owner_id__in=owner_ids)
    # One row per deal (one order per deal): what it was ordered for and what came in on it, in kopecks
    # summed by the database, the outstanding part worked out here in Decimal.
    pipeline: dict[str, dict] = {}
    for stage, total, received in (
        open_deals.values("pk", "stage", "order__total")
        .annotate(received=MoneySum("payments__amount"))
        .values_list("stage", "order__total", "received")
        .order_by()
    ):
        current = pipeline.setdefault(
            stage, {"deals": 0, "without_order": 0, "ordered": ZERO, "received": ZERO, "outstanding": ZERO}
        )
        current["deals"] += 1
        if total is None:
            current["without_order"] += 1
            total = average_order
        current["ordered"] += total
        current["received"] += received
        current["outstanding"] += max(total - received, ZERO)

    rows = []
    for definition in STAGES:
        stage = definition.stage.value
        current = pipeline.get(
            stage, {"deals": 0, "without_order": 0, "ordered": ZERO, "received": ZERO, "outstanding": ZERO}
        )
        past = rates.get(stage, {"finished": 0, "paid": 0})
        if past["finished"] and past["finished"] >= minimum:
            source, part, whole = RateSource.STAGE, past["paid"], past["finished"]
        elif department["finished"]:
            source, part, whole = RateSource.DEPARTMENT, department["paid"], department["finished"]
        else:
            source, part, whole = RateSource.NONE, 0, 0
        amount = round_kopecks(current["outstanding"])
        rows.append(
            ForecastRow(
                stage=definition,
                open_deals=current["deals"],
                without_order=current["without_order"],
                ordered=round_kopecks(current["ordered"]),
                received=round_kopecks(current["received"]),
                amount=amount,
                finished=past["finished"],
                paid=past["paid"],
                rate_source=source,
                rate=_percent(part, whole),
                expected=round_kopecks(amount * part / whole) if whole else round_kopecks(ZERO),
            )
        )
    return Forecast(
        rows=rows,
        average_order=average_order,
        total=sum((row.expected for row in rows), round_kopecks(ZERO)),
        since=since,
        until=until,
        minimum_sample=minimum,
        department_finished=department["finished"],
        department_paid=department["paid"],
        department_rate=_percent(department["paid"], department["finished"]),
    )


# --- samples ------------------------------------------------------------------------------------


def samples_conversion(*, since: date, until: date, days: int = 60) -> list[SampleConversionRow]:
    """Per hunter and product: the period's sample requests and how many turned into an order.

    A request counts for each product on it. It converted for a product when, within ``days`` days of
    the request, an order containing that product was created on any deal of the same client (a repeat
    deal included). Declined requests are left out: the client never got those samples. The hunter is
    the deal's current owner. Rows sorted by hunter, then product.

    Two queries: the period's sample lines, and the orders of their clients' products from the first
    request on; they are matched here. (A subquery per sample line looking through every order of the
    product took minutes on a year of 100 000 deals.)
    """
    start, end = _bounds(since, until)
    requested = SampleLine.objects.filter(
        request__requested_at__gte=start, request__requested_at__lt=end
    ).exclude(request__status=SampleRequest.Status.DECLINED)
    lines = list(
        requested.values_list(
            "request_id",
            "request__requested_at",
            "request__deal__client_id",
            "request__deal__owner_id",
            "request__deal__owner__full_name",
            "request__deal__owner__username",
            "product_id",
            "product__name",
        ).order_by()
    )
    if not lines:
        return []
    first = min(line[1] for line in lines)
    ordered_on: dict[tuple[int, int], list[datetime]] = {}
    for client_id, product_id, created_at in (
        OrderLine.objects.filter(
            order__deal__client_id__in=requested.values("request__deal__client_id"),
            product_id__in=requested.values("product_id"),
            order__created_at__gte=first,
            order__created_at__lt=end + timedelta(days=days),
        )
        .values_list("order__deal__client_id", "product_id", "order__created_at")
        .order_by()
    ):
        ordered_on.setdefault((client_id, product_id), []).append(created_at)
    for moments in ordered_on.values():
        moments.sort()

    window = timedelta(days=days)
    groups: dict[tuple[int, int], dict] = {}
    for request_id, at, client_id, owner_id, full_name, username, product_id, product_name in lines:
        group = groups.setdefault(
            (owner_id, product_id),
            {
                "name": person_name(full_name, username),
                "product": product_name,
                "requests": set(),
                "converted": set(),
            },
        )
        group["requests"].add(request_id)
        moments = ordered_on.get((client_id, product_id), [])
        following = bisect_left(moments, at)
        if following < len(moments) and moments[following] <= at + window:
            group["converted"].add(request_id)
    result = [
        SampleConversionRow(
            hunter_id=owner_id,
            hunter_name=group["name"],
            product_id=product_id,
            product_name=group["product"],
            requests=len(group["requests"]),
            converted=len(group["converted"]),
            rate=_share(len(group["converted"]), len(group["requests"])),
        )
        for (owner_id, product_id), group in groups.items()
    ]
    # Sorted here rather than in SQL so the order does not depend on the database's collation.
    result.sort(key=lambda row: (row.hunter_name, row.hunter_id, row.product_name))
    return result
