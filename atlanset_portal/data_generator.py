"""A realistic sales history in bulk, for trials and load tests (``manage.py generate_data``).

Hunters hired at different times; clients arriving with the seasons (more in spring and autumn, fewer in
January and summer) with E.164 phones and checksummed requisites; deals that run the nine stages with
the records each stage asks for, most of them lost or still early, paid customers ordering again from
stage «Сделка»; payments as the accountant records them; calls (mostly from telephony), meetings,
messages and follow-ups; a monthly plan for every hunter and month of work.

Rows are written with batched bulk inserts, never through the services, so nothing is audited, signalled
or queued. Generated rows are found again by their marks: hunters are ``gen-hunter-NNN``, clients and
deals carry an ``external_key`` starting with ``gen-``.
"""

import bisect
import io
import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from functools import partial
from importlib import import_module
from itertools import accumulate, cycle, pairwise
from random import Random
from types import SimpleNamespace
from typing import Any, Protocol

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection, models
from django.db.models import Q
from django.utils import timezone
from stdnum.ru import inn as stdnum_inn
from stdnum.ru import ogrn as stdnum_ogrn

from accounts.models import User
from accounts.roles import Role
from compensation import guards
from compensation.models import Adjustment, Dispute, Expense, Statement, StatementLine
from deals import stages
from deals.demo import PRODUCTS as CATALOGUE
from deals.models import (
    CallResult,
    Clawback,
    Client,
    ClientHoliday,
    ClientPhone,
    Contact,
    Deal,
    DealDocument,
    Feedback,
    FollowUp,
    LostReason,
    Order,
    OrderLine,
    OrderVersion,
    OrderVersionLine,
    Payment,
    PaymentTerms,
    Product,
    Proposal,
    SampleLine,
    SampleRequest,
    SettlementCadence,
    Shipment,
    StageChange,
    Transfer,
)
from deals.requisites import ogrnip_check_digit
from deals.search import CLIENT_SEARCH_FIELDS, client_search_text, contact_search_text
from deals.stages import CallOutcome, DealStatus
from kpi.models import Activity, ActivityKind, ActivitySource, CallDirection, CallRecord, MonthlyPlan, Task


@dataclass(frozen=True)
class Sizes:
    hunters: int
    clients: int
    deals: int
    activities: int
    payments: int


DEFAULT_SIZES = Sizes(hunters=50, clients=20_000, deals=100_000, activities=1_000_000, payments=200_000)
DEFAULT_MONTHS = 60
DEFAULT_SEED = 2026
DEFAULT_PASSWORD = "atlanset-demo-2026"
HUNTER_PREFIX = "gen-hunter-"
KEY_PREFIX = "gen-"
STAFF = {
    Role.SALES_HEAD: ("gen-head", "Марина Руденко"),
    Role.ACCOUNTANT: ("gen-buh", "Елена Горбунова"),
    Role.PRODUCTION: ("gen-prod", "Виктор Лаптев"),
}
BATCH_SIZE = 5_000
MIN_SCALED_HUNTERS = 2


def scaled_sizes(scale: float, base: Sizes = DEFAULT_SIZES) -> Sizes:
    """The default sizes times ``scale``; at least two hunters and one of everything else."""
    return Sizes(
        hunters=max(MIN_SCALED_HUNTERS, round(base.hunters * scale)),
        clients=max(1, round(base.clients * scale)),
        deals=max(1, round(base.deals * scale)),
        activities=max(1, round(base.activities * scale)),
        payments=max(1, round(base.payments * scale)),
    )


class GeneratorError(Exception):
    """Generation refused; the message says why."""


class Progress(Protocol):
    def phase(self, name: str, total: int) -> None: ...
    def advance(self, count: int) -> None: ...
    def done(self) -> None: ...


class _Silent:
    def phase(self, name: str, total: int) -> None:
        pass

    def advance(self, count: int) -> None:
        pass

    def done(self) -> None:
        pass


# --- finding and removing generated rows ----------------------------------------------------------


def _generated_hunters():
    return User.objects.filter(username__startswith=HUNTER_PREFIX)


def generated_data_exists() -> bool:
    return (
        _generated_hunters().exists()
        or Client.objects.filter(external_key__startswith=KEY_PREFIX).exists()
        or Deal.objects.filter(external_key__startswith=KEY_PREFIX).exists()
    )


def delete_generated(progress: Progress | None = None) -> int:
    """Deletes every generated row (the staff users stay: they may have been there before); returns the
    number of rows deleted."""
    progress = progress or _Silent()
    hunters = _generated_hunters()
    decided = Statement.objects.filter(hunter__in=hunters).exclude(status=Statement.Status.DRAFT)
    # Pay approved or locked in the portal is real work on these hunters: it is never wiped with the sample
    # data. The portal's approvals leave an audit entry; the generator's own statements leave none.
    if decided.filter(pk__in=Statement.history.values("id")).exists():
        raise GeneratorError(
            "The database refused the change, nothing was written: a generated hunter has an approved or "
            "locked statement."
        )
    clients = Client.objects.filter(external_key__startswith=KEY_PREFIX)
    deals = Deal.objects.filter(external_key__startswith=KEY_PREFIX)
    by_deal = Q(deal__in=deals)
    # Foreign keys are checked at commit, so a parent may go before its rows. Recorded money is never
    # deleted by the portal: this deliberate wipe of generated data lifts the money guards for its own
    # transaction (compensation/guards.py).
    lines = StatementLine.objects.filter(
        Q(statement__hunter__in=hunters) | by_deal | Q(payment__deal__in=deals)
    )
    line_ids = list(lines.values_list("pk", flat=True))
    payment_ids = list(Payment.objects.filter(by_deal).values_list("pk", flat=True))
    steps: list[tuple[type[models.Model], Q]] = [
        (Dispute, Q(hunter__in=hunters)),
        (Statement, Q(hunter__in=hunters)),
        (Adjustment, Q(hunter__in=hunters)),
        (Expense, Q(hunter__in=hunters)),
        (Task, Q(client__in=clients) | by_deal | Q(created_by__in=hunters) | Q(closed_by__in=hunters)),
        (Activity, Q(owner__in=hunters) | Q(client__in=clients) | by_deal),
        (StageChange, by_deal),
        (CallResult, by_deal),
        (Proposal, by_deal),
        (DealDocument, by_deal),
        (SampleLine, Q(request__deal__in=deals)),
        (SampleRequest, by_deal),
        (FollowUp, by_deal),
        (OrderVersionLine, Q(version__order__deal__in=deals)),
        (OrderVersion, Q(order__deal__in=deals)),
        (OrderLine, Q(order__deal__in=deals)),
        (Order, by_deal),
        (Shipment, by_deal),
        (Feedback, by_deal),
        (Transfer, by_deal | Q(client__in=clients)),
        (Deal, Q(external_key__startswith=KEY_PREFIX)),
        *((StatementLine, Q(pk__in=chunk)) for chunk in _chunks(line_ids, BATCH_SIZE)),
        (Clawback, Q(refund__deal__in=deals) | Q(hunter__in=hunters)),
        *((Payment, Q(pk__in=chunk)) for chunk in _chunks(payment_ids, BATCH_SIZE)),
        (ClientPhone, Q(client__in=clients)),
        (Contact, Q(client__in=clients)),
        (ClientHoliday, Q(client__in=clients)),
        (Client, Q(external_key__startswith=KEY_PREFIX)),
        (MonthlyPlan, Q(hunter__in=hunters)),
        (User, Q(username__startswith=HUNTER_PREFIX)),
    ]
    # PBX records matched to generated hunters or clients stay, unmatched.
    activities = Activity.objects.filter(Q(owner__in=hunters) | Q(client__in=clients) | Q(deal__in=deals))
    CallRecord.objects.filter(activity__in=activities).update(activity=None)
    CallRecord.objects.filter(client__in=clients).update(client=None)
    progress.phase("deleting generated rows", len(steps))
    deleted = 0
    # Change history of generated rows edited since (django-simple-history keeps no foreign key).
    for model, owned in (
        (Statement, Statement.objects.filter(hunter__in=hunters)),
        (Deal, deals),
        (Payment, Payment.objects.filter(by_deal)),
        (MonthlyPlan, MonthlyPlan.objects.filter(hunter__in=hunters)),
    ):
        history = getattr(model, "history", None)
        if history is not None:
            deleted += _delete(
                history.model.objects.filter(**{f"{model._meta.pk.attname}__in": owned.values("pk")})
            )
    with guards.lifted(connection):
        for model, condition in steps:
            deleted += _delete(model.objects.filter(condition))
            progress.advance(1)
    progress.done()
    return deleted


def _delete(queryset: models.QuerySet) -> int:
    """One ``DELETE … WHERE pk IN (…)``: the rows that depend on these were deleted before, and the
    database refuses the transaction if anything else still refers to them. Users are deleted the
    usual way, for their cascades (groups, progress rows)."""
    model = queryset.model
    if model is User:
        return queryset.delete()[0]
    quote = connection.ops.quote_name
    select, params = queryset.order_by().values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {quote(model._meta.db_table)} WHERE {quote(model._meta.pk.column)} IN ({select})",
            params,
        )
        return cursor.rowcount


# --- the product's vocabulary ----------------------------------------------------------------------


def _words(text: str) -> list[str]:
    return [word.strip() for word in text.split(",")]


DAY = 86_400
WORK_START = 9 * 3600
WORK_SPAN = 10 * 3600

STAGE = {stage: index for index, stage in enumerate(stages.ORDER)}
LEAD, CALL, PROPOSAL, SAMPLES, FOLLOW_UP = (STAGE[s] for s in stages.ORDER[:5])
DEAL_STAGE = STAGE[stages.Stage.DEAL]
SHIPMENT = STAGE[stages.Stage.SHIPMENT]
PAYMENT = STAGE[stages.Stage.PAYMENT]
CLOSED = STAGE[stages.Stage.CLOSED]

# Chance to pass each stage (a first deal, before the client's quality is applied; a repeat order).
PROSPECT_PASS = {
    LEAD: 0.9,
    CALL: 0.45,
    PROPOSAL: 0.65,
    SAMPLES: 0.8,
    FOLLOW_UP: 0.55,
    DEAL_STAGE: 0.93,
    SHIPMENT: 0.97,
}
REPEAT_PASS = {DEAL_STAGE: 0.95, SHIPMENT: 0.98}
# Median days a deal spends in a stage.
STAGE_DAYS = {
    LEAD: 1.5,
    CALL: 5,
    PROPOSAL: 6,
    SAMPLES: 10,
    FOLLOW_UP: 12,
    DEAL_STAGE: 4,
    SHIPMENT: 5,
    CLOSED: 5,
}
LOSS_REASONS = {
    LEAD: [("not_target", 8), ("other", 1)],
    CALL: [("no_contact", 5), ("not_target", 3), ("competitor", 1), ("other", 1)],
    PROPOSAL: [("price", 4), ("competitor", 3), ("not_target", 1), ("other", 1)],
    SAMPLES: [("competitor", 3), ("price", 3), ("other", 2)],
    FOLLOW_UP: [("price", 5), ("competitor", 4), ("other", 2)],
    DEAL_STAGE: [("price", 5), ("competitor", 2), ("other", 2)],
    SHIPMENT: [("other", 3), ("price", 1)],
}
NO_CONTACT = LostReason.NO_CONTACT
CUSTOMER_CHURN = 0.06  # a customer stops ordering after an order
RETRY = 0.85  # a refused prospect is approached again some months later
# A working department's pipeline: about a fifth of its deals are open at any time, most of them prospects
# the hunter stopped working without closing (a refusal never recorded), and its busiest hunter carries
# 500 open deals.
OPEN_SHARE = 0.2
BUSY_OPEN_DEALS = 500
# Statements as the head and the accountant handle them: a month is approved on the 3rd of the next, locked
# on the 5th and paid on the 10th; the current month is a draft.
APPROVED_ON_DAY, LOCKED_ON_DAY, PAID_ON_DAY = 3, 5, 10

