"""Money integrity enforced by the database itself, whatever writes to it (the portal, the admin, a
shell): a recorded payment and a posted statement line are never updated or deleted (a mistake is
corrected by a new entry, a refund); no payment lands in a locked month; a locked statement keeps its
total, which equals the sum of its lines.

Deleting is refused only while the parent row exists: a payment's deal and a line's statement can
never be deleted while they have payments or lines (foreign keys), so this refuses every real deletion
yet lets a whole-database flush (tests, a fresh start) empty the tables parent first."""

from django.db import migrations

PAYMENT_FROZEN = "Оплата не изменяется и не удаляется: ошибку исправляют новой записью (возвратом)."
PAYMENT_LOCKED_MONTH = "Месяц закрыт: оплата не может войти в закрытый расчётный лист."
LINE_FROZEN = "Строка закрытого расчётного листа не изменяется и не удаляется."
LINE_LOCKED = "Расчётный лист закрыт: новых строк в нём не бывает."
STATEMENT_FROZEN = "Закрытый расчётный лист не изменяется: только отметка о выплате."
STATEMENT_TOTAL = "Итог закрытого расчётного листа должен равняться сумме его строк."

LOCKED = "('locked', 'paid')"

POSTGRESQL = f"""
CREATE FUNCTION portal_payment_guard() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF EXISTS (SELECT 1 FROM compensation_statement s JOIN deals_deal d ON d.owner_id = s.hunter_id
                   WHERE d.id = NEW.deal_id AND s.month = NEW.accrual_month AND s.status IN {LOCKED}) THEN
            RAISE EXCEPTION '{PAYMENT_LOCKED_MONTH}' USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN NEW;
    END IF;
    IF TG_OP = 'DELETE' AND NOT EXISTS (SELECT 1 FROM deals_deal WHERE id = OLD.deal_id) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION '{PAYMENT_FROZEN}' USING ERRCODE = 'integrity_constraint_violation';
END $$ LANGUAGE plpgsql;
CREATE TRIGGER portal_payment_guard BEFORE INSERT OR UPDATE OR DELETE ON deals_payment
    FOR EACH ROW EXECUTE FUNCTION portal_payment_guard();

CREATE FUNCTION portal_statement_line_guard() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF EXISTS (SELECT 1 FROM compensation_statement WHERE id = NEW.statement_id AND status IN {LOCKED}) THEN
            RAISE EXCEPTION '{LINE_LOCKED}' USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN NEW;
    END IF;
    IF TG_OP = 'DELETE' AND NOT EXISTS (SELECT 1 FROM compensation_statement WHERE id = OLD.statement_id) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION '{LINE_FROZEN}' USING ERRCODE = 'integrity_constraint_violation';
END $$ LANGUAGE plpgsql;
CREATE TRIGGER portal_statement_line_guard BEFORE INSERT OR UPDATE OR DELETE ON compensation_statementline
    FOR EACH ROW EXECUTE FUNCTION portal_statement_line_guard();

CREATE FUNCTION portal_statement_guard() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.status IN {LOCKED} THEN
            RAISE EXCEPTION '{STATEMENT_FROZEN}' USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN OLD;
    END IF;
    IF OLD.status IN {LOCKED} AND (NEW.status NOT IN {LOCKED} OR NEW.total IS DISTINCT FROM OLD.total
            OR NEW.month <> OLD.month OR NEW.hunter_id <> OLD.hunter_id) THEN
        RAISE EXCEPTION '{STATEMENT_FROZEN}' USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF NEW.status IN {LOCKED} AND NEW.total IS DISTINCT FROM
            (SELECT COALESCE(SUM(amount), 0) FROM compensation_statementline WHERE statement_id = NEW.id) THEN
        RAISE EXCEPTION '{STATEMENT_TOTAL}' USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER portal_statement_guard BEFORE UPDATE OR DELETE ON compensation_statement
    FOR EACH ROW EXECUTE FUNCTION portal_statement_guard();
"""

POSTGRESQL_REVERSE = """
DROP TRIGGER IF EXISTS portal_payment_guard ON deals_payment;
DROP FUNCTION IF EXISTS portal_payment_guard();
DROP TRIGGER IF EXISTS portal_statement_line_guard ON compensation_statementline;
DROP FUNCTION IF EXISTS portal_statement_line_guard();
DROP TRIGGER IF EXISTS portal_statement_guard ON compensation_statement;
DROP FUNCTION IF EXISTS portal_statement_guard();
"""

