"""Selectors for the sales head's dashboard (SPEC §8): the stage funnel, the revenue forecast and the
conversion of samples into orders.

Each selector runs a fixed number of SQL queries whatever the size of the history: the database does the
counting and grouping (aggregates, ``Exists`` subqueries, a ``Lead`` window over the stage history), and
Python only shapes the few aggregated rows that come back. Dates are calendar days in the portal's time
zone (``settings.TIME_ZONE``, Asia/Yekaterinburg); a period ``since``–``until`` includes both days.
"""

import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import (
    Count,
    DateTimeField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Window,
)
from django.db.models.functions import Lead
from django.utils import timezone

from deals.models import Deal, Order, OrderLine, SampleLine, SampleRequest, StageChange
from deals.stages import ORDER, STAGES, DealStatus, StageDefinition

ZERO = Decimal("0")
KOPECK = Decimal("0.01")
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


@dataclass(frozen=True)
class ForecastRow:
    stage: StageDefinition
    open_deals: int
    without_order: int  # open deals with no order yet, counted at ``Forecast.average_order``
    amount: Decimal  # the open deals' order totals plus the estimate for those without an order
    finished: int  # finished deals in the history that were ever at this stage
    paid: int  # of those, deals paid in full
    rate: Decimal | None  # paid / finished in percent with one decimal; None without any history
    expected: Decimal  # amount × paid / finished, in roubles to the kopeck


@dataclass(frozen=True)
class Forecast:
    rows: list[ForecastRow]
    average_order: Decimal  # the average order total of paid deals in the history
    total: Decimal  # the sum of the rows' expected amounts


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


def _money(value: Decimal) -> Decimal:
    return value.quantize(KOPECK, rounding=ROUND_HALF_UP)


def _days(length: timedelta) -> Decimal:
    return Decimal(str(length.total_seconds())) / SECONDS_PER_DAY


def _owner_ids(owners: Iterable[int] | None) -> list[int] | None:
    # Materialised once: a generator would be spent by the first of several querysets.
    return None if owners is None else list(owners)


# --- funnel -------------------------------------------------------------------------------------