# Client arrivals by calendar month; activity follows the same seasons, flattened.
SEASON = {
    1: 0.55,
    2: 0.9,
    3: 1.15,
    4: 1.2,
    5: 1.0,
    6: 0.75,
    7: 0.65,
    8: 0.75,
    9: 1.2,
    10: 1.3,
    11: 1.25,
    12: 0.9,
}

CITIES = [
    ("Сургут", "8602", "3462", 40),
    ("Нижневартовск", "8603", "3466", 20),
    ("Нефтеюганск", "8604", "3463", 10),
    ("Ханты-Мансийск", "8601", "3467", 8),
    ("Когалым", "8608", "34667", 5),
    ("Нягань", "8610", "34672", 4),
    ("Мегион", "8605", "34643", 3),
    ("Лангепас", "8607", "34669", 3),
    ("Пыть-Ях", "8612", "3463", 2),
    ("Урай", "8606", "34676", 2),
    ("Лянтор", "8617", "34638", 2),
    ("Радужный", "8609", "34668", 1),
]
STREETS = _words(
    "ул. Ленина, пр. Мира, ул. 30 лет Победы, ул. Энгельса, ул. Университетская, ул. Профсоюзов, "
    "Югорский тракт, ул. Маяковского, ул. Губкина, ул. Чехова, ул. Пушкина, ул. Мусы Джалиля, ул. "
    "Островского, пр. Ленина, ул. Нефтяников, ул. Комсомольская, ул. Северная, ул. Дзержинского, ул. "
    "Магистральная, ул. Геологическая"
)
MOBILE_CODES = ["902", "904", "908", "912", "919", "922", "929", "932", "950", "951", "982", "983", "996"]
SEGMENTS = [
    ("клининговые компании", ["Клининговая компания «{n}»", "ООО «{n}-Клин»"], 14),
    ("салоны красоты", ["Салон красоты «{n}»", "Студия красоты «{n}»"], 12),
    ("расходные материалы для салонов красоты", ["Магазин «{n} Проф»"], 4),
    ("общепит", ["Кафе «{n}»", "Ресторан «{n}»", "Столовая «{n}»"], 14),
    ("гостиницы", ["Гостиница «{n}»", "Отель «{n}»"], 6),
    ("автомойки", ["Автомойка «{n}»", "Детейлинг-центр «{n}»"], 10),
    ("фитнес-клубы", ["Фитнес-клуб «{n}»"], 5),
    ("медицина", ["Медицинский центр «{n}»", "Стоматология «{n}»"], 8),
    ("образование", ["Детский сад «{n}»", "Частная школа «{n}»"], 6),
    ("розница", ["Магазин «{n}»", "Хозтовары «{n}»"], 9),
    ("управляющие компании", ["УК «{n}»", "ТСЖ «{n}»"], 8),
    ("производство", ["ООО «{n}»", "Завод «{n}»"], 4),
]
BRAND_WORDS = _words(
    "Лотос, Северное сияние, Обь, Югра, Сибирь, Кедр, Альфа, Блеск, Чистота, Уют, Вахта, Нефтяник, "
    "Самотлор, Аврора, Тайга, Берёзка, Солнышко, Радуга, Гранд, Престиж, Лидер, Премьер, Меридиан, "
    "Полюс, Иртыш, Сокол, Купол, Грация, Оазис, Эталон, Юкон, Снежинка, Факел, Олимп, Фортуна, Ладья, "
    "Кристалл, Сияние, Вектор, Магистраль"
)
BRAND_SUFFIXES = ["", "", "", " Плюс", " Сервис", "-Н", " Премиум", " Север", " Люкс", " 86"]
SOURCES = [
    ("2gis", 35),
    ("yandex_maps", 25),
    ("google_maps", 8),
    ("inbound", 12),
    ("referral", 12),
    ("other", 8),
]
MALE_NAMES = _words("Иван, Дмитрий, Алексей, Сергей, Андрей, Павел, Михаил, Артём, Никита, Роман")
FEMALE_NAMES = _words("Анна, Ольга, Екатерина, Мария, Наталья, Ирина, Юлия, Татьяна, Светлана, Дарья")
SURNAMES = _words(
    "Иванов, Смирнов, Кузнецов, Попов, Соколов, Лебедев, Козлов, Новиков, Морозов, Петров, Волков, "
    "Соловьёв, Васильев, Зайцев, Павлов, Семёнов, Голубев, Виноградов, Богданов, Воробьёв, Фёдоров, "
    "Михайлов, Беляев, Тарасов, Белов, Комаров, Орлов, Киселёв, Макаров, Андреев"
)
PATRONYMICS_M = _words("Викторович, Сергеевич, Александрович, Николаевич, Петрович, Игоревич")
PATRONYMICS_F = _words("Викторовна, Сергеевна, Александровна, Николаевна, Петровна, Игоревна")
POSITIONS = _words("директор, администратор, завхоз, закупщик, управляющий, старший администратор")
MAILBOXES = ["info", "zakaz", "office", "zakupki", "snab", "admin"]
MAIL_DOMAINS = ["mail.ru", "yandex.ru", "bk.ru", "gmail.com", "inbox.ru", "list.ru"]
BANKS = [
    ("ПАО Сбербанк", "047102651", "30101810800000000651"),
    ("ПАО Сбербанк", "046577674", "30101810500000000674"),
    ("Банк ВТБ (ПАО)", "044525187", "30101810700000000187"),
    ("АО «Альфа-Банк»", "044525593", "30101810200000000593"),
    ("АО «Т-Банк»", "044525974", "30101810145250000974"),
]
PROPOSAL_TEMPLATES = _words(
    "КП для HoReCa, КП для клининга, КП для салонов красоты, КП общее, КП для автомоек"
)
POTENTIAL_VOLUMES = [
    "20 л в месяц",
    "40 л в месяц",
    "100 л в месяц",
    "до 10 канистр в месяц",
    "2–3 коробки в неделю",
]
CALL_DESCRIPTIONS = [
    "Рассказал о линейке для профессиональной уборки, интересуются пробниками.",
    "Обсудили текущего поставщика и объёмы, готовы сравнить цены.",
    "Поговорил с ЛПР, попросили КП на почту.",
    "Интересует средство для полов и антисептик, просят образцы.",
]
CLIENT_DESCRIPTIONS = [
    "Закупают химию раз в месяц у дистрибьютора, недовольны ценой.",
    "Сеть из двух точек, закупки ведёт администратор.",
    "Берут в розничных магазинах, оптового поставщика нет.",
    "Работают с московским поставщиком, долгая доставка.",
]
REFUSALS = ["Не интересно, есть поставщик.", "Химию закупает головной офис.", "Сказали не звонить."]
OBJECTIONS = [
    "Дорого по сравнению с текущим поставщиком",
    "Нужно согласовать с владельцем",
    "Запах резковат",
    "",
]
FOLLOW_UP_OUTCOMES = [
    "Пробники понравились, думают над объёмом.",
    "Сравнивают с текущим поставщиком.",
    "Ждут решения директора.",
    "Просили перезвонить после инвентаризации.",
]
CONFIRMATIONS = ["Пробники понравились, готовы заказать пробную партию.", "Согласовали первый заказ."]
TASK_AGREEMENTS = [
    "Перезвонить ЛПР: обещал посмотреть прайс",
    "Узнать решение по пробникам",
    "Отправить КП на новую почту и перезвонить",
    "Созвониться после планёрки у директора",
]
LOST_NOTES = [
    "Закрылись.",
    "Переезжают, вернуться через полгода.",
    "Закупки централизованы в Москве.",
    "Работают только по тендерам.",
]
CLAIMS = ["Протекла канистра при доставке.", "Запах резче, чем у прежнего средства."]
MANUAL_CALL_OUTCOMES = [
    "Обсудили объём закупки",
    "Просили перезвонить после обеда",
    "ЛПР в отпуске",
    "Уточнили адрес доставки",
    "Договорились о встрече",
    "Напомнил об оплате",
]
MESSAGE_OUTCOMES = [
    "Отправил прайс-лист в WhatsApp",
    "Письмо с презентацией продукции",
    "Напомнил о пробниках",
    "Поздравил с праздником",
    "Отправил счёт на почту",
    "Ответил на вопрос о составе",
]
MEETING_OUTCOMES = [
    "Презентация продукции на объекте",
    "Встреча с закупщиком",
    "Показал средства в работе",
    "Подписали договор поставки",
]
HOLIDAYS = [("День рождения компании", None), ("День работников торговли", (7, 23)), ("День медика", (6, 15))]
ORDER_CALL_OUTCOME = {
    CallOutcome.AGREED_SAMPLES: "Согласен получить пробники",
    CallOutcome.AGREED_PROPOSAL: "Согласен получить КП",
    CallOutcome.CALL_BACK: "Просит перезвонить",
    CallOutcome.NOT_REACHED: "Не дозвонился",
    CallOutcome.REFUSED: "Отказ",
}
TRANSLIT = dict(
    zip(
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
        _words(
            "a, b, v, g, d, e, e, zh, z, i, y, k, l, m, n, o, p, r, s, t, u, f, kh, ts, ch, sh, "
            "sch, _, y, _, e, yu, ya"
        ),
        strict=True,
    )
)


def _slug(text: str) -> str:
    latin = "".join(
        TRANSLIT.get(char, char if char.isascii() and char.isalnum() else "") for char in text.lower()
    )
    return latin or "client"


def _account_key(bik: str, account: str) -> str:
    """The control digit (position 9) of a bank account held at the bank with this БИК."""
    suffix = bik[-3:]
    bik_part = "0" + bik[4:6] if suffix in ("000", "001", "002") else suffix
    digits = bik_part + account[:8] + "0" + account[9:]
    total = sum(int(digit) * weight for digit, weight in zip(digits, cycle((7, 1, 3)), strict=False))
    return str((10 - total % 10) * 7 % 10)


def _weighted(pairs: list[tuple[Any, float]]) -> tuple[list[Any], list[float]]:
    values = [value for value, _weight in pairs]
    return values, list(accumulate(weight for _value, weight in pairs))


SEGMENT_WEIGHTS = list(accumulate(segment[2] for segment in SEGMENTS))
SOURCE_CODES, SOURCE_WEIGHTS = _weighted(SOURCES)


# --- what the simulation tracks --------------------------------------------------------------------


class _Hunter:
    __slots__ = (
        "client_refs",
        "client_times",
        "extension",
        "hired",
        "index",
        "name",
        "pk",
        "productivity",
        "start",
    )

    def __init__(self, index: int, name: str, hired: int, start: int, productivity: float, extension: str):
        self.index, self.name, self.hired, self.start = index, name, hired, start
        self.productivity, self.extension = productivity, extension
        self.pk = 0
        self.client_times: list[int] = []
        self.client_refs: list[_Client] = []


class _Client:
    __slots__ = (
        "cadence",
        "city",
        "created",
        "deals",
        "dm_email",
        "head_created",
        "index",
        "owner",
        "phones",
        "pk",
        "quality",
        "terms",
    )

    def __init__(self, index: int, owner: _Hunter, created: int):
        self.index, self.owner, self.created = index, owner, created
        self.deals: list[_Deal] = []
        self.phones: list[str] = []
        self.dm_email = ""
        self.pk = 0


