"""Search that works in Russian on SQLite and PostgreSQL alike.

SQLite folds only ASCII letters (``LIKE`` and ``icontains`` do not match «шарм» to «Шарм»), so each client
keeps a search text made by ``normalize_search_text``: case-folded with Python's ``casefold``, «ё» read as
«е», punctuation dropped, whitespace collapsed. A query goes through the same function, and a plain
``contains`` on the stored text then behaves the same on both databases. When no row has the words as
typed, PostgreSQL also matches by trigrams (pg_trgm, ``%>``: a query close to a word of the text,
«парикмахрская» for «парикмахерская») and ranks by that similarity; its GIN index serves both the
``LIKE`` and the trigram match.

The services of ``deals.services`` keep the text current in the transaction that changes what it is made
of (``client_search_text``).
"""

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connections
from django.db.models import F, Q, QuerySet

from .phones import phone_digits

# A query shorter than this (after normalising) lists nothing in the header search: one letter is in
# every card.
MIN_QUERY_LENGTH = 2

# What a client's search text is made of, besides its phones and contacts.
CLIENT_SEARCH_FIELDS = (
    "name",
    "legal_name",
    "address",
    "city",
    "email",
    "decision_maker_name",
    "decision_maker_email",
    "inn",
)

_SEPARATORS = re.compile(r"[\W_]+")
_CYRILLIC = re.compile(r"[а-я]")
# Latin letters that look like Cyrillic ones («Caлон» typed with a Latin С and а): read as Cyrillic in a
# word that has Cyrillic letters too. A word of Latin letters only («Sharm») stays Latin.
_LOOKALIKES = str.maketrans("aceopxykmtbh", "асеорхукмтвн")


def normalize_search_text(value: str) -> str:
    """«Салон  «ШАРМ», Ёлкина ул.» → «салон шарм елкина ул»: what is stored and what is looked for."""
    text = unicodedata.normalize("NFKC", value or "").casefold().replace("ё", "е")
    words = _SEPARATORS.sub(" ", text).split()
    return " ".join(word.translate(_LOOKALIKES) if _CYRILLIC.search(word) else word for word in words)


def client_search_text(client, *, phones: Iterable[str], contacts: Iterable) -> str:
    """The stored search text of a client: its card's names, address, e-mails and ИНН, its phones' digits
    and its contacts' names, e-mails and phone digits. ``client`` and ``contacts`` need only the fields
    read here (the data migration passes its historical models)."""
    parts = [getattr(client, name) for name in CLIENT_SEARCH_FIELDS]
    parts += sorted(phone_digits(number) for number in phones)
    # Sorted, so that the text is the same whichever order the phones and contacts are read in.
    for contact in sorted(contacts, key=lambda contact: (contact.name, contact.email, contact.phone)):
        parts += [contact.name, contact.email, phone_digits(contact.phone)]
    return normalize_search_text(" ".join(part for part in parts if part))


def contact_search_text(contact) -> str:
    """A contact's own search text (the header search lists contacts too): name, position, e-mail, phone."""
    parts = (contact.name, contact.position, contact.email, phone_digits(contact.phone))
    return normalize_search_text(" ".join(part for part in parts if part))


@dataclass(frozen=True)
class SearchQuery:
    text: str  # the query, normalised
    terms: tuple[str, ...]  # each must occur in the search text
    digits_only: bool  # a phone number, an ИНН or a postcode: matched by digits, never by similarity

    def __bool__(self) -> bool:
        return bool(self.terms)


def _national_digits(typed: str, digits: str) -> str:
    """«8 912 41…», «+7 912 41…», «7 (912)…» or «89124…» → «91241…». Phones are stored as +7…, so the
    trunk 8 or the country code 7 in front is not looked for; digits from the middle of a number or an
    ИНН are looked for as typed."""
    typed = typed.strip()
    if len(digits) < 4 or digits[0] not in "78":
        return digits
    written_as_phone = (
        typed.startswith("+7")
        or len(digits) == 11
        or re.match(r"[78]\s*[\s(\-]", typed) is not None  # «8 912», «8(912)», «8-912»
        or digits[1] == "9"  # «8912…»: a mobile number typed without spaces
    )
    return digits[1:] if written_as_phone else digits


def parse_query(raw: str) -> SearchQuery:
    text = normalize_search_text(raw)
    if not text:
        return SearchQuery(text="", terms=(), digits_only=False)
    if not any(ch.isalpha() for ch in text):
        digits = "".join(ch for ch in text if ch.isdigit())
        return SearchQuery(text=text, terms=(_national_digits(raw, digits),), digits_only=True)
    return SearchQuery(text=text, terms=tuple(dict.fromkeys(text.split())), digits_only=False)


def _fuzzy(queryset: QuerySet, query: SearchQuery) -> bool:
    """Trigram similarity: PostgreSQL only, for words (digits are matched exactly)."""
    return connections[queryset.db].vendor == "postgresql" and not query.digits_only and len(query.text) >= 3


