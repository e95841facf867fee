"""A statement as people read it: the page, its printable form, the PDF, the e-mail and the spreadsheets
all show the same thing, built here once.

Lines are grouped into sections (percent of payments, plan bonus, fixed part, department bonus, expenses,
adjustments), each with its subtotal; a payment's line carries the deal, the client, the payment's date and
its bank document. The heading names the month in the case the phrase needs and needs no genitive of the
hunter's name («Расчётный лист за январь 2027», «Расчётный лист: Андрей Виноградов — утверждён»), and a
paid statement's total reads «Выплачено».
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from atlanset_portal.wording import ACCUSATIVE, month_year
from deals.models import Deal, Payment

from .engine import Line, LineKind
from .models import Statement
from .statements import MonthStatement

ZERO = Decimal("0")

# Sections in the order the statement reads: what was earned on payments first, as the engine orders lines.
SECTIONS: tuple[tuple[LineKind, object], ...] = (
    (LineKind.COMMISSION, gettext_lazy("Процент с оплат")),
    (LineKind.PLAN_BONUS, gettext_lazy("Доп. процент с маржи")),
    (LineKind.FIXED, gettext_lazy("Фиксированная часть")),
    (LineKind.DEPARTMENT_BONUS, gettext_lazy("Премия отдела")),
    (LineKind.EXPENSE, gettext_lazy("Возмещение расходов")),
    (LineKind.ADJUSTMENT, gettext_lazy("Корректировки")),
)
SECTION_LABELS = dict(SECTIONS)

# How the heading says the status after a dash: «Расчётный лист: Андрей Виноградов — утверждён».
STATUS_WORDS = {
    Statement.Status.DRAFT: gettext_lazy("черновик"),
    Statement.Status.APPROVED: gettext_lazy("утверждён"),
    Statement.Status.LOCKED: gettext_lazy("закрыт"),
    Statement.Status.PAID: gettext_lazy("выплачен"),
}


def status_label(status: str) -> str:
    """The status as the list and the spreadsheets name it: «Утверждён руководителем», never ``approved``."""
    return str(dict(Statement.Status.choices).get(status, Statement.Status.DRAFT.label))


@dataclass(frozen=True)
class SheetLine:
    line: Line
    deal: Deal | None  # with its client
    payment: Payment | None  # the payment or refund behind a line on payments

    @property
    def client_name(self) -> str:
        return self.deal.client.name if self.deal is not None else ""

    @property
    def deal_label(self) -> str:
        return str(self.deal) if self.deal is not None else ""

    @property
    def payment_date(self) -> date | None:
        return self.payment.received_on if self.payment is not None else None

    @property
    def payment_date_text(self) -> str:
        """«05.11.2026»: a statement shows it twice per line (phone and desktop), hundreds of lines."""
        return f"{self.payment.received_on:%d.%m.%Y}" if self.payment is not None else ""

    @property
    def document(self) -> str:
        return self.payment.bank_document if self.payment is not None else ""

    # What the line itself says.
    kind = property(lambda self: self.line.kind)
    amount = property(lambda self: self.line.amount)
    base = property(lambda self: self.line.base)
    rate = property(lambda self: self.line.rate)
    explanation = property(lambda self: self.line.explanation)
    accelerated = property(lambda self: self.line.accelerated)
    late = property(lambda self: self.line.late)


@dataclass(frozen=True)
class SheetSection:
    kind: LineKind
    label: str
    lines: list[SheetLine]

    @property
    def subtotal(self) -> Decimal:
        return sum((line.amount for line in self.lines), ZERO)


@dataclass(frozen=True)
class StatementSheet:
    statement: MonthStatement
    sections: list[SheetSection]

    @property
    def hunter(self):
        return self.statement.hunter

    @property
    def month(self) -> date:
        return self.statement.month

    @property
    def status(self) -> str:
        return self.statement.status

    @property
    def total(self) -> Decimal:
        return self.statement.total

    @property
    def is_paid(self) -> bool:
        return self.status == Statement.Status.PAID

    @property
    def title(self) -> str:
        """«Расчётный лист за январь 2027»."""
        return _("Расчётный лист за %(month)s") % {"month": month_year(self.month, ACCUSATIVE)}

    @property
    def heading(self) -> str:
        """«Расчётный лист: Андрей Виноградов — утверждён»."""
        return _("Расчётный лист: %(hunter)s — %(status)s") % {
            "hunter": self.hunter.get_full_name(),
            "status": STATUS_WORDS.get(self.status, STATUS_WORDS[Statement.Status.DRAFT]),
        }

    @property
    def status_label(self) -> str:
        return status_label(self.status)

    @property
    def total_label(self) -> str:
        """What the total is: paid out once the accountant marked it, to be paid before."""
        return _("Выплачено") if self.is_paid else _("Итого к выплате")

    @property
    def lines(self) -> list[SheetLine]:
        return [line for section in self.sections for line in section.lines]


def statement_sheets(statements: Iterable[MonthStatement]) -> list[StatementSheet]:
    """The statements as sheets, their deals, clients and payments read in two queries for all of them."""
    statements = list(statements)
    lines = [line for statement in statements for line in statement.lines]
    deal_ids = {line.deal_key for line in lines if line.deal_key}
    payment_ids = {
        line.source_id for line in lines if line.kind == LineKind.COMMISSION and line.source_id is not None
    }
    deals = Deal.objects.select_related("client").in_bulk(deal_ids) if deal_ids else {}
    payments = Payment.objects.in_bulk(payment_ids) if payment_ids else {}
    sheets = []
    for statement in statements:
        by_kind: dict[LineKind, list[SheetLine]] = {kind: [] for kind, _label in SECTIONS}
        for line in statement.lines:
            payment = payments.get(line.source_id) if line.kind == LineKind.COMMISSION else None
            by_kind[LineKind(line.kind)].append(
                SheetLine(line=line, deal=deals.get(line.deal_key), payment=payment)
            )
        sections = [
            SheetSection(kind=kind, label=str(label), lines=by_kind[kind])
            for kind, label in SECTIONS
            if by_kind[kind]
        ]
        sheets.append(StatementSheet(statement=statement, sections=sections))
    return sheets


def statement_sheet(statement: MonthStatement) -> StatementSheet:
    return statement_sheets([statement])[0]
