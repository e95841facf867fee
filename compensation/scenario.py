"""Loads a sales history from a scenario file (shared/scenario-format.md) by replaying it in date order
through the same services the pages use, and prints a statement in the format's JSON.

Invalid files are refused with a message naming the entry and field, and nothing is imported: the whole
replay is one transaction.
"""

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from functools import partial

from django import forms
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from accounts.roles import Role
from accounts.services import user_create
from atlanset_portal.money import round_kopecks
from deals import services as deal_services
from deals.forms import PaymentForm, RefundForm, money_field, quantity_field
from deals.models import Client, Deal, Payment, Product
from deals.stages import Stage
from kpi import services as kpi_services
from kpi.forms import PlanRowForm, QuarterPlanForm
from kpi.models import ActivityKind, ActivitySource, CallDirection
from notifications import events as notification_events

from . import rules
from . import services as pay_services
from .changes import month_status
from .engine import LineKind
from .forms import SchemeForm
from .models import Statement
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


# A sales history lies in this century: a date outside it is a typing mistake (as on the pages).
YEARS = range(2000, 2101)


class ScenarioError(ValidationError):
    """The file cannot be imported; the message names the entry and the field."""


def _fail(where: str, message: str):
    raise ScenarioError(f"{where}: {message}")


def _in_years(day: date, value, where: str) -> None:
    if day.year not in YEARS:
        _fail(where, f"«{value}» — дата вне 2000–2100 годов")


def _date(value, where: str) -> date:
    try:
        day = date.fromisoformat(str(value))
    except ValueError:
        _fail(where, f"«{value}» — не дата в формате ГГГГ-ММ-ДД")
    _in_years(day, value, where)
    return day


def _month(value, where: str) -> date:
    try:
        year, month = str(value).split("-")
        day = date(int(year), int(month), 1)
    except ValueError:
        _fail(where, f"«{value}» — не месяц в формате ГГГГ-ММ")
    _in_years(day, value, where)
    return day


def _quarter(value, where: str) -> date:
    try:
        year, quarter = str(value).split("-Q")
        if not 1 <= int(quarter) <= 4:
            raise ValueError
        day = date(int(year), (int(quarter) - 1) * 3 + 1, 1)
    except ValueError:
        _fail(where, f"«{value}» — не квартал в формате ГГГГ-Qn")
    _in_years(day, value, where)
    return day


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
    _in_years(moment, value, where)
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


def _noon(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(12)))


def _require(entry: dict, field: str, where: str):
    if not isinstance(entry, dict):
        _fail(where, "запись должна быть объектом")
    if field not in entry or entry[field] in (None, ""):
        _fail(f"{where}.{field}", "обязательное поле не заполнено")
    return entry[field]


def _text(value, where: str, *, max_length: int, number_allowed: bool = True) -> str:
    """A name, key or note of the file: a string (a key may be written as a number), not too long."""
    if (
        isinstance(value, bool)
        or not isinstance(value, str | int)
        or (isinstance(value, int) and not number_allowed)
    ):
        _fail(where, "ожидается строка в кавычках")
    text = str(value)
    if len(text) > max_length:
        _fail(where, f"не длиннее {max_length} символов, здесь {len(text)}")
    return text


def _max_length(model, field: str) -> int:
    return model._meta.get_field(field).max_length


def _form_input(value) -> str:
    """A JSON value as a page would post it: strings as they are, anything else as JSON text."""
    if value is None:
        return ""
    if isinstance(value, str | Decimal):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def _field(field: forms.Field, entry: dict, name: str, where: str, *, default=None):
    """One value of the entry checked by the same form field the page uses for it."""
    try:
        return field.clean(_form_input(entry.get(name, default)))
    except ValidationError as error:
        _fail(f"{where}.{name}", " ".join(error.messages))


def _form(form_class: type[forms.Form], values: dict, where: str) -> dict:
    """The entry's values checked by the page's own form; ``values`` maps the file's names (as the
    message names them) to the form's fields and the posted text."""
    form = form_class(data={form_name: text for form_name, text in values.values()})
    if not form.is_valid():
        file_names = {form_name: file_name for file_name, (form_name, _text) in values.items()}
        form_name, errors = next(iter(form.errors.items()))
        field = file_names.get(form_name)
        _fail(f"{where}.{field}" if field else where, " ".join(errors))
    return form.cleaned_data


