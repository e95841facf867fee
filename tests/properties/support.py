"""What the property tests share: hostile-input strategies and the checks every refusal and save must pass.

* ``assert_clear_russian`` — a refusal a person reads: Cyrillic present, no Python exception text and no
  untranslated framework message (values the user typed, echoed back, are taken out first).
* ``form_errors`` / ``assert_errors_shown`` — the errors a page's bound form carries, and that the page
  shows each of them.
* ``row_counts`` — the row counts of the tables a submission may touch, to prove nothing was half-saved.
* ``production_problems`` — what PostgreSQL (production, see docker-compose.yml) would refuse in a row
  that SQLite (the tests' database) stores without a word: strings longer than the column or holding
  NUL, integers outside the column's range, decimals with more digits than ``max_digits``, moments
  that cannot be stored in UTC. A row the portal accepted must have none.
"""

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from html import unescape

from django.db import models, transaction
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine

# --- checks --------------------------------------------------------------------------------------------

CYRILLIC = re.compile(r"[А-Яа-яЁё]")
# Python exception text and Django's English messages (the ones a missing translation would show).
ENGLISH_LEAKS = re.compile(
    r"Traceback|Error\b|Exception|object has no attribute|NoneType|unhashable|not iterable|"
    r"not subscriptable|invalid literal|codec can't|Expecting |line \d+ column|"
    r"This field|Enter a |Ensure this|is required|Select a valid|not a valid|must be|"
    r"expected a number|out of range",
    re.IGNORECASE,
)


def assert_clear_russian(message: object, echoed: Iterable[object] = ()) -> None:
    """``message`` is a refusal in Russian; ``echoed`` are input values the message may quote."""
    text = str(message)
    for value in sorted((str(value) for value in echoed if value), key=len, reverse=True):
        for piece in {value, value.strip(), " ".join(value.split())}:
            if len(piece) >= 2:
                text = text.replace(piece, "")
    assert CYRILLIC.search(text), f"no Russian in the refusal: {message!r}"
    leak = ENGLISH_LEAKS.search(text)
    assert leak is None, f"Python or English text in the refusal: {message!r}"


def page_text(response) -> str:
    html = response.content.decode()
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def form_errors(form) -> list[str]:
    return [str(message) for messages in form.errors.values() for message in messages]


def assert_errors_shown(response, form, echoed: Iterable[object] = ()) -> list[str]:
    """The bound form carries at least one error; each is clear Russian and shown on the page."""
    errors = form_errors(form)
    assert errors, f"refused with status {response.status_code} but the form has no error"
    text = page_text(response)
    for message in errors:
        assert_clear_russian(message, echoed)
        assert " ".join(message.split()) in text, f"error not shown on the page: {message!r}"
    return errors


def row_counts(*model_classes: type[models.Model]) -> dict[str, int]:
    return {model._meta.label: model._default_manager.count() for model in model_classes}


@contextmanager
def rolled_back() -> Iterator[None]:
    """One hypothesis example's writes, undone afterwards (a savepoint inside the test's transaction)."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


class RolledBackMachine(RuleBasedStateMachine):
    """A state machine whose every example runs as ``rolled_back`` runs one: it starts from the test's
    database and leaves nothing behind."""

    def __init__(self):
        super().__init__()
        self._example = rolled_back()
        self._example.__enter__()

    def teardown(self):
        self._example.__exit__(None, None, None)


# PostgreSQL's column ranges (django/db/backends/postgresql/operations.py), whatever the test database.
POSTGRES_INTEGER_RANGES = {
    "SmallIntegerField": (-32768, 32767),
    "PositiveSmallIntegerField": (0, 32767),
    "IntegerField": (-2147483648, 2147483647),
    "PositiveIntegerField": (0, 2147483647),
    "BigIntegerField": (-(2**63), 2**63 - 1),
    "PositiveBigIntegerField": (0, 2**63 - 1),
}


def value_problems(field: models.Field, value: object) -> list[str]:
    """Why PostgreSQL would refuse ``value`` in ``field``'s column (empty when it would not)."""
    if value is None:
        return []
    kind = field.get_internal_type()
    name = field.name
    problems = []
    if isinstance(value, str):
        if "\x00" in value:
            problems.append(f"{name}: NUL character")
        if field.max_length is not None and len(value) > field.max_length:
            problems.append(f"{name}: {len(value)} characters > {field.max_length}")
    if kind in POSTGRES_INTEGER_RANGES and isinstance(value, int):
        low, high = POSTGRES_INTEGER_RANGES[kind]
        if not low <= value <= high:
            problems.append(f"{name}: {value} outside {low}..{high}")
    if kind == "DecimalField" and isinstance(value, Decimal | int):
        number = Decimal(value)
        if not number.is_finite():
            problems.append(f"{name}: {number}")
        elif number and number.adjusted() + 1 > field.max_digits - field.decimal_places:
            problems.append(f"{name}: {number} has more than {field.max_digits} digits")
    if kind == "DateTimeField" and isinstance(value, datetime):
        try:
            if value.tzinfo is not None:
                value.astimezone(UTC)
        except OverflowError:
            problems.append(f"{name}: {value.isoformat()} cannot be stored in UTC")
    return problems