def _exact(queryset: QuerySet, query: SearchQuery, field: str) -> QuerySet:
    condition = Q()
    for term in query.terms:
        condition &= Q(**{f"{field}__contains": term})
    return queryset.filter(condition)


def _close(queryset: QuerySet, query: SearchQuery, field: str) -> QuerySet:
    from django.contrib.postgres.lookups import TrigramWordSimilar

    if "__" in field:
        # Through a relation (deals by their client's text): the close rows of the related table by its
        # own trigram index first; as a join condition the database compared every client's words.
        relation, column = field.rsplit("__", 1)
        related = queryset.model._meta.get_field(relation).related_model
        return queryset.filter(**{f"{relation}__in": _close(related._base_manager.all(), query, column)})
    return queryset.filter(TrigramWordSimilar(F(field), query.text))


def _closest_through(queryset: QuerySet, query: SearchQuery, field: str, then: list[str], limit: int) -> list:
    """``best_matches`` of rows found by a related row's text (deals by their client's): the related rows
    are ranked once each by their own index, then the candidates are ordered here by that rank and
    ``then``; ordered in the database, the similarity was worked out for every client in the table."""
    from django.contrib.postgres.search import TrigramWordSimilarity

    relation, column = field.rsplit("__", 1)
    foreign_key = queryset.model._meta.get_field(relation)
    close = _close(foreign_key.related_model._base_manager.all(), query, column)
    rank = dict(
        close.annotate(search_rank=TrigramWordSimilarity(query.text, column)).values_list("pk", "search_rank")
    )
    names = [name.lstrip("-") for name in then]
    candidates = list(
        queryset.filter(**{f"{foreign_key.attname}__in": list(rank)}).values_list(
            "pk", foreign_key.attname, *names
        )
    )
    # Stable sorts from the last key to the first: each of ``then`` in its direction, the rank first.
    for position in reversed(range(len(then))):
        candidates.sort(key=lambda row: row[2 + position], reverse=then[position].startswith("-"))
    candidates.sort(key=lambda row: rank[row[1]], reverse=True)
    chosen = [row[0] for row in candidates[:limit]]
    rows = queryset.in_bulk(chosen)
    return [rows[pk] for pk in chosen]


# Up to this many rows found by the trigram index are handed to the page by key.
FEW_MATCHES = 200


def matching(queryset: QuerySet, query: SearchQuery | str, *, field: str = "search_text") -> QuerySet:
    """The rows of ``queryset`` whose normalised text (``field``, e.g. ``client__search_text`` on deals)
    has every word of the query; on PostgreSQL, when no row has them, those whose words are close to the
    query's (a typo). Close spellings are looked for only then: the similarity of every row's words is
    worked out one row at a time (about 30 µs each), while the words as typed are found by the trigram
    index in a few milliseconds; asking both at once made the database read every card. On PostgreSQL
    the rows found are looked up first (one query by the trigram index) and, when they are few, handed
    on by key."""
    if isinstance(query, str):
        query = parse_query(query)
    if not query:
        return queryset
    exact = _exact(queryset, query, field)
    if connections[queryset.db].vendor != "postgresql":
        return exact
    found = list(exact.order_by().values_list("pk", flat=True)[: FEW_MATCHES + 1])
    if not found and _fuzzy(queryset, query):
        return _close(queryset, query, field)
    if len(found) <= FEW_MATCHES:
        # A few matches are read by key: left as a filter under the list's order, PostgreSQL walked the
        # name index past every card to find them (28 ms for 5 phones among 20 000 clients).
        return queryset.filter(pk__in=found)
    return exact


def best_matches(
    queryset: QuerySet, query: SearchQuery, *, field: str = "search_text", then: Iterable[str], limit: int
) -> list:
    """Up to ``limit`` rows for a short list (the header search): those with every word of the query in
    the ``then`` order; on PostgreSQL, when none has them, the closest spellings, closest first. One
    query when the words are found as typed, two otherwise."""
    then = list(then)
    rows = list(_exact(queryset, query, field).order_by(*then)[:limit])
    if rows or not _fuzzy(queryset, query):
        return rows
    if "__" in field:
        return _closest_through(queryset, query, field, then, limit)
    return list(ranked(_close(queryset, query, field), query, field=field, then=then)[:limit])


def ranked(queryset: QuerySet, query: SearchQuery, *, field: str = "search_text", then: Iterable[str]):
    """``queryset`` ordered best match first on PostgreSQL (trigram word similarity), then by ``then``."""
    order = list(then)
    if _fuzzy(queryset, query):
        from django.contrib.postgres.search import TrigramWordSimilarity

        queryset = queryset.annotate(search_rank=TrigramWordSimilarity(query.text, field))
        order.insert(0, "-search_rank")
    return queryset.order_by(*order)
