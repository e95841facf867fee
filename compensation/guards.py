"""Money integrity enforced by the database itself, whatever writes to it (the portal, the admin, a shell,
a restore): what the pay workflow promises, stated once for PostgreSQL and for SQLite.

- A recorded payment or refund, a refund's clawback share and a locked statement's line are never
  updated or deleted, directly or by cascade: a mistake is corrected by a new entry. The refusal does not
  depend on the parent row, so deleting a deal and its payments in one transaction is refused too.
- No payment, refund share or line enters a locked month.
- A statement is locked only from approved, only after its month has ended, with a total equal to the sum
  of its lines; once locked it only becomes paid; a statement that is not a draft is never deleted.

The PostgreSQL functions name their tables with the schema they were installed in, so they work under any
``search_path`` (``pg_restore`` empties it). Emptying the whole database (``flush``) lifts the SQLite
triggers for its DELETEs and puts them back (``compensation/management/commands/flush.py``);
PostgreSQL's TRUNCATE fires no row triggers. A migration that makes SQLite rebuild one of these tables (adding
a column with a default does) drops the guards first and installs them again last
(``compensation/migrations/0008_stored_statements.py``).
"""

from contextlib import contextmanager
from datetime import datetime
from zoneinfo import ZoneInfo

from django.conf import settings

PAYMENT_FROZEN = "Оплата не изменяется и не удаляется: ошибку исправляют новой записью (возвратом)."
PAYMENT_LOCKED_MONTH = "Месяц закрыт: оплата не может войти в закрытый расчётный лист."
CLAWBACK_FROZEN = "Удержание по возврату не изменяется и не удаляется."
CLAWBACK_LOCKED_MONTH = "Месяц закрыт: удержание не может войти в закрытый расчётный лист."
LINE_FROZEN = "Строка закрытого расчётного листа не изменяется и не удаляется."
LINE_LOCKED = "Расчётный лист закрыт: новых строк в нём не бывает."
STATEMENT_FROZEN = "Закрытый расчётный лист не изменяется: только отметка о выплате."
STATEMENT_NOT_DELETED = "Утверждённый или закрытый расчётный лист не удаляется."
STATEMENT_TOTAL = "Итог закрытого расчётного листа должен равняться сумме его строк."
STATEMENT_LOCK_APPROVED = "Закрыть можно только утверждённый руководителем расчётный лист."
STATEMENT_LOCK_MONTH_ENDED = "Закрыть расчётный лист можно только после окончания месяца."
STATEMENT_PAID_LOCKED = "Выплаченным отмечается только закрытый расчётный лист."

LOCKED = "('locked', 'paid')"

POSTGRESQL_FUNCTIONS = (
    "portal_payment_guard",
    "portal_clawback_guard",
    "portal_statement_line_guard",
    "portal_statement_guard",
)
POSTGRESQL_TRIGGERS = (
    ("portal_payment_guard", "deals_payment", "BEFORE INSERT OR UPDATE OR DELETE"),
    ("portal_clawback_guard", "deals_clawback", "BEFORE INSERT OR UPDATE OR DELETE"),
    ("portal_statement_line_guard", "compensation_statementline", "BEFORE INSERT OR UPDATE OR DELETE"),
    ("portal_statement_guard", "compensation_statement", "BEFORE UPDATE OR DELETE"),
)


def _raise(message: str) -> str:
    return f"RAISE EXCEPTION '{message}' USING ERRCODE = 'integrity_constraint_violation';"