class _Deal:
    __slots__ = (
        "client",
        "closed",
        "created",
        "entered",
        "first",
        "full_pay",
        "is_new",
        "lines",
        "lost_code",
        "payments",
        "pk",
        "portal_lost",
        "repeat",
        "stage",
        "stalled",
        "status",
        "total",
    )

    def __init__(self, client: _Client, created: int, repeat: bool):
        self.client, self.created, self.repeat = client, created, repeat
        self.first = DEAL_STAGE if repeat else LEAD
        self.entered = [created]
        self.stage = self.first
        self.status = DealStatus.OPEN
        self.closed: int | None = None
        # Open but left where it was since this moment: the hunter stopped working it and never closed it.
        self.stalled: int | None = None
        self.lost_code = ""
        self.portal_lost = False
        self.full_pay: int | None = None
        self.lines: list[tuple[int, int, int, int]] = []  # product, quantity, price and cost in kopecks
        self.total = 0
        self.payments: list[tuple[int, int, bool]] = []  # kopecks, moment, is a refund
        self.is_new = True
        self.pk = 0

    def entered_at(self, stage: int) -> int:
        return self.entered[stage - self.first]

    def left_at(self, stage: int, now: int) -> int:
        """When the deal left ``stage`` (moved on, lost or won), when it stalled there, or now if it is
        still being worked there."""
        index = stage - self.first + 1
        if index < len(self.entered):
            return self.entered[index]
        if self.closed is not None:
            return self.closed
        return self.stalled if self.stalled is not None else now


# --- the generator ----------------------------------------------------------------------------------