def phone_is_stable(phone: str) -> bool:
    """An E.164 number (at most 15 digits) that normalize_phone leaves as it is: what a stored phone must
    be, since the card's edit form posts it back."""
    from deals.phones import normalize_phone

    return bool(re.fullmatch(r"\+[1-9][0-9]{6,14}", phone)) and normalize_phone(phone) == phone


def production_problems(instance: models.Model) -> list[str]:
    return [
        problem
        for field in instance._meta.concrete_fields
        for problem in value_problems(field, getattr(instance, field.attname))
    ]


# --- strategies ----------------------------------------------------------------------------------------

# Strings people, exports and attackers actually produce, beside what hypothesis invents.
SPECIAL_STRINGS = [
    "",
    " ",
    "\t\n",
    "\x00",
    "a\x00b",
    "\u200b",
    "\u202e123",
    "\ufeff",
    "NaN",
    "nan",
    "inf",
    "-Infinity",
    "1e309",
    "1e-400",
    "-0",
    "0",
    "-1",
    "99999999999999999999999999",
    "١٢٣",
    "１２３",
    "²",
    "'; DROP TABLE deals_client; --",
    "<script>alert(1)</script>",
    "{{ 7*7 }}",
    "%(name)s",
    "%s%s%s",
    "None",
    "null",
    "true",
    "[]",
    "{}",
    "\r\n\r\n",
    "\\",
    '"',
    ";;;",
]

# All of unicode except surrogates (which no UTF-8 request can carry), control characters included.
any_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=60)
huge_text = st.one_of(
    st.integers(min_value=300, max_value=20_000).map(lambda n: ("Ж1 " * n)[:n]),
    st.sampled_from(["ё", "\U0001f600", "x"]).map(lambda char: char * 300),
)
nasty_text = st.one_of(any_text, st.sampled_from(SPECIAL_STRINGS), huge_text)

# A file name a browser sends: never empty, no NUL or "/", at most 255 bytes (what file systems allow).
file_name = st.one_of(
    st.sampled_from(
        [
            "leads.csv",
            "2gis.xlsx",
            "old.xls",
            "calls.txt",
            "LEADS.CSV",
            "noext",
            ".xlsx",
            "a.pdf",
            "Ж" * 125 + ".csv",
        ]
    ),
    st.one_of(any_text, st.sampled_from(SPECIAL_STRINGS)).filter(
        lambda name: name.strip() and not {"\x00", "/"} & set(name) and len(name.encode()) <= 255
    ),
)

digits = st.text(alphabet="0123456789", min_size=1, max_size=25)
number_text = st.one_of(
    digits,
    st.from_regex(r"\A-?[0-9]{1,20}([.,][0-9]{0,6})?\Z"),
    st.from_regex(r"\A-?[0-9]{1,3}( [0-9]{3}){0,6}([.,][0-9]{1,2})?\Z"),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
)
money_text = st.one_of(
    number_text,
    st.decimals(min_value=Decimal("0.01"), max_value=Decimal("999999999999.99"), places=2).map(str),
    nasty_text,
)