def postgresql_install(schema: str) -> list[str]:
    """CREATE statements for the guards, every table named as ``schema.table``."""
    s = f'"{schema}"'
    tz = settings.TIME_ZONE
    frozen_entry = f"""
        IF TG_OP = 'INSERT' THEN
            IF EXISTS (SELECT 1 FROM {s}.compensation_statement st
                       WHERE st.hunter_id = NEW.{{hunter}} AND st.month = NEW.accrual_month
                         AND st.status IN {LOCKED}) THEN
                {{locked}}
            END IF;
            RETURN NEW;
        END IF;
        {{frozen}}"""
    payment = frozen_entry.format(
        hunter="credited_to_id", locked=_raise(PAYMENT_LOCKED_MONTH), frozen=_raise(PAYMENT_FROZEN)
    )
    clawback = frozen_entry.format(
        hunter="hunter_id", locked=_raise(CLAWBACK_LOCKED_MONTH), frozen=_raise(CLAWBACK_FROZEN)
    )
    line = f"""
        IF TG_OP = 'INSERT' THEN
            IF EXISTS (SELECT 1 FROM {s}.compensation_statement
                       WHERE id = NEW.statement_id AND status IN {LOCKED}) THEN
                {_raise(LINE_LOCKED)}
            END IF;
            RETURN NEW;
        END IF;
        {_raise(LINE_FROZEN)}"""
    statement = f"""
        IF TG_OP = 'DELETE' THEN
            IF OLD.status <> 'draft' THEN
                {_raise(STATEMENT_NOT_DELETED)}
            END IF;
            RETURN OLD;
        END IF;
        IF OLD.status IN {LOCKED} THEN
            IF NEW.status NOT IN {LOCKED} OR NEW.total IS DISTINCT FROM OLD.total
                    OR NEW.month <> OLD.month OR NEW.hunter_id <> OLD.hunter_id
                    OR NEW.approved_total IS DISTINCT FROM OLD.approved_total
                    OR NEW.locked_at IS DISTINCT FROM OLD.locked_at
                    OR (OLD.status = 'paid' AND NEW.status <> 'paid') THEN
                {_raise(STATEMENT_FROZEN)}
            END IF;
        ELSIF NEW.status IN {LOCKED} THEN
            IF NEW.status = 'paid' THEN
                {_raise(STATEMENT_PAID_LOCKED)}
            END IF;
            IF OLD.status <> 'approved' THEN
                {_raise(STATEMENT_LOCK_APPROVED)}
            END IF;
            IF (NEW.locked_at AT TIME ZONE '{tz}')::date < (NEW.month + interval '1 month')::date THEN
                {_raise(STATEMENT_LOCK_MONTH_ENDED)}
            END IF;
        END IF;
        IF NEW.status IN {LOCKED} AND NEW.total IS DISTINCT FROM
                (SELECT COALESCE(SUM(amount), 0) FROM {s}.compensation_statementline
                 WHERE statement_id = NEW.id) THEN
            {_raise(STATEMENT_TOTAL)}
        END IF;
        RETURN NEW;"""
    bodies = {
        "portal_payment_guard": payment,
        "portal_clawback_guard": clawback,
        "portal_statement_line_guard": line,
        "portal_statement_guard": statement,
    }
    sql = [
        f"CREATE OR REPLACE FUNCTION {s}.{name}() RETURNS trigger AS $$\nBEGIN{bodies[name]}\nEND $$ "
        "LANGUAGE plpgsql"
        for name in POSTGRESQL_FUNCTIONS
    ]
    sql += [
        f"CREATE TRIGGER {name} {when} ON {s}.{table} FOR EACH ROW EXECUTE FUNCTION {s}.{name}()"
        for name, table, when in POSTGRESQL_TRIGGERS
    ]
    return sql


def postgresql_drop(schema: str) -> list[str]:
    s = f'"{schema}"'
    sql = [f"DROP TRIGGER IF EXISTS {name} ON {s}.{table}" for name, table, _when in POSTGRESQL_TRIGGERS]
    return sql + [f"DROP FUNCTION IF EXISTS {s}.{name}()" for name in POSTGRESQL_FUNCTIONS]


