"""The nine stages of a deal and their exit criteria, stated once (SPEC §3).

The board, the deal page, ``deal_move``, the scenario import and the regulation pages all read the
stages from here. A criterion is a predicate over :class:`DealFacts`, a snapshot of what is recorded
on a deal that ``deals.selectors.deal_facts`` loads in a fixed number of queries; the predicates are
pure, so each one is unit-tested without a database.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.db import models
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


class Stage(models.TextChoices):
    LEAD = "lead", _("Выборка потенциальных клиентов")
    CALL = "call", _("Звонок")
    PROPOSAL = "proposal", _("Отправка КП")
    SAMPLES = "samples", _("Передача пробников")
    FOLLOW_UP = "follow_up", _("Дожим")
    DEAL = "deal", _("Сделка")
    SHIPMENT = "shipment", _("Контроль отгрузки")
    PAYMENT = "payment", _("Получение оплаты")
    CLOSED = "closed", _("Закрытие сделки")


class DealStatus(models.TextChoices):
    OPEN = "open", _("В работе")
    WON = "won", _("Успешно закрыта")
    LOST = "lost", _("Отказ")


class CallOutcome(models.TextChoices):
    AGREED_SAMPLES = "agreed_samples", _("Согласен получить пробники")
    AGREED_PROPOSAL = "agreed_proposal", _("Согласен получить КП")
    CALL_BACK = "call_back", _("Просит перезвонить")
    NOT_REACHED = "not_reached", _("Не дозвонился")
    REFUSED = "refused", _("Отказ")


AGREED_CALL_OUTCOMES = frozenset({CallOutcome.AGREED_SAMPLES, CallOutcome.AGREED_PROPOSAL})
UNSUCCESSFUL_CALL_OUTCOMES = frozenset({CallOutcome.NOT_REACHED})
# SPEC §3: five unsuccessful contact attempts on different days in stage 2 mark the deal lost.
NO_CONTACT_ATTEMPTS_LIMIT = 5


@dataclass(frozen=True)
class CallFacts:
    outcome: str
    call_description: str
    client_description: str
    decision_maker_email: str


@dataclass(frozen=True)
class ProposalFacts:
    has_file_or_template: bool
    sent_to_email: str
    sent_at: object | None
    callback_on: date | None


@dataclass(frozen=True)
class SampleRequestFacts:
    line_count: int
    receiver_name: str
    receiver_phone: str
    potential_volume: str
    delivered: bool


@dataclass(frozen=True)
class ShipmentFacts:
    receiver_name: str
    receiver_phone: str
    delivery_address: str
    courier_date: date | None
    received: bool


@dataclass(frozen=True)
class DealFacts:
    """What the exit criteria look at; built by ``deals.selectors.deal_facts``."""

    client_name: str = ""
    client_address: str = ""
    client_phone_count: int = 0
    client_requisites_complete: bool = False
    best_call: CallFacts | None = None
    proposal: ProposalFacts | None = None
    next_contact_on: date | None = None
    sample_request: SampleRequestFacts | None = None
    client_confirmed_purchase: bool = False
    order_line_count: int = 0
    order_total: Decimal = Decimal("0")
    order_approved: bool = False
    invoice_uploaded: bool = False
    shipment: ShipmentFacts | None = None
    paid_total: Decimal = Decimal("0")
    feedback_recorded: bool = False
    missing_requisites: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Criterion:
    code: str
    label: Promise
    holds: Callable[[DealFacts], bool]


@dataclass(frozen=True)
class StageDefinition:
    stage: Stage
    number: int
    last_action: Promise
    criteria: tuple[Criterion, ...]
    # Days a deal may rest in the stage before it is reported idle (STAGE_IDLE_DAYS may override).
    idle_limit_days: int

    @property
    def label(self) -> str:
        return self.stage.label

    def __reduce__(self):
        # Pickled by name (stored dashboard figures hold stage rows): the criteria are functions.
        return (definition, (self.stage.value,))

    @property
    def regulation_slug(self) -> str:
        return f"stage-{self.stage.value}"


def _call(facts: DealFacts) -> CallFacts | None:
    return facts.best_call


def _proposal(facts: DealFacts) -> ProposalFacts | None:
    return facts.proposal


def _samples(facts: DealFacts) -> SampleRequestFacts | None:
    return facts.sample_request


def _shipment(facts: DealFacts) -> ShipmentFacts | None:
    return facts.shipment


STAGES: tuple[StageDefinition, ...] = (
    StageDefinition(
        Stage.LEAD,
        1,
        _("Карточка клиента заполнена: название, адрес и телефон"),
        (
            Criterion(
                "client_name", _("в карточке клиента указано название"), lambda f: bool(f.client_name.strip())
            ),
            Criterion(
                "client_address",
                _("в карточке клиента указан адрес"),
                lambda f: bool(f.client_address.strip()),
            ),
            Criterion(
                "client_phone",
                _("в карточке клиента есть хотя бы один телефон"),
                lambda f: f.client_phone_count > 0,
            ),
        ),
        idle_limit_days=7,
    ),
    StageDefinition(
        Stage.CALL,
        2,
        _("Звонок проведён: клиент согласился получить пробники или КП"),
        (
            Criterion("call_logged", _("звонок записан с результатом"), lambda f: _call(f) is not None),
            Criterion(
                "call_description",
                _("есть описание звонка"),
                lambda f: _call(f) is not None and bool(_call(f).call_description.strip()),
            ),
            Criterion(
                "client_description",
                _("есть описание клиента"),
                lambda f: _call(f) is not None and bool(_call(f).client_description.strip()),
            ),
            Criterion(
                "decision_maker_email",
                _("указана рабочая почта ЛПР"),
                lambda f: _call(f) is not None and bool(_call(f).decision_maker_email.strip()),
            ),
            Criterion(
                "call_agreed",
                _("результат звонка — согласие на пробники или КП"),
                lambda f: _call(f) is not None and _call(f).outcome in AGREED_CALL_OUTCOMES,
            ),
        ),
        idle_limit_days=3,
    ),
    StageDefinition(
        Stage.PROPOSAL,
        3,
        _("КП отправлено и назначена дата обратного звонка"),
        (
            Criterion(
                "proposal_sent",
                _("КП записано как отправленное: файл или шаблон, на какую почту, когда"),
                lambda f: (
                    _proposal(f) is not None
                    and _proposal(f).has_file_or_template
                    and bool(_proposal(f).sent_to_email)
                    and _proposal(f).sent_at is not None
                ),
            ),
            Criterion(
                "callback_date",
                _("назначена дата обратного звонка"),
                lambda f: (
                    (_proposal(f) is not None and _proposal(f).callback_on is not None)
                    or f.next_contact_on is not None
                ),
            ),
        ),
        idle_limit_days=5,
    ),
    StageDefinition(
        Stage.SAMPLES,
        4,
        _("Пробники переданы клиенту"),
        (
            Criterion(
                "sample_request",
                _("есть заявка на пробники в производство с товарами и количеством"),
                lambda f: _samples(f) is not None and _samples(f).line_count > 0,
            ),
            Criterion(
                "sample_receiver_name",
                _("в заявке указано имя получателя"),
                lambda f: _samples(f) is not None and bool(_samples(f).receiver_name.strip()),
            ),
            Criterion(
                "sample_receiver_phone",
                _("в заявке указан телефон получателя"),
                lambda f: _samples(f) is not None and bool(_samples(f).receiver_phone.strip()),
            ),
            Criterion(
                "sample_potential_volume",
                _("в заявке указан потенциальный оптовый объём"),
                lambda f: _samples(f) is not None and bool(_samples(f).potential_volume.strip()),
            ),
            Criterion(
                "samples_delivered",
                _("передача пробников подтверждена"),
                lambda f: _samples(f) is not None and _samples(f).delivered,
            ),
        ),
        idle_limit_days=7,
    ),
    StageDefinition(
        Stage.FOLLOW_UP,
        5,
        _("Клиент подтвердил желание купить"),
        (
            Criterion(
                "client_confirmed",
                _("клиент подтвердил желание купить"),
                lambda f: f.client_confirmed_purchase,
            ),
        ),
        idle_limit_days=10,
    ),
    StageDefinition(
        Stage.DEAL,
        6,
        _("Заказ согласован производством, счёт выставлен"),
        (
            Criterion("order_lines", _("есть заказ с позициями"), lambda f: f.order_line_count > 0),
            Criterion(
                "requisites", _("карточка предприятия заполнена"), lambda f: f.client_requisites_complete
            ),
            Criterion("order_approved", _("производство согласовало заказ"), lambda f: f.order_approved),
            Criterion("invoice", _("бухгалтерия загрузила счёт"), lambda f: f.invoice_uploaded),
        ),
        idle_limit_days=5,
    ),
    StageDefinition(
        Stage.SHIPMENT,
        7,
        _("Клиент подтвердил получение товара"),
        (
            Criterion(
                "shipment_receiver",
                _("в отгрузке указаны получатель и его телефон"),
                lambda f: (
                    _shipment(f) is not None
                    and bool(_shipment(f).receiver_name.strip())
                    and bool(_shipment(f).receiver_phone.strip())
                ),
            ),
            Criterion(
                "shipment_address",
                _("в отгрузке указан адрес доставки"),
                lambda f: _shipment(f) is not None and bool(_shipment(f).delivery_address.strip()),
            ),
            Criterion(
                "shipment_courier_date",
                _("в отгрузке указана дата курьера"),
                lambda f: _shipment(f) is not None and _shipment(f).courier_date is not None,
            ),
            Criterion(
                "goods_received",
                _("клиент подтвердил получение товара"),
                lambda f: _shipment(f) is not None and _shipment(f).received,
            ),
        ),
        idle_limit_days=7,
    ),
    StageDefinition(
        Stage.PAYMENT,
        8,
        _("Оплата поступила в полном объёме"),
        (
            Criterion(
                "paid_in_full",
                _("оплаты, внесённые бухгалтерией, покрывают сумму заказа"),
                lambda f: f.order_total > 0 and f.paid_total >= f.order_total,
            ),
        ),
        idle_limit_days=14,
    ),
    StageDefinition(
        Stage.CLOSED,
        9,
        _("Обратная связь получена, сделка закрыта"),
        (
            Criterion(
                "feedback",
                _("записана обратная связь: претензии к качеству и ожидается ли повторный заказ"),
                lambda f: f.feedback_recorded,
            ),
        ),
        idle_limit_days=7,
    ),
)

BY_STAGE: dict[str, StageDefinition] = {definition.stage.value: definition for definition in STAGES}
ORDER: tuple[str, ...] = tuple(definition.stage.value for definition in STAGES)

# A repeat order for an existing client may start here; the accountant sees deals from here on.
REPEAT_ORDER_START = Stage.DEAL
FINANCE_STAGES: tuple[str, ...] = ORDER[ORDER.index(Stage.DEAL) :]
# Refusal is possible up to shipment control (SPEC §3: stages 1–7).
LOSABLE_STAGES: tuple[str, ...] = ORDER[: ORDER.index(Stage.SHIPMENT) + 1]


def definition(stage: str) -> StageDefinition:
    return BY_STAGE[stage]


def number(stage: str) -> int:
    return BY_STAGE[stage].number


def next_stage(stage: str) -> Stage | None:
    index = ORDER.index(stage)
    return Stage(ORDER[index + 1]) if index + 1 < len(ORDER) else None


def is_before(stage: str, other: str) -> bool:
    return ORDER.index(stage) < ORDER.index(other)


def missing_criteria(stage: str, facts: DealFacts) -> list[Criterion]:
    """The exit criteria of ``stage`` that ``facts`` do not meet, in the order the stage lists them."""
    return [criterion for criterion in BY_STAGE[stage].criteria if not criterion.holds(facts)]


def checklist(stage: str, facts: DealFacts) -> list[tuple[Criterion, bool]]:
    return [(criterion, criterion.holds(facts)) for criterion in BY_STAGE[stage].criteria]