date_text = st.one_of(
    st.dates().map(date.isoformat),
    st.dates().map(lambda day: f"{day:%d.%m}.{day.year:04d}"),
    st.from_regex(r"\A-?[0-9]{1,6}-[0-9]{1,3}-[0-9]{1,3}\Z"),
    st.from_regex(r"\A[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,6}\Z"),
    st.sampled_from(["2026-02-30", "31.02.2026", "2026-13-01", "0000-01-01", "9999-12-31", "01.01.0001"]),
    nasty_text,
)
datetime_text = st.one_of(
    st.datetimes().map(lambda moment: moment.strftime("%Y-%m-%dT%H:%M")),
    st.datetimes().map(lambda moment: f"{moment.year:04d}-{moment:%m-%dT%H:%M}"),
    st.datetimes().map(lambda moment: f"{moment:%d.%m}.{moment.year:04d} {moment:%H:%M}"),
    st.from_regex(r"\A[0-9]{1,5}-[0-9]{1,2}-[0-9]{1,2}T[0-9]{1,2}:[0-9]{1,2}\Z"),
    st.sampled_from(["2026-03-03T25:00", "2026-03-03T11:60", "2026-03-03", "11:00"]),
    nasty_text,
)

# Russian phones in the shapes people type them, and near-misses.
valid_phone = st.builds(
    lambda code, rest, shape: shape.format(code + rest[:2], rest[2:5], rest[5:7], rest[7:9]),
    code=st.sampled_from(["9", "3", "4", "8"]),
    rest=st.text(alphabet="0123456789", min_size=9, max_size=9),
    shape=st.sampled_from(["+7{}{}{}{}", "8{}{}{}{}", "8 ({}) {}-{}-{}", "+7 {} {} {} {}", "7{}{}{}{}"]),
)
phone_text = st.one_of(
    valid_phone,
    valid_phone.map(lambda phone: phone + " доб. 12"),
    valid_phone.map(lambda phone: phone[:-3]),
    valid_phone.map(lambda phone: phone + "99"),
    st.from_regex(r"\A\+?[0-9 ()\-]{1,30}\Z"),
    nasty_text,
)


def with_one_field_broken(valid: dict, broken: dict[str, st.SearchStrategy]) -> st.SearchStrategy[dict]:
    """``valid`` with one of ``broken``'s fields replaced by its strategy's value, or dropped."""

    def replace(field: str) -> st.SearchStrategy[dict]:
        return st.one_of(
            broken[field].map(lambda value: {**valid, field: value}),
            st.just({key: value for key, value in valid.items() if key != field}),
        )

    return st.sampled_from(sorted(broken)).flatmap(replace)


def mostly(good: st.SearchStrategy, bad: st.SearchStrategy, good_share: int = 3) -> st.SearchStrategy:
    """``good`` in ``good_share`` draws out of ``good_share + 1``, ``bad`` otherwise."""
    return st.integers(0, good_share).flatmap(lambda n: good if n else bad)


def posted_form(
    valid: dict, broken: dict[str, st.SearchStrategy], varied: dict[str, st.SearchStrategy] | None = None
) -> st.SearchStrategy[dict]:
    """A form as a browser (or a script) posts it: valid (each field in ``varied`` drawn from its
    strategy of good values), valid with one field broken or missing, or every field noise."""
    good = st.fixed_dictionaries(
        {
            key: st.one_of(st.just(value), (varied or {}).get(key, st.nothing()))
            for key, value in valid.items()
        }
    )
    return st.one_of(good, with_one_field_broken(valid, broken), st.fixed_dictionaries({}, optional=broken))


# Good values as people type them.
words = st.text(st.characters(categories=("L", "N", "Zs", "Pd", "Po")), min_size=1, max_size=80).filter(
    str.strip
)
money_typed = st.builds(
    lambda amount, style: style(amount),
    st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999999.99"), places=2),
    # type="number" inputs send a dot whatever the locale; trailing zeros may be dropped.
    st.sampled_from([str, lambda a: format(a, "f").rstrip("0").rstrip("."), lambda a: f" {a} "]),
)
date_typed = st.builds(
    lambda day, style: day.strftime(style),
    st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)),
    st.sampled_from(["%Y-%m-%d", "%d.%m.%Y"]),
)
datetime_typed = st.builds(
    lambda moment, style: moment.strftime(style),
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)),
    st.sampled_from(["%Y-%m-%dT%H:%M", "%d.%m.%Y %H:%M", "%Y-%m-%d %H:%M:%S"]),
)
