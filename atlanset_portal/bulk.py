"""Fast multi-row INSERTs for the big imports (a PBX call log of 100 000 rows): the ORM's bulk_create
spends most of its time building model instances and SQL per row; here rows are plain tuples."""

from collections.abc import Iterable, Sequence

from django.db import connection, models


def insert_rows(
    model: type[models.Model], columns: Sequence[str], rows: Iterable[Sequence], *, batch_size: int = 1000
) -> list[int]:
    """Inserts ``rows`` (values in the order of ``columns``, attribute names such as ``owner_id``) and
    returns the new primary keys in order. Values are prepared by each field as the ORM would."""
    by_attname = {field.attname: field for field in model._meta.concrete_fields}
    fields = [by_attname[name] for name in columns]
    prepare = [_preparer(field) for field in fields]
    table = connection.ops.quote_name(model._meta.db_table)
    names = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    pk = connection.ops.quote_name(model._meta.pk.column)
    row_sql = "(" + ", ".join(["%s"] * len(fields)) + ")"
    ids: list[int] = []
    batch: list = []

    def flush() -> None:
        values = ", ".join([row_sql] * (len(batch) // len(fields)))
        sql = f"INSERT INTO {table} ({names}) VALUES {values} RETURNING {pk}"
        with connection.cursor() as cursor:
            cursor.execute(sql, batch)
            ids.extend(row[0] for row in cursor.fetchall())
        batch.clear()

    for row in rows:
        batch.extend(
            convert(value) if convert else value for convert, value in zip(prepare, row, strict=True)
        )
        if len(batch) >= batch_size * len(fields):
            flush()
    if batch:
        flush()
    return ids


def _preparer(field):
    if isinstance(field, (models.DateTimeField, models.DateField, models.DecimalField)):
        return lambda value: None if value is None else field.get_db_prep_save(value, connection)
    return None
