"""Loads a sales history from a scenario file (shared/scenario-format.md) by replaying it in date order
through the same services the pages use, and prints a statement in the format's JSON.

Invalid files are refused with a message naming the entry and field, and nothing is imported: the whole
replay is one transaction.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from functools import partial

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from accounts.roles import Role
from accounts.services import user_create
from deals import services as deal_services
from deals.models import Client, Deal, Product
from kpi import services as kpi_services
from kpi.models import ActivityKind, ActivitySource, CallDirection, DepartmentQuarterPlan

from . import rules
from . import services as pay_services
from .engine import LineKind
from .statements import MonthStatement

SECTIONS = (
    "scheme",
    "users",
    "plans",
    "department_plans",
    "clients",
    "deals",
    "payments",
    "refunds",
    "activities",
    "expenses",
    "statement_locks",
)
ROLES = {
    "hunter": Role.HUNTER,
    "sales_head": Role.SALES_HEAD,
    "accountant": Role.ACCOUNTANT,
    "production": Role.PRODUCTION,
}
TECHNICAL_USERS = {
    Role.SALES_HEAD: ("scenario_head", "Руководитель (импорт сценария)"),
    Role.ACCOUNTANT: ("scenario_accountant", "Бухгалтер (импорт сценария)"),
}


class ScenarioError(ValidationError):
    """The file cannot be imported; the message names the entry and the field."""


def _fail(where: str, message: str):
    raise ScenarioError(f"{where}: {message}")


def _date(value, where: str) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        _fail(where, f"«{value}» — не дата в формате ГГГГ-ММ-ДД")


def _month(value, where: str) -> date:
    try:
        year, month = str(value).split("-")
        return date(int(year), int(month), 1)
    except ValueError:
        _fail(where, f"«{value}» — не месяц в формате ГГГГ-ММ")


def _quarter(value, where: str) -> date:
    try:
        year, quarter = str(value).split("-Q")
        if not 1 <= int(quarter) <= 4:
            raise ValueError
        return date(int(year), (int(quarter) - 1) * 3 + 1, 1)
    except ValueError:
        _fail(where, f"«{value}» — не квартал в формате ГГГГ-Qn")


def _datetime(value, where: str) -> datetime:
    text = str(value)
    try:
        moment = (
            datetime.fromisoformat(text)
            if "T" in text
            else datetime.combine(date.fromisoformat(text), time(12))
        )
    except ValueError:
        _fail(where, f"«{value}» — не дата и время")
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


def _noon(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(12)))


def _decimal(value, where: str) -> Decimal:
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        _fail(where, f"«{value}» — не число")
    if not number.is_finite():
        _fail(where, f"«{value}» — не число")
    return number


def _require(entry: dict, field: str, where: str):
    if not isinstance(entry, dict):
        _fail(where, "запись должна быть объектом")
    if field not in entry or entry[field] in (None, ""):
        _fail(f"{where}.{field}", "обязательное поле не заполнено")
    return entry[field]


@dataclass
class Event:
    day: date
    section: int
    index: int
    run: Callable[[], None]


class Replay:
    def __init__(self, data: dict):
        if not isinstance(data, dict):
            raise ScenarioError("Файл сценария должен быть объектом JSON.")
        unknown = set(data) - set(SECTIONS)
        if unknown:
            raise ScenarioError(f"Неизвестные разделы: {', '.join(sorted(unknown))}")
        self.data = data
        self.users: dict[str, User] = {}
        self.clients: dict[str, Client] = {}
        self.deals: dict[str, Deal] = {}
        self.deal_stage: dict[str, str | None] = {}
        self.events: list[Event] = []

    # -- who acts ------------------------------------------------------------------------------

    def actor(self, role: Role) -> User:
        for user in self.users.values():
            if user.role == role:
                return user
        username, full_name = TECHNICAL_USERS[role]
        user = User.objects.filter(username=username).first() or user_create(
            username=username, password=None, full_name=full_name, role=role
        )
        self.users.setdefault(username, user)
        return user

    def hunter(self, username, where: str) -> User:
        user = self.users.get(username)
        if user is None or user.role != Role.HUNTER:
            _fail(where, f"«{username}» — не хантер из раздела users")
        return user

    # -- building the event list -------------------------------------------------------------------

    def add(self, day: date, section: str, index: int, run: Callable[[], None]) -> None:
        self.events.append(Event(day=day, section=SECTIONS.index(section), index=index, run=run))

    def entries(self, section: str) -> list:
        value = self.data.get(section, [])
        if section == "scheme" and isinstance(value, dict):
            value = [value]
        if not isinstance(value, list):
            raise ScenarioError(f"{section}: должен быть список")
        return value

    def load_users(self) -> None:
        for index, entry in enumerate(self.entries("users")):
            where = f"users[{index}]"
            username = str(_require(entry, "username", where))
            role = ROLES.get(_require(entry, "role", where))
            if role is None:
                _fail(f"{where}.role", f"«{entry['role']}» — неизвестная роль")
            user = User.objects.filter(username=username).first()
            if user is not None and user.role != role:
                _fail(f"{where}.username", f"пользователь «{username}» уже есть с другой ролью")
            try:
                self.users[username] = user or user_create(
                    username=username,
                    password=None,
                    full_name=entry.get("full_name") or username,
                    role=role,
                    extension=str(entry.get("extension") or ""),
                )
            except ValidationError as error:
                _fail(where, "; ".join(error.messages))

    def plan(self) -> None:
        for index, entry in enumerate(self.entries("scheme")):
            where = f"scheme[{index}]"
            day = _date(_require(entry, "effective_from", where), f"{where}.effective_from")
            values = {
                name: _decimal(entry[name], f"{where}.{name}")
                for name in (
                    "fixed_amount",
                    "new_client_rate",
                    "existing_client_rate",
                    "margin_bonus_rate",
                    "accelerator_multiplier",
                )
                if name in entry
            }
            defaults = rules.DEFAULT_SCHEME
            values = {
                "fixed_amount": defaults.fixed_amount,
                "new_client_rate": defaults.new_client_rate,
                "existing_client_rate": defaults.existing_client_rate,
                "margin_bonus_rate": defaults.margin_bonus_rate,
                "accelerator_multiplier": defaults.accelerator_multiplier,
                "accelerator": entry.get("accelerator", defaults.accelerator),
                "department_bonus_split": entry.get(
                    "department_bonus_split", defaults.department_bonus_split
                ),
                **values,
            }
            self.add(
                day,
                "scheme",
                index,
                lambda day=day, values=values: pay_services.scheme_save(
                    acting_user=self.actor(Role.SALES_HEAD), effective_from=day, **values
                ),
            )

        for index, entry in enumerate(self.entries("plans")):
            where = f"plans[{index}]"
            hunter = self.hunter(_require(entry, "hunter", where), f"{where}.hunter")
            month = _month(_require(entry, "month", where), f"{where}.month")
            kpi = entry.get("kpi") or {}
            row = kpi_services.PlanRow(
                hunter=hunter,
                revenue_target=_decimal(entry.get("revenue", "0"), f"{where}.revenue"),
                deals_target=int(entry.get("deals", 0)),
                leads_target=int(kpi.get("leads", 0)),
                calls_target=int(kpi.get("calls", 0)),
                meetings_target=int(kpi.get("meetings", 0)),
                messages_target=int(kpi.get("messages", 0)),
            )
            self.add(
                month,
                "plans",
                index,
                lambda month=month, row=row: kpi_services.plans_save(
                    acting_user=self.actor(Role.SALES_HEAD), month=month, rows=[row]
                ),
            )

        for index, entry in enumerate(self.entries("department_plans")):
            where = f"department_plans[{index}]"
            quarter = _quarter(_require(entry, "quarter", where), f"{where}.quarter")
            split = entry.get("split", "")
            if split not in ("", *DepartmentQuarterPlan.Split.values):
                _fail(f"{where}.split", f"«{split}» — ожидается equal или revenue_share")
            values = {
                "revenue_target": _decimal(_require(entry, "revenue", where), f"{where}.revenue"),
                "bonus_pool": _decimal(entry.get("pool", "0"), f"{where}.pool"),
                "split": split,
            }
            self.add(
                quarter,
                "department_plans",
                index,
                lambda quarter=quarter, values=values: kpi_services.quarter_plan_save(
                    acting_user=self.actor(Role.SALES_HEAD), quarter=quarter, **values
                ),
            )

        for index, entry in enumerate(self.entries("clients")):
            where = f"clients[{index}]"
            key = str(_require(entry, "key", where))
            if key in self.clients or any(e.get("key") == key for e in self.entries("clients")[:index]):
                _fail(f"{where}.key", f"ключ «{key}» повторяется")
            owner = self.hunter(_require(entry, "owner", where), f"{where}.owner")
            created = _date(_require(entry, "created", where), f"{where}.created")
            phones = entry.get("phones") or []
            if not isinstance(phones, list):
                _fail(f"{where}.phones", "должен быть список")

            def create_client(entry=entry, key=key, owner=owner, created=created, phones=phones, where=where):
                try:
                    client = deal_services.client_create(
                        acting_user=owner,
                        name=str(_require(entry, "name", where)),
                        address=str(entry.get("address", "")),
                        phones=phones,
                        created_at=_noon(created),
                    )
                except ValidationError as error:
                    _fail(where, "; ".join(error.messages))
                Client.objects.filter(pk=client.pk).update(external_key=key)
                self.clients[key] = client

            self.add(created, "clients", index, create_client)

        client_keys = {str(entry.get("key")) for entry in self.entries("clients")}
        for index, entry in enumerate(self.entries("deals")):
            where = f"deals[{index}]"
            key = str(_require(entry, "key", where))
            client_key = str(_require(entry, "client", where))
            if client_key not in client_keys:
                _fail(f"{where}.client", f"неизвестный клиент «{client_key}»")
            created = _date(_require(entry, "created", where), f"{where}.created")
            lines = []
            for line_index, line in enumerate(entry.get("order") or []):
                line_where = f"{where}.order[{line_index}]"
                lines.append(
                    (
                        str(_require(line, "product", line_where)),
                        _decimal(_require(line, "quantity", line_where), f"{line_where}.quantity"),
                        _decimal(_require(line, "price", line_where), f"{line_where}.price"),
                        _decimal(line.get("cost", "0"), f"{line_where}.cost"),
                    )
                )
            self.deal_stage[key] = entry.get("stage")

            def create_deal(
                key=key, client_key=client_key, created=created, lines=lines, where=where, entry=entry
            ):
                client = self.clients[client_key]
                if entry.get("owner") and entry["owner"] != client.owner.username:
                    _fail(f"{where}.owner", "сделка ведётся хантером клиента")
                order_lines = [
                    deal_services.OrderLineInput(
                        product=Product.objects.get_or_create(
                            name=name, defaults={"list_price": price, "cost": cost}
                        )[0],
                        quantity=quantity,
                        price=price,
                        cost=cost,
                    )
                    for name, quantity, price, cost in lines
                ]
                try:
                    self.deals[key] = deal_services.deal_import(
                        acting_user=client.owner,
                        client=client,
                        created_at=_noon(created),
                        lines=order_lines,
                        external_key=key,
                    )
                except (ValidationError, deal_services.DealRuleError) as error:
                    _fail(where, str(error))

            self.add(created, "deals", index, create_deal)

        deal_keys = {str(entry.get("key")) for entry in self.entries("deals")}
        for section in ("payments", "refunds"):
            for index, entry in enumerate(self.entries(section)):
                where = f"{section}[{index}]"
                key = str(_require(entry, "deal", where))
                if key not in deal_keys:
                    _fail(f"{where}.deal", f"неизвестная сделка «{key}»")
                amount = _decimal(_require(entry, "amount", where), f"{where}.amount")
                if amount <= 0:
                    _fail(f"{where}.amount", "сумма должна быть больше нуля")
                if section == "payments":
                    received = _date(_require(entry, "received_on", where), f"{where}.received_on")
                    recorded = _date(entry.get("recorded_on") or received.isoformat(), f"{where}.recorded_on")
                    run = partial(
                        self.record_payment,
                        where=where,
                        key=key,
                        amount=amount,
                        received=received,
                        recorded=recorded,
                        bank_document=str(entry.get("bank_document", "")),
                    )
                else:
                    recorded = _date(_require(entry, "recorded_on", where), f"{where}.recorded_on")
                    run = partial(self.record_refund, where=where, key=key, amount=amount, recorded=recorded)
                self.add(recorded, section, index, run)

        for index, entry in enumerate(self.entries("activities")):
            where = f"activities[{index}]"
            owner = self.hunter(_require(entry, "owner", where), f"{where}.owner")
            kind = _require(entry, "kind", where)
            if kind not in ActivityKind.values:
                _fail(f"{where}.kind", f"«{kind}» — неизвестный вид активности")
            source = entry.get("source", ActivitySource.MANUAL)
            if source not in ActivitySource.values:
                _fail(f"{where}.source", f"«{source}» — ожидается telephony или manual")
            direction = entry.get("direction", "")
            if direction and direction not in CallDirection.values:
                _fail(f"{where}.direction", f"«{direction}» — ожидается outgoing, incoming или internal")
            moment = _datetime(_require(entry, "at", where), f"{where}.at")
            client_key = entry.get("client")
            if client_key is not None and str(client_key) not in client_keys:
                _fail(f"{where}.client", f"неизвестный клиент «{client_key}»")
            count = entry.get("count", 1)
            if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 10_000:
                _fail(f"{where}.count", "должно быть целое число от 1 до 10 000")
            duration = entry.get("duration_s")
            if duration is not None and (
                not isinstance(duration, int) or isinstance(duration, bool) or not 0 <= duration <= 86_400
            ):
                _fail(
                    f"{where}.duration_s", "длительность звонка — целое число секунд от 0 до 86 400 (сутки)"
                )
            run = partial(
                self.import_activities,
                where=where,
                owner=owner,
                kind=kind,
                moment=moment,
                count=count,
                client_key=client_key,
                source=source,
                direction=direction,
                duration=duration,
            )
            self.add(timezone.localdate(moment), "activities", index, run)

        for index, entry in enumerate(self.entries("expenses")):
            where = f"expenses[{index}]"
            hunter = self.hunter(_require(entry, "hunter", where), f"{where}.hunter")
            amount = _decimal(_require(entry, "amount", where), f"{where}.amount")
            approved = _decimal(entry.get("approved_amount", amount), f"{where}.approved_amount")
            approved_on = _date(_require(entry, "approved_on", where), f"{where}.approved_on")
            run = partial(
                self.approve_expense,
                where=where,
                hunter=hunter,
                amount=amount,
                approved=approved,
                approved_on=approved_on,
                note=str(entry.get("note", "")),
            )
            self.add(approved_on, "expenses", index, run)

        for index, entry in enumerate(self.entries("statement_locks")):
            where = f"statement_locks[{index}]"
            month = _month(_require(entry, "month", where), f"{where}.month")
            locked_on = _date(_require(entry, "locked_on", where), f"{where}.locked_on")
            run = partial(self.lock_month, where=where, month=month, locked_on=locked_on)
            self.add(locked_on, "statement_locks", index, run)

    # -- the replayed actions, each through the portal's own services ------------------------------

    def record_payment(self, *, where, key, amount, received, recorded, bank_document) -> None:
        self.guard(
            where,
            lambda: deal_services.payment_record(
                acting_user=self.actor(Role.ACCOUNTANT),
                deal=self.deals[key],
                amount=amount,
                received_on=received,
                recorded_at=_noon(recorded),
                bank_document=bank_document,
            ),
        )

    def record_refund(self, *, where, key, amount, recorded) -> None:
        self.guard(
            where,
            lambda: deal_services.payment_refund(
                acting_user=self.actor(Role.ACCOUNTANT),
                deal=self.deals[key],
                amount=amount,
                recorded_on=recorded,
            ),
        )

    def import_activities(
        self, *, where, owner, kind, moment, count, client_key, source, direction, duration
    ):
        client = self.clients.get(str(client_key)) if client_key is not None else None
        self.guard(
            where,
            lambda: kpi_services.activities_import(
                owner=owner,
                kind=kind,
                at=moment,
                count=count,
                client=client,
                source=source,
                direction=direction,
                duration_s=duration,
            ),
        )

    def approve_expense(self, *, where, hunter, amount, approved, approved_on, note) -> None:
        def approve():
            claim = pay_services.expense_claim(acting_user=hunter, amount=amount, note=note)
            pay_services.expense_decide(
                acting_user=self.actor(Role.SALES_HEAD),
                expense=claim,
                approved_amount=approved,
                decided_on=approved_on,
            )

        self.guard(where, approve)

    def lock_month(self, *, where, month, locked_on) -> None:
        self.guard(
            where,
            lambda: pay_services.statements_lock_month(
                acting_user=self.actor(Role.ACCOUNTANT), month=month, at=_noon(locked_on)
            ),
        )

    def guard(self, where: str, action: Callable):
        try:
            return action()
        except (ValidationError, deal_services.DealRuleError, PermissionDenied, ValueError) as error:
            messages = getattr(error, "messages", None) or [str(error)]
            _fail(where, "; ".join(str(message) for message in messages))

    def run(self) -> None:
        self.load_users()
        self.plan()
        for event in sorted(self.events, key=lambda e: (e.day, e.section, e.index)):
            event.run()
        for key, deal in self.deals.items():
            stage = self.deal_stage.get(key)
            deal_services.deal_import_settle_stage(deal=deal, stage=stage)


@transaction.atomic
def import_scenario(data: dict) -> Replay:
    replay = Replay(data)
    replay.run()
    return replay


def load_scenario_file(text: str) -> dict:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ScenarioError(f"Файл не является JSON: строка {error.lineno}, позиция {error.colno}") from None


def _money(value: Decimal | None) -> str | None:
    return None if value is None else f"{rules.round_kopecks(value):.2f}"


def _rate(value: Decimal | None) -> str | None:
    """0.05 → "0.05", 0.025 → "0.025", 0.1 → "0.10": as few digits as the rate needs, at least two."""
    if value is None:
        return None
    normal = value.normalize()
    return f"{normal:.2f}" if -normal.as_tuple().exponent <= 2 else f"{normal:f}"


def statement_json(statement: MonthStatement) -> dict:
    """The statement in shared/scenario-format.md's shape; deals and clients by their scenario keys."""
    deal_ids = {line.deal_key for line in statement.lines if line.deal_key is not None}
    deals = {deal.pk: deal for deal in Deal.objects.filter(pk__in=deal_ids).select_related("client")}
    lines = []
    for line in statement.lines:
        item: dict = {"kind": str(line.kind)}
        if line.kind == LineKind.COMMISSION:
            deal = deals.get(line.deal_key)
            item["deal"] = (deal.external_key or str(deal.pk)) if deal else None
            item["client"] = (deal.client.external_key or str(deal.client_id)) if deal else None
            item.update(
                base=_money(line.base),
                rate=_rate(line.rate),
                amount=_money(line.amount),
                accelerated=line.accelerated,
                late=line.late,
            )
        elif line.kind == LineKind.PLAN_BONUS:
            item.update(base=_money(line.base), rate=_rate(line.rate), amount=_money(line.amount))
        else:
            item["amount"] = _money(line.amount)
        lines.append(item)
    totals = {
        str(kind): _money(statement.totals.get(kind, Decimal("0")))
        for kind in ("fixed", "commission", "plan_bonus", "department_bonus", "expense", "adjustment")
    }
    counters = statement.counters
    plan = statement.plan
    return {
        "hunter": statement.hunter.username,
        "month": f"{statement.month:%Y-%m}",
        "status": statement.status,
        "sales_plan": {
            "revenue": _money(counters.revenue) if counters else None,
            "target_revenue": _money(plan.revenue_target) if plan else None,
            "deals": counters.deals if counters else None,
            "target_deals": plan.deals_target if plan else None,
            "fulfilled": statement.sales_plan_fulfilled,
        },
        "kpi_plan": {
            "met": statement.kpi_met,
            "counters": {name: getattr(counters, name) for name in ("leads", "calls", "meetings", "messages")}
            if counters
            else None,
        },
        "lines": lines,
        "totals": totals,
        "total": _money(statement.total),
    }