def funnel(*, since: date, until: date, owners: Iterable[int] | None = None) -> list[FunnelStage]:
    """One row per stage, in pipeline order: entries, conversion to the next stage and time spent.

    Two queries: one counting entries and conversions per stage, one reading the stays that ended within
    the period. ``owners`` limits both to the deals of these hunters (the deals' current owners).
    """
    start, end = _bounds(since, until)
    owner_ids = _owner_ids(owners)
    history = StageChange.objects.all()
    if owner_ids is not None:
        history = history.filter(deal__owner_id__in=owner_ids)

    # Forward moves only go to the very next stage, so "entered the next stage" is a forward move out
    # of this one, later than this entry (ties on ``at`` broken by insertion order).
    moved_on = StageChange.objects.filter(
        Q(at__gt=OuterRef("at")) | Q(at=OuterRef("at"), pk__gt=OuterRef("pk")),
        deal_id=OuterRef("deal_id"),
        kind=Kind.FORWARD,
        from_stage=OuterRef("to_stage"),
    )
    counts = {
        row["to_stage"]: row
        for row in history.filter(kind__in=ENTRY_KINDS, at__gte=start, at__lt=end)
        .values("to_stage")
        .annotate(
            entered=Count("deal_id", distinct=True),
            moved_on=Count("deal_id", distinct=True, filter=Exists(moved_on)),
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


def forecast(*, owners: Iterable[int] | None = None, history_since: date | None = None) -> Forecast:
    """Expected revenue from open deals, stage by stage, by how often deals at that stage got paid.

    The history is every finished deal (won, lost, or paid in full while still open) created on or
    after ``history_since``; for a stage S the rate is the share of the finished deals that were ever at
    S and got paid in full. The rates are the department's whatever ``owners`` is, so that one hunter's
    short history does not swing their forecast; ``owners`` limits the open deals forecast. An open
    deal without an order is counted at the average order total of the paid deals in the history.
    Three queries.
    """
    owner_ids = _owner_ids(owners)
    finished = Q(deal__status__in=[DealStatus.WON, DealStatus.LOST]) | Q(deal__paid_in_full_on__isnull=False)
    paid = Q(deal__paid_in_full_on__isnull=False)
    history = StageChange.objects.filter(finished)
    paid_orders = Order.objects.filter(paid)
    if history_since is not None:
        history = history.filter(deal__created_at__gte=_start_of(history_since))
        paid_orders = paid_orders.filter(deal__created_at__gte=_start_of(history_since))

    # Any change into S (a move, or a loss or win recorded at S) shows the deal was at S.
    rates = {
        row["to_stage"]: row
        for row in history.values("to_stage")
        .annotate(finished=Count("deal_id", distinct=True), paid=Count("deal_id", distinct=True, filter=paid))
        .order_by()
    }
    paid_sum = paid_orders.aggregate(total=Sum("total"), count=Count("pk"))
    average_order = _money(paid_sum["total"] / paid_sum["count"]) if paid_sum["count"] else ZERO

    # A deal already paid in full brings no more money, even while it waits to be closed.
    open_deals = Deal.objects.open().filter(paid_in_full_on__isnull=True)
    if owner_ids is not None:
        open_deals = open_deals.filter(owner_id__in=owner_ids)
    # One order per deal, so the join to it never repeats a deal.
    pipeline = {
        row["stage"]: row
        for row in open_deals.values("stage")
        .annotate(
            deals=Count("pk"),
            ordered=Sum("order__total"),
            without_order=Count("pk", filter=Q(order__isnull=True)),
        )
        .order_by()
    }

    rows = []
    for definition in STAGES:
        stage = definition.stage.value
        current = pipeline.get(stage, {"deals": 0, "ordered": None, "without_order": 0})
        past = rates.get(stage, {"finished": 0, "paid": 0})
        amount = _money((current["ordered"] or ZERO) + average_order * current["without_order"])
        expected = _money(amount * past["paid"] / past["finished"]) if past["finished"] else _money(ZERO)
        rows.append(
            ForecastRow(
                stage=definition,
                open_deals=current["deals"],
                without_order=current["without_order"],
                amount=amount,
                finished=past["finished"],
                paid=past["paid"],
                rate=_percent(past["paid"], past["finished"]),
                expected=expected,
            )
        )
    return Forecast(
        rows=rows, average_order=average_order, total=sum((row.expected for row in rows), _money(ZERO))
    )


# --- samples ------------------------------------------------------------------------------------


def samples_conversion(*, since: date, until: date, days: int = 60) -> list[SampleConversionRow]:
    """Per hunter and product: the period's sample requests and how many turned into an order.

    A request counts for each product on it. It converted for a product when, within ``days`` days of
    the request, an order containing that product was created on any deal of the same client (a repeat
    deal included). Declined requests are left out: the client never got those samples. The hunter is
    the deal's current owner. One query; rows sorted by hunter, then product.
    """
    start, end = _bounds(since, until)
    ordered = OrderLine.objects.filter(
        product_id=OuterRef("product_id"),
        order__deal__client_id=OuterRef("request__deal__client_id"),
        order__created_at__gte=OuterRef("request__requested_at"),
        order__created_at__lte=OuterRef("window_end"),
    )
    rows = (
        SampleLine.objects.filter(request__requested_at__gte=start, request__requested_at__lt=end)
        .exclude(request__status=SampleRequest.Status.DECLINED)
        .alias(
            window_end=ExpressionWrapper(
                F("request__requested_at") + timedelta(days=days), output_field=DateTimeField()
            )
        )
        .alias(followed=Exists(ordered))
        .values(
            "request__deal__owner_id",
            "request__deal__owner__full_name",
            "request__deal__owner__username",
            "product_id",
            "product__name",
        )
        .annotate(
            requests=Count("request_id", distinct=True),
            converted=Count("request_id", distinct=True, filter=Q(followed=True)),
        )
        .order_by()
    )
    result = [
        SampleConversionRow(
            hunter_id=row["request__deal__owner_id"],
            hunter_name=row["request__deal__owner__full_name"] or row["request__deal__owner__username"],
            product_id=row["product_id"],
            product_name=row["product__name"],
            requests=row["requests"],
            converted=row["converted"],
            rate=_share(row["converted"], row["requests"]),
        )
        for row in rows
    ]
    # Sorted here rather than in SQL so the order does not depend on the database's collation.
    result.sort(key=lambda row: (row.hunter_name, row.hunter_id, row.product_name))
    return result