def _strings(value, path: str) -> Iterator[tuple[str, str]]:
    """Every string in the file with where it stands: ``("clients[0].name", "ИП Сидоров")``."""
    stack = [(path, value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, str):
            yield where, item
        elif isinstance(item, dict):
            stack.extend((f"{where}.{key}" if where else str(key), inner) for key, inner in item.items())
        elif isinstance(item, list):
            stack.extend((f"{where}[{index}]", inner) for index, inner in enumerate(item))


def _storable_text_check(data: dict) -> None:
    """No database keeps a NUL character or half of a surrogate pair (a "\\ud800" escape in JSON)."""
    for where, text in _strings(data, ""):
        if "\x00" in text:
            _fail(where, "в тексте нулевой символ (NUL) — такой текст не сохранить")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            _fail(where, "в тексте одиночный суррогатный символ (\\ud800–\\udfff) — такой текст не сохранить")


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
        _storable_text_check(data)
        self.data = data
        self.users: dict[str, User] = {}
        self.clients: dict[str, Client] = {}
        self.deals: dict[str, Deal] = {}
        self.deal_stage: dict[str, str | None] = {}
        self.client_keys: set[str] = set()  # the file's keys, checked in plan()
        self.deal_keys: set[str] = set()
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
        user = self.users.get(username) if isinstance(username, str) else None
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
            username = _text(
                _require(entry, "username", where),
                f"{where}.username",
                max_length=_max_length(User, "username"),
            )
            role_name = _require(entry, "role", where)
            role = ROLES.get(role_name) if isinstance(role_name, str) else None
            if role is None:
                _fail(
                    f"{where}.role",
                    f"«{role_name}» — неизвестная роль (hunter, sales_head, accountant, production)",
                )
            full_name = _text(
                entry.get("full_name") or username,
                f"{where}.full_name",
                max_length=_max_length(User, "full_name"),
            )
            extension = _text(
                entry.get("extension") or "", f"{where}.extension", max_length=_max_length(User, "extension")
            )
            user = User.objects.filter(username=username).first()
            if user is not None and user.role != role:
                _fail(f"{where}.username", f"пользователь «{username}» уже есть с другой ролью")
            try:
                self.users[username] = user or user_create(
                    username=username,
                    password=None,
                    full_name=full_name,
                    role=role,
                    extension=extension,
                )
            except ValidationError as error:
                _fail(where, "; ".join(error.messages))

    def plan(self) -> None:
        self.plan_terms()
        self.plan_clients_and_deals()
        self.plan_money()
        self.plan_activities()
        self.plan_expenses_and_locks()

    def plan_terms(self) -> None:
        """Pay schemes, hunters' monthly plans and the department's quarter plans, each checked by the
        form the head fills in on the page."""
        defaults = rules.DEFAULT_SCHEME
        scheme_days = set()
        for index, entry in enumerate(self.entries("scheme")):
            where = f"scheme[{index}]"
            day = _date(_require(entry, "effective_from", where), f"{where}.effective_from")
            if day.replace(day=1) in scheme_days:
                _fail(f"{where}.effective_from", "схема с этого месяца уже есть в файле")
            scheme_days.add(day.replace(day=1))
            values = _form(
                SchemeForm,
                {
                    name: (name, _form_input(entry.get(name, getattr(defaults, name))))
                    for name in SchemeForm.Meta.fields
                    if name != "effective_from"
                }
                | {"effective_from": ("effective_from", day.isoformat())},
                where,
            )
            values.pop("effective_from")
            self.add(
                day,
                "scheme",
                index,
                partial(self.guard, where, partial(self.save_scheme, day=day, values=values)),
            )

        for index, entry in enumerate(self.entries("plans")):
            where = f"plans[{index}]"
            hunter = self.hunter(_require(entry, "hunter", where), f"{where}.hunter")
            month = _month(_require(entry, "month", where), f"{where}.month")
            kpi = entry.get("kpi") or {}
            if not isinstance(kpi, dict):
                _fail(f"{where}.kpi", "ожидается объект со счётчиками leads, calls, meetings, messages")
            posted = {
                "revenue": ("revenue_target", _form_input(entry.get("revenue", "0"))),
                "deals": ("deals_target", _form_input(entry.get("deals", 0))),
            } | {
                f"kpi.{name}": (f"{name}_target", _form_input(kpi.get(name, 0)))
                for name in ("leads", "calls", "meetings", "messages")
            }
            row = kpi_services.PlanRow(hunter=hunter, **_form(PlanRowForm, posted, where))
            self.add(
                month,
                "plans",
                index,
                partial(self.guard, where, partial(self.save_plan, month=month, row=row)),
            )

        for index, entry in enumerate(self.entries("department_plans")):
            where = f"department_plans[{index}]"
            quarter = _quarter(_require(entry, "quarter", where), f"{where}.quarter")
            posted = {
                "revenue": ("revenue_target", _form_input(_require(entry, "revenue", where))),
                "pool": ("bonus_pool", _form_input(entry.get("pool", "0"))),
                "split": ("split", _form_input(entry.get("split", ""))),
            }
            values = _form(QuarterPlanForm, posted, where)
            self.add(
                quarter,
                "department_plans",
                index,
                partial(self.guard, where, partial(self.save_quarter_plan, quarter=quarter, values=values)),
            )

    def plan_clients_and_deals(self) -> None:
        key_length = _max_length(Client, "external_key")
        client_keys = self.client_keys
        for index, entry in enumerate(self.entries("clients")):
            where = f"clients[{index}]"
            key = _text(_require(entry, "key", where), f"{where}.key", max_length=key_length)
            if key in client_keys:
                _fail(f"{where}.key", f"ключ «{key}» повторяется")
            client_keys.add(key)
            owner = self.hunter(_require(entry, "owner", where), f"{where}.owner")
            created = _date(_require(entry, "created", where), f"{where}.created")
            name = _text(
                _require(entry, "name", where), f"{where}.name", max_length=_max_length(Client, "name")
            )
            address = _text(
                entry.get("address", ""), f"{where}.address", max_length=_max_length(Client, "address")
            )
            phones = entry.get("phones") or []
            if not isinstance(phones, list):
                _fail(f"{where}.phones", "ожидается список номеров")
            phones = [
                # A phone written as a JSON number has lost its "+" or leading digits: quotes are required.
                _text(phone, f"{where}.phones[{phone_index}]", max_length=40, number_allowed=False)
                for phone_index, phone in enumerate(phones)
            ]
            run = partial(
                self.create_client,
                where=where,
                key=key,
                owner=owner,
                name=name,
                address=address,
                phones=phones,
                created=created,
            )
            self.add(created, "clients", index, run)

        key_length = _max_length(Deal, "external_key")
        product_length = _max_length(Product, "name")
        deal_keys = self.deal_keys
        for index, entry in enumerate(self.entries("deals")):
            where = f"deals[{index}]"
            key = _text(_require(entry, "key", where), f"{where}.key", max_length=key_length)
            if key in deal_keys:
                _fail(f"{where}.key", f"ключ «{key}» повторяется")
            deal_keys.add(key)
            client_key = _text(_require(entry, "client", where), f"{where}.client", max_length=key_length)
            if client_key not in client_keys:
                _fail(f"{where}.client", f"неизвестный клиент «{client_key}»")
            created = _date(_require(entry, "created", where), f"{where}.created")
            order = entry.get("order") or []
            if not isinstance(order, list):
                _fail(f"{where}.order", "ожидается список позиций заказа")
            lines = []
            for line_index, line in enumerate(order):
                line_where = f"{where}.order[{line_index}]"
                product = _text(
                    _require(line, "product", line_where), f"{line_where}.product", max_length=product_length
                )
                _require(line, "quantity", line_where)
                _require(line, "price", line_where)
                lines.append(
                    (
                        product,
                        _field(quantity_field(), line, "quantity", line_where),
                        _field(money_field(), line, "price", line_where),
                        _field(money_field(), line, "cost", line_where, default="0"),
                    )
                )
            stage = entry.get("stage")
            if stage is not None and (not isinstance(stage, str) or stage not in Stage.values):
                _fail(
                    f"{where}.stage",
                    f"«{stage}» — неизвестный этап (ожидается один из: {', '.join(Stage.values)})",
                )
            self.deal_stage[key] = stage
            run = partial(
                self.create_deal,
                where=where,
                key=key,
                client_key=client_key,
                created=created,
                lines=lines,
                owner=entry.get("owner"),
            )
            self.add(created, "deals", index, run)

    def plan_money(self) -> None:
        deal_keys = self.deal_keys
        for section, form in (("payments", PaymentForm), ("refunds", RefundForm)):
            for index, entry in enumerate(self.entries(section)):
                where = f"{section}[{index}]"
                key = str(_require(entry, "deal", where))
                if key not in deal_keys:
                    _fail(f"{where}.deal", f"неизвестная сделка «{key}»")
                _require(entry, "amount", where)
                amount = _field(form.base_fields["amount"], entry, "amount", where)
                if section == "payments":
                    received = _date(_require(entry, "received_on", where), f"{where}.received_on")
                    recorded = _date(entry.get("recorded_on") or received.isoformat(), f"{where}.recorded_on")
                    bank_document = _text(
                        entry.get("bank_document", ""),
                        f"{where}.bank_document",
                        max_length=_max_length(Payment, "bank_document"),
                    )
                    run = partial(
                        self.record_payment,
                        where=where,
                        key=key,
                        amount=amount,
                        received=received,
                        recorded=recorded,
                        bank_document=bank_document,
                    )
                else:
                    recorded = _date(_require(entry, "recorded_on", where), f"{where}.recorded_on")
                    run = partial(self.record_refund, where=where, key=key, amount=amount, recorded=recorded)
                self.add(recorded, section, index, run)

    def plan_activities(self) -> None:
        client_keys = self.client_keys
        for index, entry in enumerate(self.entries("activities")):
            where = f"activities[{index}]"
            owner = self.hunter(_require(entry, "owner", where), f"{where}.owner")
            kind = _require(entry, "kind", where)
            if kind not in ActivityKind.values:
                _fail(f"{where}.kind", f"«{kind}» — неизвестный вид активности")
            source = entry.get("source", ActivitySource.MANUAL)
            if source not in ActivitySource.values:
                _fail(f"{where}.source", f"«{source}» — ожидается telephony или manual")
            direction = entry.get("direction")
            direction = "" if direction is None else direction  # null: not given
            if direction != "" and direction not in CallDirection.values:
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

    def plan_expenses_and_locks(self) -> None:
        for index, entry in enumerate(self.entries("expenses")):
            where = f"expenses[{index}]"
            hunter = self.hunter(_require(entry, "hunter", where), f"{where}.hunter")
            _require(entry, "amount", where)
            amount = _field(money_field(min_value=Decimal("0.01")), entry, "amount", where)
            approved = _field(money_field(), entry, "approved_amount", where, default=str(amount))
            approved_on = _date(_require(entry, "approved_on", where), f"{where}.approved_on")
            note = _text(entry.get("note", ""), f"{where}.note", max_length=10_000)
            run = partial(
                self.approve_expense,
                where=where,
                hunter=hunter,
                amount=amount,
                approved=approved,
                approved_on=approved_on,
                note=note,
            )
            self.add(approved_on, "expenses", index, run)

        for index, entry in enumerate(self.entries("statement_locks")):
            where = f"statement_locks[{index}]"
            month = _month(_require(entry, "month", where), f"{where}.month")
            locked_on = _date(_require(entry, "locked_on", where), f"{where}.locked_on")
            run = partial(self.lock_month, where=where, month=month, locked_on=locked_on)
            self.add(locked_on, "statement_locks", index, run)

    # -- the replayed actions, each through the portal's own services ------------------------------

    def save_scheme(self, *, day: date, values: dict) -> None:
        pay_services.scheme_save(acting_user=self.actor(Role.SALES_HEAD), effective_from=day, **values)

    def save_plan(self, *, month: date, row: kpi_services.PlanRow) -> None:
        kpi_services.plans_save(acting_user=self.actor(Role.SALES_HEAD), month=month, rows=[row])

    def save_quarter_plan(self, *, quarter: date, values: dict) -> None:
        kpi_services.quarter_plan_save(acting_user=self.actor(Role.SALES_HEAD), quarter=quarter, **values)

    def create_client(self, *, where, key, owner, name, address, phones, created) -> None:
        client = self.guard(
            where,
            lambda: deal_services.client_create(
                acting_user=owner, name=name, address=address, phones=phones, created_at=_noon(created)
            ),
        )
        Client.objects.filter(pk=client.pk).update(external_key=key)
        self.clients[key] = client

    def create_deal(self, *, where, key, client_key, created, lines, owner) -> None:
        client = self.clients.get(client_key)
        if client is None:
            _fail(f"{where}.created", f"сделка датирована раньше, чем создан её клиент «{client_key}»")
        if owner and owner != client.owner.username:
            _fail(f"{where}.owner", "сделка ведётся хантером клиента")

        def create():
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
            return deal_services.deal_import(
                acting_user=client.owner,
                client=client,
                created_at=_noon(created),
                lines=order_lines,
                external_key=key,
            )

        self.deals[key] = self.guard(where, create)

    def deal(self, key: str, where: str) -> Deal:
        deal = self.deals.get(key)
        if deal is None:
            _fail(where, f"запись датирована раньше, чем создана сделка «{key}»")
        return deal

    def record_payment(self, *, where, key, amount, received, recorded, bank_document) -> None:
        deal = self.deal(key, where)
        self.guard(
            where,
            lambda: deal_services.payment_record(
                acting_user=self.actor(Role.ACCOUNTANT),
                deal=deal,
                amount=amount,
                received_on=received,
                recorded_at=_noon(recorded),
                bank_document=bank_document,
            ),
        )

    def record_refund(self, *, where, key, amount, recorded) -> None:
        deal = self.deal(key, where)
        self.guard(
            where,
            lambda: deal_services.payment_refund(
                acting_user=self.actor(Role.ACCOUNTANT),
                deal=deal,
                amount=amount,
                recorded_on=recorded,
            ),
        )

    def import_activities(
        self, *, where, owner, kind, moment, count, client_key, source, direction, duration
    ):
        client = None
        if client_key is not None:
            client = self.clients.get(str(client_key))
            if client is None:
                _fail(f"{where}.at", f"активность датирована раньше, чем создан клиент «{client_key}»")
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
        """A lock in the file is the whole workflow of that day: the head approves the month's drafts,
        the accountant locks them."""

        def approve_and_lock():
            at = _noon(locked_on)
            for hunter in pay_services.hunters_of_month(month):
                if month_status(hunter_id=hunter.pk, month=month) == Statement.Status.DRAFT:
                    pay_services.statement_approve(
                        acting_user=self.actor(Role.SALES_HEAD), hunter=hunter, month=month, at=at
                    )
            pay_services.statements_lock_month(acting_user=self.actor(Role.ACCOUNTANT), month=month, at=at)

        self.guard(where, approve_and_lock)

    def guard(self, where: str, action: Callable):
        try:
            return action()
        except PermissionDenied:
            _fail(where, "у этого пользователя нет права на такое действие")
        except (ValidationError, deal_services.DealRuleError) as error:
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
    with notification_events.quiet():  # a replayed history tells nobody: none of it is news
        replay.run()
    return replay


def load_scenario_file(text: str) -> dict:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ScenarioError(f"Файл не является JSON: строка {error.lineno}, позиция {error.colno}") from None
    except RecursionError:
        raise ScenarioError(
            "Файл сценария вложен слишком глубоко: так записать историю продаж нельзя."
        ) from None
    except ValueError:  # Python refuses to read integers of thousands of digits
        raise ScenarioError("Файл сценария содержит слишком длинное число.") from None


def _money(value: Decimal | None) -> str | None:
    return None if value is None else f"{round_kopecks(value):.2f}"


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