def _utc_offset_hours() -> str:
    """The portal's time zone as an SQLite date modifier; Asia/Yekaterinburg keeps +5 all year."""
    offset = datetime.now(ZoneInfo(settings.TIME_ZONE)).utcoffset()
    minutes = int(offset.total_seconds() // 60)
    return f"{'+' if minutes >= 0 else '-'}{abs(minutes)} minutes"


def sqlite_triggers() -> dict[str, str]:
    """Name → CREATE TRIGGER statement."""
    shift = _utc_offset_hours()
    return {
        "portal_payment_no_locked_month": f"""CREATE TRIGGER portal_payment_no_locked_month
            BEFORE INSERT ON deals_payment
            WHEN EXISTS (SELECT 1 FROM compensation_statement s WHERE s.hunter_id = NEW.credited_to_id
                         AND s.month = NEW.accrual_month AND s.status IN {LOCKED})
            BEGIN SELECT RAISE(ABORT, '{PAYMENT_LOCKED_MONTH}'); END""",
        "portal_payment_no_update": f"""CREATE TRIGGER portal_payment_no_update
            BEFORE UPDATE ON deals_payment
            BEGIN SELECT RAISE(ABORT, '{PAYMENT_FROZEN}'); END""",
        "portal_payment_no_delete": f"""CREATE TRIGGER portal_payment_no_delete
            BEFORE DELETE ON deals_payment
            BEGIN SELECT RAISE(ABORT, '{PAYMENT_FROZEN}'); END""",
        "portal_clawback_no_locked_month": f"""CREATE TRIGGER portal_clawback_no_locked_month
            BEFORE INSERT ON deals_clawback
            WHEN EXISTS (SELECT 1 FROM compensation_statement s WHERE s.hunter_id = NEW.hunter_id
                         AND s.month = NEW.accrual_month AND s.status IN {LOCKED})
            BEGIN SELECT RAISE(ABORT, '{CLAWBACK_LOCKED_MONTH}'); END""",
        "portal_clawback_no_update": f"""CREATE TRIGGER portal_clawback_no_update
            BEFORE UPDATE ON deals_clawback
            BEGIN SELECT RAISE(ABORT, '{CLAWBACK_FROZEN}'); END""",
        "portal_clawback_no_delete": f"""CREATE TRIGGER portal_clawback_no_delete
            BEFORE DELETE ON deals_clawback
            BEGIN SELECT RAISE(ABORT, '{CLAWBACK_FROZEN}'); END""",
        "portal_line_not_into_locked": f"""CREATE TRIGGER portal_line_not_into_locked
            BEFORE INSERT ON compensation_statementline
            WHEN EXISTS (SELECT 1 FROM compensation_statement WHERE id = NEW.statement_id
                         AND status IN {LOCKED})
            BEGIN SELECT RAISE(ABORT, '{LINE_LOCKED}'); END""",
        "portal_line_no_update": f"""CREATE TRIGGER portal_line_no_update
            BEFORE UPDATE ON compensation_statementline
            BEGIN SELECT RAISE(ABORT, '{LINE_FROZEN}'); END""",
        "portal_line_no_delete": f"""CREATE TRIGGER portal_line_no_delete
            BEFORE DELETE ON compensation_statementline
            BEGIN SELECT RAISE(ABORT, '{LINE_FROZEN}'); END""",
        "portal_statement_no_delete": f"""CREATE TRIGGER portal_statement_no_delete
            BEFORE DELETE ON compensation_statement WHEN OLD.status <> 'draft'
            BEGIN SELECT RAISE(ABORT, '{STATEMENT_NOT_DELETED}'); END""",
        "portal_statement_locked_frozen": f"""CREATE TRIGGER portal_statement_locked_frozen
            BEFORE UPDATE ON compensation_statement
            WHEN OLD.status IN {LOCKED} AND (NEW.status NOT IN {LOCKED} OR NEW.total IS NOT OLD.total
                 OR NEW.month <> OLD.month OR NEW.hunter_id <> OLD.hunter_id
                 OR NEW.approved_total IS NOT OLD.approved_total OR NEW.locked_at IS NOT OLD.locked_at
                 OR (OLD.status = 'paid' AND NEW.status <> 'paid'))
            BEGIN SELECT RAISE(ABORT, '{STATEMENT_FROZEN}'); END""",
        "portal_statement_paid_only_locked": f"""CREATE TRIGGER portal_statement_paid_only_locked
            BEFORE UPDATE ON compensation_statement
            WHEN NEW.status = 'paid' AND OLD.status NOT IN {LOCKED}
            BEGIN SELECT RAISE(ABORT, '{STATEMENT_PAID_LOCKED}'); END""",
        "portal_statement_lock_approved": f"""CREATE TRIGGER portal_statement_lock_approved
            BEFORE UPDATE ON compensation_statement
            WHEN NEW.status = 'locked' AND OLD.status NOT IN {LOCKED} AND OLD.status <> 'approved'
            BEGIN SELECT RAISE(ABORT, '{STATEMENT_LOCK_APPROVED}'); END""",
        "portal_statement_lock_month_ended": f"""CREATE TRIGGER portal_statement_lock_month_ended
            BEFORE UPDATE ON compensation_statement
            WHEN NEW.status = 'locked' AND OLD.status NOT IN {LOCKED}
                 AND date(NEW.locked_at, '{shift}') < date(NEW.month, '+1 month')
            BEGIN SELECT RAISE(ABORT, '{STATEMENT_LOCK_MONTH_ENDED}'); END""",
        # SQLite keeps decimals as binary numbers: the sum is compared to the kopeck.
        "portal_statement_total_is_its_lines": f"""CREATE TRIGGER portal_statement_total_is_its_lines
            BEFORE UPDATE ON compensation_statement
            WHEN NEW.status IN {LOCKED} AND (NEW.total IS NULL OR ABS(NEW.total -
                 (SELECT COALESCE(SUM(amount), 0) FROM compensation_statementline
                  WHERE statement_id = NEW.id)) >= 0.005)
            BEGIN SELECT RAISE(ABORT, '{STATEMENT_TOTAL}'); END""",
    }


# Every trigger name the guards have ever used on SQLite, so an upgrade removes the old ones too.
SQLITE_OLD_NAMES = ("portal_statement_locked_no_delete",)


def sqlite_drop() -> list[str]:
    names = [*sqlite_triggers(), *SQLITE_OLD_NAMES]
    return [f"DROP TRIGGER IF EXISTS {name}" for name in names]


@contextmanager
def lifted(connection):
    """The guards stand aside inside the current transaction and come back before it ends: for a
    deliberate wipe (generated data, a flush), never for the portal's own work."""
    if not connection.in_atomic_block:
        raise RuntimeError("the money guards are lifted only inside a transaction")
    drop(connection)
    try:
        yield
    finally:
        install(connection)


def install(connection) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT current_schema()")
            schema = cursor.fetchone()[0]
            for sql in postgresql_drop(schema) + postgresql_install(schema):
                cursor.execute(sql)
        elif connection.vendor == "sqlite":
            for sql in sqlite_drop():
                cursor.execute(sql)
            for sql in sqlite_triggers().values():
                cursor.execute(sql)


def drop(connection) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT current_schema()")
            for sql in postgresql_drop(cursor.fetchone()[0]):
                cursor.execute(sql)
        elif connection.vendor == "sqlite":
            for sql in sqlite_drop():
                cursor.execute(sql)