class _Generator:
    def __init__(
        self,
        *,
        sizes: Sizes,
        months: int,
        seed: int,
        password: str,
        now: datetime,
        progress: Progress,
        open_share: float = OPEN_SHARE,
        busy_open_deals: int = BUSY_OPEN_DEALS,
    ):
        if months < 1:
            raise GeneratorError("--months must be at least 1.")
        if sizes.hunters < 1:
            raise GeneratorError("--hunters must be at least 1.")
        self.sizes, self.months, self.seed, self.password = sizes, months, seed, password
        self.open_share, self.busy_open_deals = open_share, busy_open_deals
        self.rng = Random(seed)
        self.progress = progress
        self.counts: Counter[str] = Counter()
        local = timezone.localtime(now)
        self.zone = local.tzinfo
        self.today = local.date().toordinal()
        self.now = self.today * DAY + local.hour * 3600 + local.minute * 60 + local.second
        first = local.date().replace(day=1)
        for _ in range(months - 1):
            first = date(first.year - (first.month == 1), (first.month - 2) % 12 + 1, 1)
        self.month_starts: list[int] = []
        month = first
        while month.toordinal() <= self.today:
            self.month_starts.append(month.toordinal())
            month = date(month.year + (month.month == 12), month.month % 12 + 1, 1)
        self.start = self.month_starts[0]
        self.month_ends = [*self.month_starts[1:], self.today + 1]
        self.month_workdays = [
            [day for day in range(lo, hi) if (day - 1) % 7 < 5] or list(range(lo, hi))
            for lo, hi in zip(self.month_starts, self.month_ends, strict=True)
        ]
        self._dates: dict[int, date] = {}
        self.writers: dict[type[models.Model], _Writer] = {}
        self.min_call_seconds = settings.KPI_MIN_CALL_SECONDS
        self.used_phones: set[str] = set()
        self.used_inns: set[str] = set()
        self.used_extensions: set[str] = set()
        self.bank_document = 0
        # (hunter, month) → counters the plans are set from
        self.actual: dict[tuple[int, int], Counter[str]] = defaultdict(Counter)

    # time: a moment is local seconds since 1 January of year 1 (ordinal day × 86 400 + seconds)

    def day(self, ordinal: int) -> date:
        found = self._dates.get(ordinal)
        if found is None:
            found = self._dates[ordinal] = date.fromordinal(ordinal)
        return found

    def dt(self, moment: int) -> datetime:
        seconds = moment % DAY
        return datetime.combine(
            self.day(moment // DAY), time(seconds // 3600, seconds // 60 % 60, seconds % 60), tzinfo=self.zone
        )

    def date_of(self, moment: int) -> date:
        return self.day(moment // DAY)

    def work_moment(self, ordinal: int) -> int:
        return ordinal * DAY + WORK_START + int(self.rng.random() * WORK_SPAN)

    def after(self, moment: int, days: float) -> int:
        """A working moment ``days`` after ``moment`` (the next weekday if that falls on a weekend)."""
        ordinal = moment // DAY + int(days)
        weekday = (ordinal - 1) % 7
        if weekday >= 5:
            ordinal += 7 - weekday
        found = self.work_moment(ordinal)
        if found <= moment:
            found = moment + 300 + int(self.rng.random() * 3300)
        return found

    def between(self, lo: int, hi: int) -> int:
        """A working moment in [lo, hi], or a plain moment in it when the span holds no working hours."""
        if hi <= lo:
            return lo
        for _ in range(3):
            ordinal = lo // DAY + int(self.rng.random() * (hi // DAY - lo // DAY + 1))
            moment = self.work_moment(ordinal)
            if lo <= moment <= hi:
                return moment
        return lo + int(self.rng.random() * (hi - lo))

    def month_of(self, moment: int) -> int:
        return bisect.bisect_right(self.month_starts, moment // DAY) - 1

    # --- run ---

    def run(self) -> dict[str, int]:
        self.hash = make_password(self.password)
        self.staff = self._staff()
        self.products = self._catalogue()
        self.reasons = self._lost_reasons()
        self.hunters = self._plan_hunters()
        self._save_hunters()
        self.clients = self._plan_clients()
        deals = self._simulate()
        self._stall(deals)
        self._order_lines(deals)
        self._allocate_payments(deals)
        self._mark_new_clients(deals)
        self._save_clients()
        self._save_deals(deals)
        anchored = self._save_deal_records(deals)
        self._save_activities(anchored)
        self._save_plans()
        self._save_statements()
        return dict(self.counts)

    # --- people ---

    def _staff(self) -> dict[Role, User]:
        found: dict[Role, User] = {}
        for role, (username, full_name) in STAFF.items():
            user = (
                User.objects.filter(username=username).first()
                or User.objects.filter(role=role, is_active=True).order_by("pk").first()
            )
            if user is None:
                user = User.objects.create(
                    username=username,
                    full_name=full_name,
                    role=role,
                    password=self.hash,
                    email=f"{username}@atlanset.local",
                )
                group = Group.objects.filter(name=role.value).first()
                if group is not None:
                    user.groups.add(group)
                self.counts["staff users"] += 1
            found[role] = user
        return found

    def _catalogue(self) -> list[Product]:
        products = list(Product.objects.filter(is_active=True).order_by("pk"))
        if not products:
            for name, unit, price, cost in CATALOGUE:
                Product.objects.get_or_create(
                    name=name, defaults={"unit": unit, "list_price": Decimal(price), "cost": Decimal(cost)}
                )
            products = list(Product.objects.filter(is_active=True).order_by("pk"))
            self.counts["products"] += len(products)
        if not products:
            raise GeneratorError("The catalogue has no active products.")
        self.product_kopecks = [(int(p.list_price * 100), int(p.cost * 100)) for p in products]
        return products

    def _lost_reasons(self) -> dict[str, LostReason]:
        reasons = list(LostReason.objects.filter(is_active=True))
        if not reasons:
            migration = import_module("deals.migrations.0002_lost_reasons")
            for position, (name, code, requires_note) in enumerate(migration.REASONS, start=1):
                LostReason.objects.get_or_create(
                    code=code, defaults={"name": name, "requires_note": requires_note, "position": position}
                )
            reasons = list(LostReason.objects.filter(is_active=True))
        self.any_reasons = reasons
        return {reason.code: reason for reason in reasons if reason.code}

    def _person(self) -> tuple[str, str, str]:
        """A first name, surname and patronymic of the same gender."""
        rng = self.rng
        surname = rng.choice(SURNAMES)
        if rng.random() < 0.5:
            return rng.choice(MALE_NAMES), surname, rng.choice(PATRONYMICS_M)
        feminine = surname[:-1] + "а" if surname.endswith("й") else surname + "а"
        return rng.choice(FEMALE_NAMES), feminine, rng.choice(PATRONYMICS_F)

    def _plan_hunters(self) -> list[_Hunter]:
        rng = self.rng
        self.used_extensions = set(User.objects.exclude(extension="").values_list("extension", flat=True))
        span = max(1, self.today - self.start - 20)
        veterans = max(1, round(self.sizes.hunters * 0.3))
        hunters = []
        number = 200
        for index in range(self.sizes.hunters):
            if index < veterans:
                hired = self.start - rng.randrange(0, 400)
            else:
                hired = self.start + rng.randrange(span)
            weekday = (hired - 1) % 7
            if weekday >= 5:
                hired += 7 - weekday
            hired = min(hired, self.today)
            number += 1
            while str(number) in self.used_extensions:
                number += 1
            self.used_extensions.add(str(number))
            first_name, surname, _patronymic = self._person()
            hunters.append(
                _Hunter(
                    index,
                    f"{first_name} {surname}",
                    hired,
                    max(hired, self.start),
                    rng.lognormvariate(0.0, 0.25),
                    str(number),
                )
            )
        return hunters

    def _save_hunters(self) -> None:
        width = max(3, len(str(len(self.hunters))))
        users = [
            User(
                username=f"{HUNTER_PREFIX}{hunter.index + 1:0{width}d}",
                full_name=hunter.name,
                role=Role.HUNTER,
                extension=hunter.extension,
                email=f"{HUNTER_PREFIX}{hunter.index + 1:0{width}d}@atlanset.local",
                password=self.hash,
                date_joined=self.dt(self.work_moment(hunter.hired)),
            )
            for hunter in self.hunters
        ]
        self.progress.phase("hunters", len(users))
        User.objects.bulk_create(users, batch_size=BATCH_SIZE)
        for hunter, user in zip(self.hunters, users, strict=True):
            hunter.pk = user.pk
        group = Group.objects.filter(name=Role.HUNTER.value).first()
        if group is not None:
            User.groups.through.objects.bulk_create(
                [User.groups.through(user_id=user.pk, group_id=group.pk) for user in users]
            )
        self.counts["hunters"] = len(users)
        self.progress.advance(len(users))
        self.progress.done()

    def _active_days(self, hunter: _Hunter, month: int) -> int:
        lo = max(self.month_starts[month], hunter.start)
        hi = self.month_ends[month]
        if hi <= lo:
            return 0
        workdays = self.month_workdays[month]
        return len(workdays) - bisect.bisect_left(workdays, lo)

    # --- clients ---

    def _plan_clients(self) -> list[_Client]:
        rng = self.rng
        month_weights = []
        per_month: list[tuple[list[_Hunter], list[float]]] = []
        for month in range(len(self.month_starts)):
            pairs = []
            for hunter in self.hunters:
                days = self._active_days(hunter, month)
                if days:
                    ramp = 0.6 if self.month_starts[month] - hunter.hired < 60 else 1.0
                    pairs.append((hunter, days * hunter.productivity * ramp))
            per_month.append(_weighted(pairs) if pairs else ([], []))
            total = per_month[-1][1][-1] if pairs else 0.0
            season = SEASON[self.day(self.month_starts[month]).month]
            month_weights.append(total * season)
        picked = rng.choices(
            range(len(self.month_starts)), cum_weights=list(accumulate(month_weights)), k=self.sizes.clients
        )
        moments = []
        for month in picked:
            hunters, weights = per_month[month]
            hunter = rng.choices(hunters, cum_weights=weights)[0]
            workdays = self.month_workdays[month]
            days = workdays[bisect.bisect_left(workdays, hunter.start) :] or [hunter.start]
            moment = min(self.work_moment(rng.choice(days)), self.now - int(rng.random() * 600))
            moments.append((moment, hunter))
        moments.sort(key=lambda pair: pair[0])
        terms, terms_weights = _weighted(
            [(PaymentTerms.PREPAYMENT, 60), (PaymentTerms.DEFERRED, 25), (PaymentTerms.CONSIGNMENT, 15)]
        )
        cities, city_weights = _weighted([(city, city[3]) for city in CITIES])
        clients = []
        for index, (moment, hunter) in enumerate(moments):
            client = _Client(index, hunter, moment)
            client.quality = rng.betavariate(2, 3)
            client.cadence = rng.uniform(30, 150)
            client.terms = rng.choices(terms, cum_weights=terms_weights)[0]
            client.city = rng.choices(cities, cum_weights=city_weights)[0]
            client.head_created = rng.random() < 0.05
            hunter.client_times.append(moment)
            hunter.client_refs.append(client)
            clients.append(client)
        return clients

    # --- deals ---

    def _pass_chance(self, stage: int, client: _Client, repeat: bool, pay_factor: float) -> float:
        if repeat:
            chance = REPEAT_PASS[stage]
        else:
            chance = PROSPECT_PASS[stage]
            if stage <= FOLLOW_UP:
                chance = min(0.97, chance * (0.55 + 1.1 * client.quality))
        return chance * pay_factor if stage == SHIPMENT else chance

    def _payment_days(self, client: _Client, repeat: bool) -> float:
        rng = self.rng
        terms = client.terms if repeat else PaymentTerms.PREPAYMENT
        if terms == PaymentTerms.DEFERRED:
            return rng.choice((14, 21, 30)) + rng.uniform(-5, 5)
        if terms == PaymentTerms.CONSIGNMENT:
            return rng.uniform(30, 120)
        return rng.uniform(0.5, 6)

    def _simulate_deal(self, client: _Client, start: int, repeat: bool, pay_factor: float) -> _Deal:
        rng, now = self.rng, self.now
        deal = _Deal(client, start, repeat)
        stage, moment = deal.first, start
        while True:
            if stage == CLOSED:
                won = self.after(moment, STAGE_DAYS[CLOSED] * rng.lognormvariate(0.0, 0.6))
                if won <= now:
                    deal.status, deal.closed = DealStatus.WON, won
                break
            if stage == PAYMENT:
                due = self.after(moment, self._payment_days(client, repeat))
                if due > now:
                    break
                deal.full_pay = due
                moved = self.after(due, rng.random() * 2)
                if moved > now:
                    break
                stage = CLOSED
                deal.entered.append(moved)
                moment = moved
                continue
            passes = rng.random() < self._pass_chance(stage, client, repeat, pay_factor)
            days = STAGE_DAYS[stage] * rng.lognormvariate(0.0, 0.6)
            code = ""
            if not passes:
                codes, weights = _weighted(LOSS_REASONS[stage])
                code = rng.choices(codes, cum_weights=weights)[0]
                if code == NO_CONTACT:
                    days = max(days, 7 + rng.random() * 7)  # five attempts on different days
            left = self.after(moment, days)
            if left > now:
                break
            if not passes:
                deal.status, deal.closed, deal.lost_code = DealStatus.LOST, left, code
                deal.portal_lost = code == NO_CONTACT
                break
            stage += 1
            deal.entered.append(left)
            moment = left
        deal.stage = stage
        return deal

    def _simulate_client(self, client: _Client, gap: float, pay_factor: float) -> list[_Deal]:
        rng, now = self.rng, self.now
        deals: list[_Deal] = []
        start = self.after(client.created, rng.random() * 2)
        customer_since: int | None = None
        while start <= now:
            repeat = customer_since is not None and customer_since < start
            deal = self._simulate_deal(client, start, repeat, pay_factor)
            deals.append(deal)
            if deal.full_pay is not None and customer_since is None:
                customer_since = deal.full_pay
            if customer_since is not None:
                if rng.random() < CUSTOMER_CHURN:
                    break
                interval = client.cadence * rng.uniform(0.6, 1.4) * DAY
                start = self.after(max(deal.created + int(interval), customer_since), 0)
            else:
                if deal.closed is None or rng.random() > RETRY:
                    break
                factor = 3 if deal.lost_code == "not_target" else 1
                start = self.after(deal.closed, gap * factor * rng.uniform(90, 300))
        return deals

    def _count(self, clients: list[_Client], gap: float, pay_factor: float) -> tuple[int, int]:
        deals = paid = 0
        for client in clients:
            for deal in self._simulate_client(client, gap, pay_factor):
                deals += 1
                paid += deal.full_pay is not None
        return deals, paid

    def _calibrate(self) -> tuple[float, float]:
        """The gap scale that yields about the asked number of deals, and the share of shipped deals
        that go on to payment so that fully paid deals fit the asked number of payments."""
        main = self.rng
        sample_rng = Random(self.seed * 7919 + 1)
        sample = self.clients if len(self.clients) <= 800 else sample_rng.sample(self.clients, 800)
        factor = len(self.clients) / len(sample)
        target = self.sizes.deals * 1.03
        pay_factor, gap = 1.0, 1.0
        try:
            for _ in range(4):
                lo, hi = 0.02, 50.0
                for _ in range(11):
                    gap = (lo * hi) ** 0.5
                    self.rng = Random(self.seed * 31 + 7)
                    deals, _paid = self._count(sample, gap, pay_factor)
                    if deals * factor > target:
                        lo = gap
                    else:
                        hi = gap
                gap = lo
                self.rng = Random(self.seed * 31 + 7)
                _deals, paid = self._count(sample, gap, pay_factor)
                if paid * factor <= 0.9 * self.sizes.payments:
                    break
                pay_factor *= 0.85 * self.sizes.payments / (paid * factor)
        finally:
            self.rng = main
        return gap, pay_factor

    def _simulate(self) -> list[_Deal]:
        self.progress.phase("simulating deals", self.sizes.deals)
        gap, pay_factor = self._calibrate()
        for attempt in range(10):
            state = self.rng.getstate()
            sequences = [self._simulate_client(client, gap, pay_factor) for client in self.clients]
            paid = sum(deal.full_pay is not None for sequence in sequences for deal in sequence)
            if paid <= self.sizes.payments:
                break
            self.rng.setstate(state)
            pay_factor = 0.0 if attempt >= 8 else pay_factor * 0.9 * self.sizes.payments / paid
        sequences = self._fit_count(sequences, pay_factor)
        for client, sequence in zip(self.clients, sequences, strict=True):
            client.deals = sequence
        deals = sorted((deal for sequence in sequences for deal in sequence), key=lambda deal: deal.created)
        self.progress.advance(len(deals))
        self.progress.done()
        return deals

    def _fit_count(self, sequences: list[list[_Deal]], pay_factor: float) -> list[list[_Deal]]:
        """Exactly the asked number of deals: drop the latest deals of clients picked in proportion to
        their deals, or open more deals for long-standing clients."""
        rng = self.rng
        total = sum(len(sequence) for sequence in sequences)
        target = self.sizes.deals
        if total > target:
            pool = [index for index, sequence in enumerate(sequences) for _deal in sequence]
            rng.shuffle(pool)
            for index in pool[: total - target]:
                sequences[index].pop()
        elif total < target:
            paid = sum(deal.full_pay is not None for sequence in sequences for deal in sequence)
            ages, weights = _weighted(
                [(client, max(1, self.now - client.created)) for client in self.clients]
            )
            for _ in range(target - total):
                client = rng.choices(ages, cum_weights=weights)[0]
                sequence = sequences[client.index]
                start = self.between(client.created, self.now)
                paid_moments = [deal.full_pay for deal in sequence if deal.full_pay is not None]
                repeat = bool(paid_moments) and min(paid_moments) < start
                factor = pay_factor if paid < self.sizes.payments else 0.0
                deal = self._simulate_deal(client, start, repeat, factor)
                paid += deal.full_pay is not None
                sequence.append(deal)
        return sequences

    def _stall(self, deals: list[_Deal]) -> None:
        """Leaves prospects open where the hunter stopped working them (their refusal never recorded)
        until the busiest hunter has ``busy_open_deals`` open deals (as far as their deals allow) and the
        department ``open_share`` of its deals open. A client's latest deal stalls first, so a client
        rarely has two open deals; a deal the portal closes itself (five unanswered calls) never stalls."""
        rng = self.rng
        candidates = [
            deal
            for deal in deals
            if deal.status == DealStatus.LOST and not deal.portal_lost and not deal.repeat
        ]
        rng.shuffle(candidates)
        candidates.sort(key=lambda deal: deal is not deal.client.deals[-1])  # stable: latest deals first

        def stall(deal: _Deal) -> None:
            deal.status, deal.stalled, deal.closed, deal.lost_code = DealStatus.OPEN, deal.closed, None, ""

        deals_of = Counter(deal.client.owner.index for deal in deals)
        self.busy = max(self.hunters, key=lambda hunter: (deals_of[hunter.index], -hunter.index))
        open_of = Counter(deal.client.owner.index for deal in deals if deal.status == DealStatus.OPEN)
        busy_missing = self.busy_open_deals - open_of[self.busy.index]
        for deal in candidates:
            if busy_missing <= 0:
                break
            if deal.client.owner is self.busy:
                stall(deal)
                busy_missing -= 1
        missing = round(self.open_share * len(deals)) - sum(deal.status == DealStatus.OPEN for deal in deals)
        for deal in candidates:
            if missing <= 0:
                break
            if deal.status == DealStatus.LOST and deal.client.owner is not self.busy:
                stall(deal)
                missing -= 1

    def _order_lines(self, deals: list[_Deal]) -> None:
        rng = self.rng
        products = range(len(self.products))
        for deal in deals:
            if deal.stage < DEAL_STAGE:
                continue
            count = rng.randint(1, 5 if deal.repeat else 3)
            lines = []
            for product in rng.sample(products, min(count, len(self.products))):
                price, cost = self.product_kopecks[product]
                quantity = rng.randint(4, 40) if deal.repeat else rng.randint(2, 20)
                if quantity >= 30 and rng.random() < 0.5:
                    price = price * rng.choice((90, 95)) // 100  # a discount for volume
                lines.append((product, quantity, price, cost))
            deal.lines = lines
            deal.total = sum(quantity * price for _p, quantity, price, _c in lines)

    def _allocate_payments(self, deals: list[_Deal]) -> None:
        """Exactly the asked number of payments: one covering payment for every fully paid deal, a few
        refunds, the rest spread over fully and partly paid deals (more for deferred and consignment)."""
        rng, now = self.rng, self.now
        paid = [deal for deal in deals if deal.full_pay is not None]
        awaiting = [
            deal
            for deal in deals
            if deal.stage == PAYMENT and deal.full_pay is None and deal.entered_at(PAYMENT) + DAY < now
        ]
        budget = self.sizes.payments - len(paid)
        if budget < 0:
            raise GeneratorError("More fully paid deals than payments (a generator bug).")
        refundable = [deal for deal in paid if deal.full_pay + 3 * DAY < now]
        refunds = rng.sample(refundable, min(len(refundable), budget // 150))
        budget -= len(refunds)
        candidates = paid + awaiting
        if budget and not candidates:
            raise GeneratorError(
                "No deal reached the payment stage to carry the payments: raise --deals or --months, "
                "or lower --payments."
            )
        weight = {PaymentTerms.PREPAYMENT: 1.0, PaymentTerms.DEFERRED: 2.5, PaymentTerms.CONSIGNMENT: 6.0}
        extra: Counter[int] = Counter()
        if budget:
            cum = list(accumulate(weight[deal.client.terms] if deal.repeat else 1.0 for deal in candidates))
            extra.update(rng.choices(range(len(candidates)), cum_weights=cum, k=budget))
        for index, deal in enumerate(candidates):
            entered = deal.entered_at(PAYMENT)
            if deal.full_pay is not None:
                count = min(1 + extra[index], deal.total)
                moments = sorted(self.between(entered, deal.full_pay) for _ in range(count - 1))
                moments.append(deal.full_pay)
                amounts = _split(deal.total, count, rng)
            else:
                count = min(extra[index], deal.total // 2)
                if not count:
                    continue
                moments = sorted(self.between(entered, now) for _ in range(count))
                amounts = _split(max(count, int(deal.total * rng.uniform(0.15, 0.85))), count, rng)
            deal.payments = [(amount, moment, False) for amount, moment in zip(amounts, moments, strict=True)]
        for deal in refunds:
            amount = max(1, int(deal.total * rng.uniform(0.05, 0.4)))
            deal.payments.append((-amount, self.between(deal.full_pay + DAY, now), True))

    def _mark_new_clients(self, deals: list[_Deal]) -> None:
        """SPEC §2: a deal is a new-client deal when the client had no payment when it was opened."""
        first_payment: dict[int, int] = {}
        for deal in deals:
            for _amount, moment, refund in deal.payments:
                if not refund:
                    index = deal.client.index
                    first_payment[index] = min(moment, first_payment.get(index, moment))
        for deal in deals:
            earliest = first_payment.get(deal.client.index)
            deal.is_new = earliest is None or earliest >= deal.created
            if deal.repeat and deal.is_new:
                raise GeneratorError("A repeat order of a client who never paid (a generator bug).")

    # --- writing ---

    def _bulk(self, model: type[models.Model], rows: list[dict], label: str) -> list[int]:
        """Inserts the rows (field attnames → values) and returns their ids, in order."""
        if not rows:
            return []
        writer = self.writers.get(model)
        if writer is None:
            writer = self.writers[model] = _Writer(model)
        self.counts[label] += len(rows)
        return writer.insert(rows)

    def _phone(self, landline_code: str | None = None) -> str:
        rng = self.rng
        while True:
            if landline_code:
                number = (
                    "+7"
                    + landline_code
                    + "".join(str(rng.randrange(10)) for _ in range(10 - len(landline_code)))
                )
            else:
                number = "+7" + rng.choice(MOBILE_CODES) + f"{rng.randrange(10_000_000):07d}"
            if number not in self.used_phones:
                self.used_phones.add(number)
                return number

    def _inn(self, tax_office: str, person: bool) -> str:
        rng = self.rng
        while True:
            if person:
                body = tax_office + f"{rng.randrange(1_000_000):06d}"
                inn = body + stdnum_inn.calc_personal_check_digits(body)
            else:
                body = tax_office + f"{rng.randrange(100_000):05d}"
                inn = body + stdnum_inn.calc_company_check_digit(body)
            if inn not in self.used_inns:
                self.used_inns.add(inn)
                return inn

    def _requisites(
        self, client: _Client, name: str, brand: str, person: tuple[str, str, str], full: bool
    ) -> dict:
        rng = self.rng
        city, tax_office, _code, _weight = client.city
        entrepreneur = name.startswith("ИП ")
        year = rng.randint(5, 22)
        if entrepreneur:
            first_name, surname, patronymic = person
            inn = self._inn(tax_office, person=True)
            body = f"3{year:02d}86{rng.randrange(10**9):09d}"
            values = {
                "legal_name": f"Индивидуальный предприниматель {surname} {first_name} {patronymic}",
                "inn": inn,
                "kpp": "",
                "ogrn": body + ogrnip_check_digit(body),
            }
            prefix = "40802810"
        else:
            inn = self._inn(tax_office, person=False)
            body = f"1{year:02d}86{tax_office[2:]}{rng.randrange(10**5):05d}"
            values = {
                "legal_name": f"Общество с ограниченной ответственностью «{brand}»",
                "inn": inn,
                "kpp": f"{tax_office}01001",
                "ogrn": body + stdnum_ogrn.calc_check_digit(body + "0"),
            }
            prefix = "40702810"
        if full:
            bank, bik, correspondent = rng.choice(BANKS)
            account = prefix + "0" + f"{rng.randrange(10**11):011d}"
            account = account[:8] + _account_key(bik, account) + account[9:]
            values |= {
                "legal_address": f"628{rng.randrange(100, 999)}, ХМАО — Югра, г. {city}, "
                f"{rng.choice(STREETS)}, д. {rng.randint(1, 120)}",
                "bank_name": bank,
                "bik": bik,
                "settlement_account": account,
                "correspondent_account": correspondent,
            }
        return values

    def _client_row(self, client: _Client, head: User) -> tuple[dict, list[str], list[dict]]:
        rng = self.rng
        city, _tax_office, landline, _weight = client.city
        segment, templates, _share = rng.choices(SEGMENTS, cum_weights=SEGMENT_WEIGHTS)[0]
        brand = rng.choice(BRAND_WORDS) + rng.choice(BRAND_SUFFIXES)
        person = self._person()
        if segment == "розница" and rng.random() < 0.4:
            name = f"ИП {person[1]} {person[0][0]}. {person[2][0]}. (магазин «{brand}»)"
        else:
            name = rng.choice(templates).format(n=brand)
        slug = _slug(brand)
        reaches_call = any(deal.stage > CALL for deal in client.deals)
        reaches_deal = any(deal.stage >= DEAL_STAGE for deal in client.deals)
        customer = any(deal.full_pay is not None for deal in client.deals)
        dm_name = f"{person[0]} {person[2]}"
        if reaches_call or rng.random() < 0.6:
            client.dm_email = f"{rng.choice(MAILBOXES)}{client.index + 1}@{slug}.ru"
        else:
            dm_name = dm_name if rng.random() < 0.5 else ""
        source = (
            "inbound" if client.head_created else rng.choices(SOURCE_CODES, cum_weights=SOURCE_WEIGHTS)[0]
        )
        card = {
            "name": name,
            "address": f"{city}, {rng.choice(STREETS)}, {rng.randint(1, 120)}"
            + (f", оф. {rng.randint(1, 40)}" if rng.random() < 0.3 else ""),
            "city": city,
            "email": f"{rng.choice(MAILBOXES)}.{slug}{client.index + 1}@{rng.choice(MAIL_DOMAINS)}",
            "website": rng.choice(
                (f"{slug}.ru", f"vk.com/{slug}{client.index + 1}", f"{slug}-{_slug(city)}.ru")
            )
            if rng.random() < 0.4
            else "",
            "segment": segment,
            "source": source,
            "decision_maker_name": dm_name,
            "decision_maker_email": client.dm_email,
            "notes": rng.choice(("Работают с 8 до 20.", "Звонить после 11.", "Пропуск на охране.", ""))
            if rng.random() < 0.15
            else "",
        }
        if reaches_deal or rng.random() < 0.08:
            card |= self._requisites(client, name, brand, person, full=reaches_deal)
        if customer and client.terms == PaymentTerms.DEFERRED:
            card |= {
                "payment_terms": PaymentTerms.DEFERRED,
                "deferred_days": rng.choice((14, 21, 30)),
                "deferred_limit": Decimal(rng.choice((10_000, 15_000, 20_000))),
            }
        elif customer and client.terms == PaymentTerms.CONSIGNMENT:
            card |= {
                "payment_terms": PaymentTerms.CONSIGNMENT,
                "consignment_cadence": rng.choice(SettlementCadence.values),
            }
        owner = client.owner.pk
        row = dict(
            owner_id=owner,
            created_by_id=head.pk if client.head_created else owner,
            created_at=self.dt(client.created),
            external_key=f"{KEY_PREFIX}{self.seed}-{client.index + 1}",
            **card,
        )
        client.phones = [self._phone()]
        if rng.random() < 0.25:
            client.phones.append(self._phone(landline))
        contacts = []
        if rng.random() < 0.3:
            for _ in range(rng.randint(1, 2)):
                first_name, surname, patronymic = self._person()
                birthday = None
                if rng.random() < 0.5:
                    birthday = date(rng.randint(1965, 2000), rng.randint(1, 12), rng.randint(1, 28))
                contacts.append(
                    dict(
                        name=f"{first_name} {patronymic} {surname}",
                        position=rng.choice(POSITIONS),
                        phone=self._phone(),
                        email=f"{_slug(first_name)}.{_slug(surname)}@{slug}.ru",
                        birthday=birthday,
                    )
                )
        return row, client.phones, contacts

    def _save_clients(self) -> None:
        self.used_phones |= set(ClientPhone.objects.values_list("number", flat=True))
        self.used_inns |= set(Client.objects.exclude(inn="").values_list("inn", flat=True))
        head = self.staff[Role.SALES_HEAD]
        self.progress.phase("clients", len(self.clients))
        for chunk in _chunks(self.clients, BATCH_SIZE):
            rows, phones, contacts, holidays = [], [], [], []
            for client in chunk:
                row, numbers, client_contacts = self._client_row(client, head)
                _with_search_texts(row, numbers, client_contacts)
                rows.append((row, numbers, client_contacts))
            ids = self._bulk(Client, [row for row, _n, _c in rows], "clients")
            for client, client_id, (_row, numbers, client_contacts) in zip(chunk, ids, rows, strict=True):
                client.pk = client_id
                phones.extend(dict(client_id=client_id, number=number) for number in numbers)
                for contact in client_contacts:
                    contact["client_id"] = client_id
                    contacts.append(contact)
                if self.rng.random() < 0.05:
                    name, fixed = self.rng.choice(HOLIDAYS)
                    month, day = fixed or (self.rng.randint(1, 12), self.rng.randint(1, 28))
                    holidays.append(dict(client_id=client_id, name=name, month=month, day=day))
            self._bulk(ClientPhone, phones, "client phones")
            self._bulk(Contact, contacts, "contacts")
            self._bulk(ClientHoliday, holidays, "client holidays")
            self.progress.advance(len(chunk))
        self.progress.done()

    def _save_deals(self, deals: list[_Deal]) -> None:
        rng, today = self.rng, self.today
        self.progress.phase("deals", len(deals))
        for number, chunk in enumerate(_chunks(deals, BATCH_SIZE)):
            rows = []
            for index, deal in enumerate(chunk):
                client = deal.client
                reason = None
                note = ""
                if deal.status == DealStatus.LOST:
                    reason = self.reasons.get(deal.lost_code) or rng.choice(self.any_reasons)
                    if reason.requires_note or rng.random() < 0.2:
                        note = rng.choice(LOST_NOTES)
                next_contact = None
                if deal.status == DealStatus.OPEN and CALL <= deal.stage <= FOLLOW_UP:
                    next_contact = self.day(today + rng.randint(-7, 10))
                paid_on = self.date_of(deal.full_pay) if deal.full_pay is not None else None
                rows.append(
                    dict(
                        client_id=client.pk,
                        owner_id=client.owner.pk,
                        title="Повторный заказ" if deal.repeat else "",
                        stage=stages.ORDER[deal.stage],
                        status=deal.status,
                        is_new_client=deal.is_new,
                        next_contact_on=next_contact,
                        lost_reason_id=reason.pk if reason else None,
                        lost_note=note,
                        created_by_id=client.owner.pk,
                        created_at=self.dt(deal.created),
                        stage_entered_at=self.dt(deal.entered[-1]),
                        closed_at=self.dt(deal.closed) if deal.closed is not None else None,
                        paid_in_full_on=paid_on,
                        completed_for_id=client.owner.pk if paid_on is not None else None,
                        completed_in=paid_on.replace(day=1) if paid_on is not None else None,
                        external_key=f"{KEY_PREFIX}{self.seed}-{number * BATCH_SIZE + index + 1}",
                    )
                )
            for deal, deal_id in zip(chunk, self._bulk(Deal, rows, "deals"), strict=True):
                deal.pk = deal_id
            # A deal's next contact is its open task (kpi.Task), as the services keep it.
            tasks = [
                dict(
                    client_id=row["client_id"],
                    deal_id=deal.pk,
                    due_on=row["next_contact_on"],
                    what=rng.choice(TASK_AGREEMENTS),
                    status=Task.Status.OPEN,
                    created_by_id=row["owner_id"],
                    created_at=row["stage_entered_at"],
                )
                for deal, row in zip(chunk, rows, strict=True)
                if row["next_contact_on"] is not None
            ]
            self._bulk(Task, tasks, "tasks")
            self.progress.advance(len(chunk))
        self.progress.done()

    def _save_deal_records(self, deals: list[_Deal]) -> list[tuple]:
        """Stage history and what each stage recorded; returns the activities those records imply."""
        anchored: list[tuple] = []
        self.invoice_file = self._invoice_file()
        self.progress.phase("stage records, orders, payments", len(deals))
        for chunk in _chunks(deals, BATCH_SIZE // 2):
            rows: dict[str, list] = defaultdict(list)
            for deal in chunk:
                self._deal_records(deal, rows, anchored)
            self._bulk(StageChange, rows["changes"], "stage changes")
            self._bulk(CallResult, rows["calls"], "call results")
            self._bulk(Proposal, rows["proposals"], "proposals")
            requests = self._bulk(
                SampleRequest, [request for request, _lines in rows["samples"]], "sample requests"
            )
            self._bulk(
                SampleLine,
                [
                    dict(request_id=request_id, product_id=self.products[product].pk, quantity=quantity)
                    for request_id, (_r, lines) in zip(requests, rows["samples"], strict=True)
                    for product, quantity in lines
                ],
                "sample lines",
            )
            self._bulk(FollowUp, rows["follow_ups"], "follow-ups")
            orders = self._bulk(Order, [order for order, _lines, _by in rows["orders"]], "orders")
            self._bulk(
                OrderLine,
                [
                    dict(
                        order_id=order_id,
                        product_id=self.products[product].pk,
                        quantity=Decimal(quantity),
                        price=Decimal(price) / 100,
                        cost=Decimal(cost) / 100,
                    )
                    for order_id, (_o, lines, _by) in zip(orders, rows["orders"], strict=True)
                    for product, quantity, price, cost in lines
                ],
                "order lines",
            )
            # Each order as its one version, decided as the order was (an order change is the portal's).
            versions = self._bulk(
                OrderVersion,
                [
                    dict(
                        order_id=order_id,
                        number=1,
                        total=order["total"],
                        cost_total=order["cost_total"],
                        status=order["production_status"],
                        created_by_id=by,
                        created_at=order["created_at"],
                        decided_by_id=order["production_decided_by_id"],
                        decided_at=order["production_decided_at"],
                        decision_comment=order["production_comment"],
                    )
                    for order_id, (order, _lines, by) in zip(orders, rows["orders"], strict=True)
                ],
                "order versions",
            )
            self._bulk(
                OrderVersionLine,
                [
                    dict(
                        version_id=version_id,
                        product_id=self.products[product].pk,
                        quantity=Decimal(quantity),
                        price=Decimal(price) / 100,
                        cost=Decimal(cost) / 100,
                    )
                    for version_id, (_o, lines, _by) in zip(versions, rows["orders"], strict=True)
                    for product, quantity, price, cost in lines
                ],
                "order version lines",
            )
            self._bulk(DealDocument, rows["documents"], "invoices")
            self._bulk(Shipment, rows["shipments"], "shipments")
            payment_ids = self._bulk(Payment, rows["payments"], "payments")
            # A refund takes back commission from the hunter credited with the deal's payments.
            self._bulk(
                Clawback,
                [
                    dict(
                        refund_id=payment_id,
                        hunter_id=row["credited_to_id"],
                        accrual_month=row["accrual_month"],
                        late=False,
                    )
                    for row, payment_id in zip(rows["payments"], payment_ids, strict=True)
                    if row["kind"] == Payment.Kind.REFUND
                ],
                "clawbacks",
            )
            self._bulk(Feedback, rows["feedback"], "feedback")
            self.progress.advance(len(chunk))
        self.progress.done()
        return anchored

    def _invoice_file(self) -> str:
        name = "generated/schet.pdf"
        if not default_storage.exists(name):
            name = default_storage.save(name, ContentFile(b"%PDF-1.4\n% generated invoice\n"))
        return name

    def _deal_records(self, deal: _Deal, rows: dict[str, list], anchored: list[tuple]) -> None:
        rng, now = self.rng, self.now
        client = deal.client
        owner = client.owner
        deal_id = deal.pk
        by = owner.pk
        order = stages.ORDER
        changes = rows["changes"]
        changes.append(
            dict(
                deal_id=deal_id,
                kind=StageChange.Kind.CREATED,
                to_stage=order[deal.first],
                by_id=by,
                at=self.dt(deal.created),
            )
        )
        for stage in range(deal.first + 1, deal.stage + 1):
            changes.append(
                dict(
                    deal_id=deal_id,
                    kind=StageChange.Kind.FORWARD,
                    from_stage=order[stage - 1],
                    to_stage=order[stage],
                    by_id=by,
                    at=self.dt(deal.entered_at(stage)),
                )
            )
        if deal.status == DealStatus.LOST:
            changes.append(
                dict(
                    deal_id=deal_id,
                    kind=StageChange.Kind.LOST,
                    from_stage=order[deal.stage],
                    to_stage=order[deal.stage],
                    by_id=None if deal.portal_lost else by,
                    at=self.dt(deal.closed),
                    comment="Пять неудачных попыток дозвониться" if deal.portal_lost else "",
                )
            )
        elif deal.status == DealStatus.WON:
            changes.append(
                dict(
                    deal_id=deal_id,
                    kind=StageChange.Kind.WON,
                    from_stage=order[CLOSED],
                    to_stage=order[CLOSED],
                    by_id=by,
                    at=self.dt(deal.closed),
                )
            )

        def activity(moment, kind, **extra):
            anchored.append((owner.index, moment, kind, client, deal, extra))

        # stage 2: calls until the client agrees, refuses or cannot be reached
        if not deal.repeat and deal.stage >= CALL:
            entered, left = deal.entered_at(CALL), deal.left_at(CALL, now)
            calls: list[tuple[int, str]] = []
            if deal.stage > CALL:
                agreed_at = max(entered, left - 600 - int(rng.random() * 3000))
                moments = sorted(
                    self.between(entered, agreed_at) for _ in range(rng.choice((0, 0, 0, 1, 1, 2, 3)))
                )
                calls = [
                    (moment, rng.choice((CallOutcome.NOT_REACHED, CallOutcome.CALL_BACK)))
                    for moment in moments
                ]
                outcome = rng.choice((CallOutcome.AGREED_SAMPLES, CallOutcome.AGREED_PROPOSAL))
                calls.append((agreed_at, outcome))
            elif deal.status == DealStatus.LOST and deal.portal_lost:
                days = sorted(set(range(entered // DAY, left // DAY)) - {left // DAY})
                workdays = [day for day in days if (day - 1) % 7 < 5] or days
                picked = sorted(rng.sample(workdays, min(4, len(workdays))))
                calls = [(max(entered, self.work_moment(day)), CallOutcome.NOT_REACHED) for day in picked]
                calls.append((max(entered, left - 60), CallOutcome.NOT_REACHED))
            elif deal.status == DealStatus.LOST:
                refused_at = max(entered, left - 60)
                moments = sorted(self.between(entered, refused_at) for _ in range(rng.randint(0, 2)))
                calls = [(moment, CallOutcome.NOT_REACHED) for moment in moments]
                calls.append((refused_at, CallOutcome.REFUSED))
            else:
                moments = sorted(self.between(entered, now) for _ in range(rng.randint(0, 2)))
                calls = [
                    (moment, rng.choice((CallOutcome.NOT_REACHED, CallOutcome.CALL_BACK)))
                    for moment in moments
                ]
            for moment, outcome in calls:
                agreed = outcome in stages.AGREED_CALL_OUTCOMES
                talked = outcome != CallOutcome.NOT_REACHED
                rows["calls"].append(
                    dict(
                        deal_id=deal_id,
                        at=self.dt(moment),
                        outcome=outcome,
                        call_description=rng.choice(CALL_DESCRIPTIONS)
                        if agreed
                        else (rng.choice(REFUSALS) if outcome == CallOutcome.REFUSED else ""),
                        client_description=rng.choice(CLIENT_DESCRIPTIONS) if agreed else "",
                        decision_maker_email=client.dm_email if agreed else "",
                        author_id=by,
                    )
                )
                activity(
                    moment,
                    ActivityKind.CALL,
                    source=ActivitySource.TELEPHONY,
                    direction=CallDirection.OUTGOING,
                    duration_s=int(rng.lognormvariate(5.0, 0.6)) + 20 if talked else 0,
                    outcome=ORDER_CALL_OUTCOME[outcome],
                )
        # stage 3: the commercial proposal
        if not deal.repeat and deal.stage >= PROPOSAL:
            entered, left = deal.entered_at(PROPOSAL), deal.left_at(PROPOSAL, now)
            if deal.stage > PROPOSAL or deal.status == DealStatus.LOST or rng.random() < 0.6:
                sent = self.between(entered, min(left, entered + 2 * DAY))
                rows["proposals"].append(
                    dict(
                        deal_id=deal_id,
                        template_name=rng.choice(PROPOSAL_TEMPLATES),
                        sent_to_email=client.dm_email or f"info{client.index + 1}@example.ru",
                        sent_at=self.dt(sent),
                        callback_on=self.day(sent // DAY + rng.randint(2, 7)),
                        author_id=by,
                    )
                )
                activity(sent, ActivityKind.PROPOSAL, outcome="КП отправлено на почту ЛПР")
        # stage 4: samples from production
        if not deal.repeat and deal.stage >= SAMPLES:
            entered, left = deal.entered_at(SAMPLES), deal.left_at(SAMPLES, now)
            requested = self.between(entered, min(left, entered + DAY))
            if deal.stage > SAMPLES:
                status, changed = SampleRequest.Status.HANDED_OVER, max(requested, left - 3600)
            elif deal.status == DealStatus.LOST or deal.stalled is not None:
                declined = rng.random() < 0.1
                status = SampleRequest.Status.DECLINED if declined else SampleRequest.Status.HANDED_OVER
                changed = self.between(requested, left)
            else:
                status = rng.choice((SampleRequest.Status.REQUESTED, SampleRequest.Status.PREPARED))
                changed = (
                    requested if status == SampleRequest.Status.REQUESTED else self.between(requested, now)
                )
            request = dict(
                deal_id=deal_id,
                receiver_name=client.owner.name if rng.random() < 0.1 else " ".join(self._person()[:2]),
                receiver_phone=client.phones[0],
                potential_volume=rng.choice(POTENTIAL_VOLUMES),
                status=status,
                comment="Нет нужных пробников на складе" if status == SampleRequest.Status.DECLINED else "",
                requested_by_id=by,
                requested_at=self.dt(requested),
                status_changed_at=self.dt(changed),
            )
            lines = [
                (product, rng.randint(1, 3))
                for product in rng.sample(
                    range(len(self.products)), min(len(self.products), rng.randint(1, 3))
                )
            ]
            rows["samples"].append((request, lines))
            activity(requested, ActivityKind.SAMPLES, outcome="Заявка на пробники в производство")
            if rng.random() < 0.3:
                activity(
                    self.between(requested, left), ActivityKind.MEETING, outcome=rng.choice(MEETING_OUTCOMES)
                )
        # stage 5: follow-ups until the client confirms
        if not deal.repeat and deal.stage >= FOLLOW_UP:
            entered, left = deal.entered_at(FOLLOW_UP), deal.left_at(FOLLOW_UP, now)
            confirmed = deal.stage > FOLLOW_UP
            count = rng.randint(1, 3) if confirmed or deal.status == DealStatus.LOST else rng.randint(0, 2)
            last = max(entered, left - 600) if confirmed else left
            moments = sorted(self.between(entered, last) for _ in range(count - confirmed))
            if confirmed:
                moments.append(last)
            for position, moment in enumerate(moments):
                final = confirmed and position == len(moments) - 1
                if final:
                    next_on = None
                elif position + 1 < len(moments):
                    next_on = self.day(moments[position + 1] // DAY)
                elif deal.status == DealStatus.OPEN:
                    next_on = self.day(max(moment // DAY + 1, self.today + rng.randint(-5, 10)))
                else:
                    next_on = self.day(moment // DAY + rng.randint(2, 10))
                rows["follow_ups"].append(
                    dict(
                        deal_id=deal_id,
                        at=self.dt(moment),
                        outcome=rng.choice(CONFIRMATIONS) if final else rng.choice(FOLLOW_UP_OUTCOMES),
                        objection="" if final else rng.choice(OBJECTIONS),
                        next_contact_on=next_on,
                        client_confirmed=final,
                        author_id=by,
                    )
                )
                activity(
                    moment,
                    ActivityKind.FOLLOW_UP,
                    outcome="Клиент подтвердил заказ" if final else "Дожим",
                    next_contact_on=next_on or self.day(moment // DAY + 1),
                )
        # stage 6: the order, production's decision and the invoice
        if deal.stage >= DEAL_STAGE:
            entered, left = deal.entered_at(DEAL_STAGE), deal.left_at(DEAL_STAGE, now)
            created = self.between(entered, min(left, entered + DAY))
            passed = deal.stage > DEAL_STAGE
            decided_at = self.between(created, left)
            if passed or rng.random() < 0.5:
                status = Order.ProductionStatus.APPROVED
            elif deal.status == DealStatus.LOST and rng.random() < 0.4:
                status = Order.ProductionStatus.DECLINED
            else:
                status = Order.ProductionStatus.PENDING
            decided = status != Order.ProductionStatus.PENDING
            cost = sum(quantity * unit_cost for _p, quantity, _price, unit_cost in deal.lines)
            rows["orders"].append(
                (
                    dict(
                        deal_id=deal_id,
                        total=Decimal(deal.total) / 100,
                        cost_total=Decimal(cost) / 100,
                        production_status=status,
                        production_comment="Нет сырья, срок поставки не подходит"
                        if status == Order.ProductionStatus.DECLINED
                        else "",
                        production_decided_by_id=self.staff[Role.PRODUCTION].pk if decided else None,
                        production_decided_at=self.dt(decided_at) if decided else None,
                        created_at=self.dt(created),
                    ),
                    deal.lines,
                    by,
                )
            )
            if passed or (status == Order.ProductionStatus.APPROVED and rng.random() < 0.5):
                self.bank_document += 1
                rows["documents"].append(
                    dict(
                        deal_id=deal_id,
                        kind=DealDocument.Kind.INVOICE,
                        number=str(self.bank_document),
                        file=self.invoice_file,
                        original_name=f"Счёт №{self.bank_document}.pdf",
                        uploaded_by_id=self.staff[Role.ACCOUNTANT].pk,
                        uploaded_at=self.dt(max(decided_at, left - 600) if passed else decided_at),
                    )
                )
        # stage 7: shipment and the client's receipt
        if deal.stage >= SHIPMENT:
            entered, left = deal.entered_at(SHIPMENT), deal.left_at(SHIPMENT, now)
            passed = deal.stage > SHIPMENT
            if passed or rng.random() < 0.7:
                courier = self.between(entered, left) // DAY
                if not passed and deal.status == DealStatus.OPEN:
                    courier = max(courier, self.today - 2) + rng.randint(0, 3)
                rows["shipments"].append(
                    dict(
                        deal_id=deal_id,
                        receiver_name=" ".join(self._person()[:2]),
                        receiver_phone=client.phones[0],
                        delivery_address=f"{client.city[0]}, {rng.choice(STREETS)}, {rng.randint(1, 120)}",
                        courier_date=self.day(courier),
                        received_on=self.day(left // DAY) if passed else None,
                    )
                )
        # stage 8: payments as the accountant recorded them
        accountant = self.staff[Role.ACCOUNTANT]
        for amount, moment, refund in deal.payments:
            self.bank_document += 1
            received = self.date_of(moment)
            rows["payments"].append(
                dict(
                    deal_id=deal_id,
                    kind=Payment.Kind.REFUND if refund else Payment.Kind.PAYMENT,
                    amount=Decimal(amount) / 100,
                    received_on=received,
                    bank_document=str(self.bank_document),
                    credited_to_id=owner.pk,
                    recorded_by_id=accountant.pk,
                    recorded_at=self.dt(moment),
                    accrual_month=received.replace(day=1),
                )
            )
            self.actual[(owner.index, self.month_of(moment))]["revenue"] += amount
        if deal.full_pay is not None:
            self.actual[(owner.index, self.month_of(deal.full_pay))]["deals"] += 1
        # stage 9: the client's feedback closes the deal
        if deal.status == DealStatus.WON:
            claims = rng.random() < 0.05
            rows["feedback"].append(
                dict(
                    deal_id=deal_id,
                    has_quality_claims=claims,
                    claims_text=rng.choice(CLAIMS) if claims else "",
                    repeat_order_expected=rng.random() < 0.75,
                    comment="",
                    author_id=by,
                    at=self.dt(max(deal.entered_at(CLOSED), deal.closed - 600)),
                )
            )

    # --- activities ---

    def _save_activities(self, anchored: list[tuple]) -> None:
        rng = self.rng
        target = self.sizes.activities
        if len(anchored) > target:
            anchored = rng.sample(anchored, target)
        by_cell: dict[tuple[int, int], list[tuple]] = defaultdict(list)
        for record in anchored:
            by_cell[(record[0], self.month_of(record[1]))].append(record)
        cells, weights = [], []
        for hunter in self.hunters:
            for month in range(len(self.month_starts)):
                days = self._active_days(hunter, month)
                if days:
                    season = 0.5 + 0.5 * SEASON[self.day(self.month_starts[month]).month]
                    ramp = 0.6 if self.month_starts[month] - hunter.hired < 60 else 1.0
                    cells.append((hunter, month))
                    weights.append(days * hunter.productivity * season * ramp)
        generic = Counter(
            rng.choices(range(len(cells)), cum_weights=list(accumulate(weights)), k=target - len(anchored))
        )
        self.progress.phase("activities", target)
        buffer: list[dict] = []
        for index, (hunter, month) in enumerate(cells):
            records = by_cell.pop((hunter.index, month), [])
            records.extend(self._generic_activity(hunter, month) for _ in range(generic[index]))
            records.sort(key=lambda record: record[1])
            for record in records:
                buffer.append(self._activity_row(hunter, record))
            if len(buffer) >= BATCH_SIZE:
                self._flush_activities(buffer)
                buffer = []
        for (hunter_index, _month), records in sorted(by_cell.items()):
            hunter = self.hunters[hunter_index]
            buffer.extend(
                self._activity_row(hunter, record) for record in sorted(records, key=lambda r: r[1])
            )
        self._flush_activities(buffer)
        self.progress.done()

    def _generic_activity(self, hunter: _Hunter, month: int) -> tuple:
        rng = self.rng
        workdays = self.month_workdays[month]
        days = workdays[bisect.bisect_left(workdays, hunter.start) :] or [
            max(hunter.start, self.month_starts[month])
        ]
        moment = self.work_moment(rng.choice(days))
        if moment > self.now:
            moment = self.now - int(rng.random() * 3600)
        roll = rng.random()
        extra: dict[str, Any]
        if roll < 0.78:
            kind = ActivityKind.CALL
            if rng.random() < 0.85:
                direction_roll = rng.random()
                if direction_roll < 0.8:
                    direction = CallDirection.OUTGOING
                    duration = 0 if rng.random() < 0.3 else min(3600, int(rng.lognormvariate(4.3, 0.9)) + 1)
                elif direction_roll < 0.96:
                    direction = CallDirection.INCOMING
                    duration = 0 if rng.random() < 0.08 else min(3600, int(rng.lognormvariate(4.6, 0.8)) + 1)
                else:
                    direction = CallDirection.INTERNAL
                    duration = int(rng.lognormvariate(3.5, 0.7)) + 1
                extra = {
                    "source": ActivitySource.TELEPHONY,
                    "direction": direction,
                    "duration_s": duration,
                    "outcome": "Отвечен" if duration else rng.choice(("Не отвечен", "Занято")),
                }
                if direction == CallDirection.INTERNAL or (
                    direction == CallDirection.OUTGOING and rng.random() < 0.25
                ):
                    return (hunter.index, moment, kind, None, None, extra)
            else:
                extra = {"outcome": rng.choice(MANUAL_CALL_OUTCOMES)}
        elif roll < 0.95:
            kind = ActivityKind.MESSAGE
            extra = {"outcome": rng.choice(MESSAGE_OUTCOMES)}
        else:
            kind = ActivityKind.MEETING
            extra = {"outcome": rng.choice(MEETING_OUTCOMES)}
        client = deal = None
        known = bisect.bisect_right(hunter.client_times, moment)
        if known:
            spread = max(5.0, known * 0.35)
            client = hunter.client_refs[known - 1 - min(known - 1, int(rng.expovariate(1.0) * spread))]
            if rng.random() < 0.6:
                for candidate in reversed(client.deals):
                    if candidate.created <= moment and (
                        candidate.closed is None or candidate.closed >= moment
                    ):
                        deal = candidate
                        break
        return (hunter.index, moment, kind, client, deal, extra)

    def _activity_row(self, hunter: _Hunter, record: tuple) -> dict:
        _hunter, moment, kind, client, deal, extra = record
        at = self.dt(moment)
        counter = self.actual[(hunter.index, self.month_of(moment))]
        if kind == ActivityKind.MEETING:
            counter["meetings"] += 1
        elif kind == ActivityKind.MESSAGE:
            counter["messages"] += 1
        elif (
            extra.get("direction") == CallDirection.OUTGOING
            and extra["source"] == ActivitySource.TELEPHONY
            and extra["duration_s"] >= self.min_call_seconds
        ):
            counter["calls"] += 1
        return {
            "owner_id": hunter.pk,
            "kind": kind,
            "at": at,
            "client_id": client.pk if client is not None else None,
            "deal_id": deal.pk if deal is not None else None,
            "created_at": at,
            **extra,
        }

    def _flush_activities(self, buffer: list[dict]) -> None:
        if buffer:
            self._bulk(Activity, buffer, "activities")
            self.progress.advance(len(buffer))

    # --- plans ---

    def _save_plans(self) -> None:
        """A plan for every hunter and month of work, set from the hunter's last three months."""
        rng = self.rng
        head = self.staff[Role.SALES_HEAD]
        for client in self.clients:
            if not client.head_created:
                self.actual[(client.owner.index, self.month_of(client.created))]["leads"] += 1
        defaults = {
            "revenue": 150_000_00,
            "deals": 3,
            "leads": 30,
            "calls": 250,
            "meetings": 4,
            "messages": 40,
        }
        steps = {"revenue": 10_000_00, "deals": 1, "leads": 5, "calls": 10, "meetings": 1, "messages": 5}
        rows = []
        for hunter in self.hunters:
            for month in range(len(self.month_starts)):
                if not self._active_days(hunter, month):
                    continue
                history = [
                    self.actual[(hunter.index, past)]
                    for past in range(max(0, month - 3), month)
                    if self._active_days(hunter, past)
                ]
                targets = {}
                for name, default in defaults.items():
                    base = sum(counter[name] for counter in history) / len(history) if history else default
                    step = steps[name]
                    targets[name] = max(step, round(base * rng.uniform(0.9, 1.2) / step) * step)
                moment = self.month_starts[month] * DAY - DAY + WORK_START + 7200
                rows.append(
                    dict(
                        hunter_id=hunter.pk,
                        month=self.day(self.month_starts[month]),
                        revenue_target=Decimal(targets["revenue"]) / 100,
                        deals_target=targets["deals"],
                        leads_target=targets["leads"],
                        calls_target=targets["calls"],
                        meetings_target=targets["meetings"],
                        messages_target=targets["messages"],
                        set_by_id=head.pk,
                        updated_at=self.dt(min(self.now, max(moment, hunter.hired * DAY + WORK_START))),
                    )
                )
        self.progress.phase("monthly plans", len(rows))
        self._bulk(MonthlyPlan, rows, "monthly plans")
        self.progress.advance(len(rows))
        self.progress.done()

    # --- statements ---

    def _statement_status(self, month: date) -> str:
        """Where the month's statements stand today: a month is approved, locked and paid in the first days
        of the next (``APPROVED_ON_DAY`` …); the current month is a draft."""
        following = date(month.year + (month.month == 12), month.month % 12 + 1, 1)
        today = self.day(self.today)
        for day, status in (
            (PAID_ON_DAY, Statement.Status.PAID),
            (LOCKED_ON_DAY, Statement.Status.LOCKED),
            (APPROVED_ON_DAY, Statement.Status.APPROVED),
        ):
            if today >= following.replace(day=day):
                return status
        return Statement.Status.DRAFT

    def _after_month(self, month: date, day: int, hour: int) -> datetime:
        following = date(month.year + (month.month == 12), month.month % 12 + 1, day)
        return self.dt(min(self.now, following.toordinal() * DAY + hour * 3600))

    def _save_statements(self) -> None:
        """Every hunter-month's statement as the head and the accountant would have left it: worked out by
        the statement engine from the generated data, stored as approved with the approved figures, posted
        line by line and locked, then paid; the current month (and the last one in its first days) stored
        as a draft. Months are worked out in order, each locked before the next, so a refund's clawback
        reads the earlier months' posted lines as it does in the portal. The rows are written in bulk and
        leave no audit history: nobody approved them in the portal (``delete_generated`` relies on that)."""
        from compensation.approval import lines_to_json
        from compensation.services import hunters_of_month, posted_line_values
        from compensation.statements import compute_statement, counters_json
        from kpi.counters import month_counters

        head, accountant = self.staff[Role.SALES_HEAD], self.staff[Role.ACCOUNTANT]
        generated = {hunter.pk for hunter in self.hunters}
        self.progress.phase("statements", len(self.month_starts))
        for start in self.month_starts:
            month = self.day(start)
            status = self._statement_status(month)
            hunters = [hunter for hunter in hunters_of_month(month) if hunter.pk in generated]
            counters = month_counters(month=month, hunter_ids=[hunter.pk for hunter in hunters])
            worked_out = [
                compute_statement(hunter=hunter, month=month, counters=counters[hunter.pk])
                for hunter in hunters
            ]
            rows = []
            for statement in worked_out:
                lines = lines_to_json(statement.lines)
                row = dict(
                    hunter_id=statement.hunter.pk,
                    month=month,
                    status=Statement.Status.DRAFT,
                    sales_plan_fulfilled=statement.sales_plan_fulfilled,
                    kpi_met=statement.kpi_met,
                    computed_lines=lines,
                    computed_total=statement.total,
                    counters=counters_json(statement.counters),
                )
                if status != Statement.Status.DRAFT:
                    row |= dict(
                        status=Statement.Status.APPROVED,
                        total=statement.total,
                        approved_total=statement.total,
                        approved_lines=lines,
                        approved_by_id=head.pk,
                        approved_at=self._after_month(month, APPROVED_ON_DAY, 10),
                    )
                rows.append(row)
            ids = self._bulk(Statement, rows, "statements")
            if status in (Statement.Status.LOCKED, Statement.Status.PAID):
                # Posted while approved, then locked: the database's guards check each step.
                self._bulk(
                    StatementLine,
                    [
                        dict(statement_id=statement_id, **values)
                        for statement_id, statement in zip(ids, worked_out, strict=True)
                        for values in posted_line_values(statement.lines)
                    ],
                    "statement lines",
                )
                Statement.objects.filter(pk__in=ids).update(
                    status=Statement.Status.LOCKED,
                    locked_by=accountant,
                    locked_at=self._after_month(month, LOCKED_ON_DAY, 12),
                )
            if status == Statement.Status.PAID:
                Statement.objects.filter(pk__in=ids).update(
                    status=Statement.Status.PAID, paid_at=self._after_month(month, PAID_ON_DAY, 12)
                )
            self.progress.advance(1)
        self.progress.done()


def _with_search_texts(row: dict, numbers: list[str], contacts: list[dict]) -> None:
    """The search texts the services would store for this card and its contacts (deals.search)."""
    card = SimpleNamespace(**{name: row.get(name, "") for name in CLIENT_SEARCH_FIELDS})
    people = [SimpleNamespace(**{"position": "", **contact}) for contact in contacts]
    row["search_text"] = client_search_text(card, phones=numbers, contacts=people)
    for contact, person in zip(contacts, people, strict=True):
        contact["search_text"] = contact_search_text(person)


class _Writer:
    """Batched inserts for one model that return the new ids: PostgreSQL's ``COPY`` with ids drawn
    from the table's sequence, elsewhere a multi-row ``INSERT … RETURNING id`` (what ``bulk_create``
    sends, without its per-value overhead). Rows name fields by attname; a missing field takes the
    field's default."""

    def __init__(self, model: type[models.Model]):
        fields = [field for field in model._meta.concrete_fields if not field.primary_key]
        self.model = model
        self.names = frozenset(field.attname for field in fields)
        self.copy = connection.vendor == "postgresql"
        quote = connection.ops.quote_name
        table, pk = quote(model._meta.db_table), model._meta.pk.column
        column_list = ", ".join(quote(field.column) for field in fields)
        if self.copy:
            self.columns = [(field.attname, field.get_default(), _copy_format(field)) for field in fields]
            self.sql = f"COPY {table} ({quote(pk)}, {column_list}) FROM STDIN"
            self.sequence = f"SELECT pg_get_serial_sequence('{model._meta.db_table}', '{pk}')"
            self.batch = BATCH_SIZE * 4
        else:
            self.columns = [(field.attname, field.get_default(), _adapter(field)) for field in fields]
            self.sql = f"INSERT INTO {table} ({column_list}) VALUES "
            self.placeholder = "(" + ", ".join(["%s"] * len(fields)) + ")"
            self.returning = f" RETURNING {quote(pk)}"
            limit = connection.features.max_query_params or BATCH_SIZE * len(fields)
            self.batch = max(1, min(BATCH_SIZE, limit // len(fields)))

    def insert(self, rows: list[dict]) -> list[int]:
        ids: list[int] = []
        with connection.cursor() as cursor:
            if self.copy:
                cursor.execute(self.sequence)
                self.sequence_name = cursor.fetchone()[0]
            for start in range(0, len(rows), self.batch):
                chunk = rows[start : start + self.batch]
                for row in chunk:
                    if not row.keys() <= self.names:
                        raise TypeError(
                            f"{self.model.__name__}: unknown fields {sorted(row.keys() - self.names)}"
                        )
                ids.extend(self._copy(cursor, chunk) if self.copy else self._insert(cursor, chunk))
        return ids

    def _insert(self, cursor, rows: list[dict]) -> list[int]:
        params: list = []
        for row in rows:
            for name, default, adapt in self.columns:
                value = row.get(name, default)
                params.append(value if adapt is None or value is None else adapt(value))
        cursor.execute(self.sql + ", ".join([self.placeholder] * len(rows)) + self.returning, params)
        return [row[0] for row in cursor.fetchall()]

    def _copy(self, cursor, rows: list[dict]) -> list[int]:
        cursor.execute("SELECT nextval(%s) FROM generate_series(1, %s)", [self.sequence_name, len(rows)])
        ids = [row[0] for row in cursor.fetchall()]
        lines = []
        for pk, row in zip(ids, rows, strict=True):
            values = [str(pk)]
            for name, default, text in self.columns:
                value = row.get(name, default)
                values.append("\\N" if value is None else text(value))
            lines.append("\t".join(values))
        data = io.StringIO("\n".join(lines) + "\n")
        raw = cursor.cursor
        if hasattr(raw, "copy_expert"):  # psycopg2
            raw.copy_expert(self.sql, data)
        else:  # psycopg 3
            with raw.copy(self.sql) as copy:
                copy.write(data.getvalue())
        return ids


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(value: str) -> str:
    text = str(value)
    return text if text.isprintable() and "\\" not in text else text.translate(_COPY_ESCAPES)


def _copy_format(field: models.Field):
    """How ``COPY``'s text format spells a value of this field."""
    kind = field.get_internal_type()
    if kind == "BooleanField":
        return lambda value: "t" if value else "f"
    if kind == "JSONField":
        return lambda value: _copy_text(json.dumps(value, cls=field.encoder, ensure_ascii=False))
    if kind == "DateTimeField":
        return datetime.isoformat
    if kind in ("CharField", "TextField", "EmailField", "SlugField", "URLField", "FileField"):
        return _copy_text
    return str


def _adapter(field: models.Field):
    ops = connection.ops
    kind = field.get_internal_type()
    if kind == "JSONField":
        return partial(field.get_db_prep_value, connection=connection)
    if kind == "DateTimeField":
        return ops.adapt_datetimefield_value
    if kind == "DateField":
        return ops.adapt_datefield_value
    if kind == "DecimalField":
        return partial(
            ops.adapt_decimalfield_value, max_digits=field.max_digits, decimal_places=field.decimal_places
        )
    return None


def _chunks(items: list, size: int) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _split(total: int, count: int, rng: Random) -> list[int]:
    """``total`` kopecks in ``count`` positive parts, cut at whole rubles where the sum allows."""
    if count <= 1:
        return [total]
    count = min(count, total)
    if total // 100 > count:
        cuts = [cut * 100 for cut in rng.sample(range(1, total // 100), count - 1)]
    else:
        cuts = rng.sample(range(1, total), count - 1)
    bounds = [0, *sorted(cuts), total]
    return [high - low for low, high in pairwise(bounds)]


def generate(
    *,
    sizes: Sizes = DEFAULT_SIZES,
    months: int = DEFAULT_MONTHS,
    seed: int = DEFAULT_SEED,
    password: str = DEFAULT_PASSWORD,
    now: datetime | None = None,
    progress: Progress | None = None,
    open_share: float = OPEN_SHARE,
    busy_open_deals: int = BUSY_OPEN_DEALS,
) -> dict[str, int]:
    """Adds the generated history; returns how many rows of each kind were created. The caller holds
    the transaction."""
    if connection.vendor != "postgresql" and not connection.features.can_return_rows_from_bulk_insert:
        raise GeneratorError("Bulk generation needs PostgreSQL or SQLite 3.35+ (INSERT … RETURNING).")
    generator = _Generator(
        sizes=sizes,
        months=months,
        seed=seed,
        password=password,
        now=now or timezone.now(),
        progress=progress or _Silent(),
        open_share=open_share,
        busy_open_deals=busy_open_deals,
    )
    return generator.run()