SQLITE = [
    f"""CREATE TRIGGER portal_payment_no_locked_month BEFORE INSERT ON deals_payment
        WHEN EXISTS (SELECT 1 FROM compensation_statement s JOIN deals_deal d ON d.owner_id = s.hunter_id
                     WHERE d.id = NEW.deal_id AND s.month = NEW.accrual_month AND s.status IN {LOCKED})
        BEGIN SELECT RAISE(ABORT, '{PAYMENT_LOCKED_MONTH}'); END""",
    f"""CREATE TRIGGER portal_payment_no_update BEFORE UPDATE ON deals_payment
        BEGIN SELECT RAISE(ABORT, '{PAYMENT_FROZEN}'); END""",
    f"""CREATE TRIGGER portal_payment_no_delete BEFORE DELETE ON deals_payment
        WHEN EXISTS (SELECT 1 FROM deals_deal WHERE id = OLD.deal_id)
        BEGIN SELECT RAISE(ABORT, '{PAYMENT_FROZEN}'); END""",
    f"""CREATE TRIGGER portal_line_not_into_locked BEFORE INSERT ON compensation_statementline
        WHEN EXISTS (SELECT 1 FROM compensation_statement WHERE id = NEW.statement_id AND status IN {LOCKED})
        BEGIN SELECT RAISE(ABORT, '{LINE_LOCKED}'); END""",
    f"""CREATE TRIGGER portal_line_no_update BEFORE UPDATE ON compensation_statementline
        BEGIN SELECT RAISE(ABORT, '{LINE_FROZEN}'); END""",
    f"""CREATE TRIGGER portal_line_no_delete BEFORE DELETE ON compensation_statementline
        WHEN EXISTS (SELECT 1 FROM compensation_statement WHERE id = OLD.statement_id)
        BEGIN SELECT RAISE(ABORT, '{LINE_FROZEN}'); END""",
    f"""CREATE TRIGGER portal_statement_locked_no_delete BEFORE DELETE ON compensation_statement
        WHEN OLD.status IN {LOCKED}
        BEGIN SELECT RAISE(ABORT, '{STATEMENT_FROZEN}'); END""",
    f"""CREATE TRIGGER portal_statement_locked_frozen BEFORE UPDATE ON compensation_statement
        WHEN OLD.status IN {LOCKED} AND (NEW.status NOT IN {LOCKED} OR NEW.total IS NOT OLD.total
             OR NEW.month <> OLD.month OR NEW.hunter_id <> OLD.hunter_id)
        BEGIN SELECT RAISE(ABORT, '{STATEMENT_FROZEN}'); END""",
    # SQLite keeps decimals as binary numbers: the sum is compared to the kopeck.
    f"""CREATE TRIGGER portal_statement_total_is_its_lines BEFORE UPDATE ON compensation_statement
        WHEN NEW.status IN {LOCKED} AND (NEW.total IS NULL OR ABS(NEW.total -
             (SELECT COALESCE(SUM(amount), 0) FROM compensation_statementline WHERE statement_id = NEW.id)) >= 0.005)
        BEGIN SELECT RAISE(ABORT, '{STATEMENT_TOTAL}'); END""",
]
SQLITE_NAMES = [
    "portal_payment_no_locked_month",
    "portal_payment_no_update",
    "portal_payment_no_delete",
    "portal_line_not_into_locked",
    "portal_line_no_update",
    "portal_line_no_delete",
    "portal_statement_locked_no_delete",
    "portal_statement_locked_frozen",
    "portal_statement_total_is_its_lines",
]


def create(apps, schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(POSTGRESQL)
        elif connection.vendor == "sqlite":
            for statement in SQLITE:
                cursor.execute(statement)


def drop(apps, schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(POSTGRESQL_REVERSE)
        elif connection.vendor == "sqlite":
            for name in SQLITE_NAMES:
                cursor.execute(f"DROP TRIGGER IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("compensation", "0003_historicalpayschemeversion_historicalstatement"),
        ("deals", "0009_client_export"),
    ]

    operations = [migrations.RunPython(create, drop)]
