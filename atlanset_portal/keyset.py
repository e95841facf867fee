"""Paging by time with a cursor (keyset paging) for lists ordered newest first.

A page is the rows just older (or just newer) than the row it continues from, named by that row's time
and id. Reading page 500 costs what reading page 1 costs, with an index on the order's columns (time,
id): the database starts where the cursor points instead of counting past every row before it, and a
row added meanwhile never shifts the next page (no row shown twice, none skipped). Rows sharing a
timestamp are told apart by id.
"""

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from django.db.models import Q, QuerySet

OLDER, NEWER = "older", "newer"  # the query parameters that carry a cursor


@dataclass
class KeysetPage:
    rows: list
    older: str | None  # cursor of the next (older) page, None on the last one
    newer: str | None  # cursor of the previous (newer) page, None on the first one
    params: dict  # the request's other query parameters, kept in the links

    def _link(self, name: str, cursor: str) -> str:
        return "?" + urlencode({**self.params, name: cursor})

    @property
    def older_url(self) -> str:
        return self._link(OLDER, self.older) if self.older else ""

    @property
    def newer_url(self) -> str:
        return self._link(NEWER, self.newer) if self.newer else ""

    @property
    def first_url(self) -> str:
        return "?" + urlencode(self.params) if self.newer else ""

    @property
    def has_other_pages(self) -> bool:
        return bool(self.older or self.newer)


def cursor_of(row, field: str) -> str:
    return f"{getattr(row, field).isoformat()}~{row.pk}"


def parse_cursor(value: str | None) -> tuple[datetime, int] | None:
    """A cursor from the address bar; anything that is not one reads as none (the first page)."""
    moment, _, pk = (value or "").partition("~")
    try:
        parsed = datetime.fromisoformat(moment)
    except ValueError:
        return None
    if parsed.tzinfo is None or not pk.isdigit():
        return None
    return parsed, int(pk)


def keyset_page(queryset: QuerySet, *, field: str, query: dict, size: int) -> KeysetPage:
    """A page of ``queryset`` ordered by ``field`` then id, newest first, continuing from the cursor in
    ``query`` (``older`` or ``newer``, the request's GET parameters). Each page is one query of
    ``size + 1`` rows."""
    params = {key: value for key, value in query.items() if key not in (OLDER, NEWER, "page")}
    newer = parse_cursor(query.get(NEWER))
    older = parse_cursor(query.get(OLDER)) if newer is None else None
    if newer is not None:
        moment, pk = newer
        # The redundant ``>=`` lets the index start at the cursor; the rest breaks ties on the moment.
        after = Q(**{f"{field}__gte": moment}) & (
            Q(**{f"{field}__gt": moment}) | Q(**{field: moment, "pk__gt": pk})
        )
        rows = list(queryset.filter(after).order_by(field, "pk")[: size + 1])
        more_newer = len(rows) > size
        rows = rows[:size][::-1]
        return KeysetPage(
            rows=rows,
            older=cursor_of(rows[-1], field) if rows else None,
            newer=cursor_of(rows[0], field) if rows and more_newer else None,
            params=params,
        )
    ordered = queryset.order_by(f"-{field}", "-pk")
    if older is not None:
        moment, pk = older
        ordered = ordered.filter(
            Q(**{f"{field}__lte": moment})
            & (Q(**{f"{field}__lt": moment}) | Q(**{field: moment, "pk__lt": pk}))
        )
    rows = list(ordered[: size + 1])
    more_older = len(rows) > size
    rows = rows[:size]
    return KeysetPage(
        rows=rows,
        older=cursor_of(rows[-1], field) if rows and more_older else None,
        newer=cursor_of(rows[0], field) if rows and older is not None else None,
        params=params,
    )
