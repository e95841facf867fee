"""Clients, products and deals with everything their stages record (SPEC §2–§3).

Models hold data and invariants only; every write goes through ``deals.services``.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from accounts.access import can, scope_owned
from accounts.roles import Capability

from .stages import FINANCE_STAGES, CallOutcome, DealStatus, Stage
from .units import Unit, unit_for

MONEY = {"max_digits": 14, "decimal_places": 2}


class ClientSource(models.TextChoices):
    TWO_GIS = "2gis", _("2ГИС")
    YANDEX_MAPS = "yandex_maps", _("Яндекс Карты")
    GOOGLE_MAPS = "google_maps", _("Google Maps")
    INBOUND = "inbound", _("Входящее обращение")
    REFERRAL = "referral", _("Рекомендация")
    OTHER = "other", _("Другое")


class PaymentTerms(models.TextChoices):
    PREPAYMENT = "prepayment", _("Предоплата")
    DEFERRED = "deferred", _("Отсрочка платежа")
    CONSIGNMENT = "consignment", _("Реализация")


class SettlementCadence(models.TextChoices):
    WEEKLY = "weekly", _("Еженедельно")
    MONTHLY = "monthly", _("Ежемесячно")


class ClientQuerySet(models.QuerySet):
    def visible_to(self, user) -> "ClientQuerySet":
        """Fails closed: the head sees all, a hunter own clients, the accountant clients with a deal
        from stage 6 on, everyone else nothing."""
        if can(user, Capability.VIEW_ALL_HUNTERS) or can(user, Capability.WORK_PIPELINE):
            return scope_owned(self, user)
        if can(user, Capability.VIEW_FINANCE_DEALS):
            return self.filter(models.Exists(Deal.objects.in_finance().filter(client=models.OuterRef("pk"))))
        return self.none()


class Client(models.Model):
    name = models.CharField(_("название"), max_length=255)
    address = models.CharField(_("адрес"), max_length=500, blank=True)
    city = models.CharField(_("город"), max_length=100, blank=True)
    email = models.EmailField(_("эл. почта"), blank=True)
    website = models.CharField(_("сайт или страница в соцсети"), max_length=300, blank=True)
    segment = models.CharField(
        _("сегмент"),
        max_length=200,
        blank=True,
        help_text=_("Например: расходные материалы для салонов красоты"),
    )
    source = models.CharField(
        _("источник"), max_length=20, choices=ClientSource.choices, default=ClientSource.OTHER
    )
    decision_maker_name = models.CharField(_("ЛПР: имя"), max_length=200, blank=True)
    decision_maker_email = models.EmailField(_("ЛПР: рабочая почта"), blank=True)
    notes = models.TextField(_("заметки"), blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="clients", verbose_name=_("хантер")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("создал")
    )
    created_at = models.DateTimeField(_("создан"), default=timezone.now)
    # The identifier the card had where it was imported from (a scenario file, the old CRM).
    external_key = models.CharField(_("внешний код"), max_length=100, blank=True, db_index=True)

    # Карточка предприятия: needed from stage 6.
    legal_name = models.CharField(_("полное наименование"), max_length=300, blank=True)
    inn = models.CharField(_("ИНН"), max_length=12, blank=True)
    kpp = models.CharField(_("КПП"), max_length=9, blank=True)
    ogrn = models.CharField(_("ОГРН / ОГРНИП"), max_length=15, blank=True)
    legal_address = models.CharField(_("юридический адрес"), max_length=500, blank=True)
    bank_name = models.CharField(_("банк"), max_length=200, blank=True)
    bik = models.CharField(_("БИК"), max_length=9, blank=True)
    settlement_account = models.CharField(_("расчётный счёт"), max_length=20, blank=True)
    correspondent_account = models.CharField(_("корр. счёт"), max_length=20, blank=True)

    payment_terms = models.CharField(
        _("условия оплаты"), max_length=20, choices=PaymentTerms.choices, default=PaymentTerms.PREPAYMENT
    )
    deferred_days = models.PositiveSmallIntegerField(_("отсрочка, дней"), null=True, blank=True)
    deferred_in_working_days = models.BooleanField(
        _("отсрочка в рабочих днях"),
        default=False,
        help_text=_("Считать дни отсрочки по производственному календарю, без выходных и праздников."),
    )
    deferred_limit = models.DecimalField(_("лимит отсрочки, ₽"), null=True, blank=True, **MONEY)
    consignment_cadence = models.CharField(
        _("расчёты по реализации"), max_length=10, choices=SettlementCadence.choices, blank=True
    )

    # The card, its phones and contacts as the search reads them (deals.search); kept by the services.
    search_text = models.TextField(_("текст для поиска"), blank=True, default="", editable=False)

    objects = ClientQuerySet.as_manager()

    # Card and payment-terms changes, for the head's audit history (the search text is derived: not kept).
    history = HistoricalRecords(excluded_fields=["search_text"])

    class Meta:
        verbose_name = _("клиент")
        verbose_name_plural = _("клиенты")
        ordering = ["name", "pk"]
        indexes = [
            models.Index(fields=["owner", "name"]),
            models.Index(fields=["name", "id"]),
            models.Index(fields=["owner", "created_at"]),
            models.Index(fields=["inn"]),
            # The overdue deferred payments (the dashboard, the accountant's pages) start from the clients
            # on deferred payment, a few in a hundred: read from here, not by scanning every client.
            models.Index(
                fields=["id"], condition=Q(payment_terms=PaymentTerms.DEFERRED), name="deals_client_deferred"
            ),
        ]
        constraints = [
            # Branches share an ИНН and differ by КПП; an entrepreneur has a 12-digit ИНН and no КПП.
            models.UniqueConstraint(
                fields=["inn", "kpp"],
                condition=~Q(inn=""),
                name="deals_client_unique_inn_kpp",
                violation_error_message=_("Клиент с такими ИНН и КПП уже есть."),
            ),
            models.CheckConstraint(
                condition=~Q(payment_terms=PaymentTerms.DEFERRED)
                | (Q(deferred_days__isnull=False) & Q(deferred_limit__isnull=False)),
                name="deals_client_deferred_terms_complete",
                violation_error_message=_("Для отсрочки укажите число дней и лимит."),
            ),
            models.CheckConstraint(
                condition=~Q(payment_terms=PaymentTerms.CONSIGNMENT) | ~Q(consignment_cadence=""),
                name="deals_client_consignment_cadence_set",
                violation_error_message=_("Для реализации укажите, как часто проводятся расчёты."),
            ),
            models.CheckConstraint(
                condition=Q(deferred_limit__isnull=True) | Q(deferred_limit__gte=0),
                name="deals_client_deferred_limit_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def missing_requisites(self) -> list[str]:
        """Names of the requisites card's empty fields (КПП only for a legal entity)."""
        required = ["legal_name", "inn", "ogrn", "legal_address", "bik", "settlement_account"]
        if len(self.inn) != 12:
            required.insert(2, "kpp")
        return [str(self._meta.get_field(name).verbose_name) for name in required if not getattr(self, name)]


class PaymentTermsRequest(models.Model):
    """A hunter's request for a client's payment terms, with the reason; the sales head approves it (the
    terms are then set by the same service as a direct change) or declines it with a reason (SPEC §5:
    terms other than prepayment are set by the head or the accountant)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Ждёт решения")
        APPROVED = "approved", _("Одобрен")
        DECLINED = "declined", _("Отклонён")

    client = models.ForeignKey(
        Client, on_delete=models.CASCADE, related_name="terms_requests", verbose_name=_("клиент")
    )
    payment_terms = models.CharField(_("условия оплаты"), max_length=20, choices=PaymentTerms.choices)
    deferred_days = models.PositiveSmallIntegerField(_("отсрочка, дней"), null=True, blank=True)
    deferred_in_working_days = models.BooleanField(_("отсрочка в рабочих днях"), default=False)
    deferred_limit = models.DecimalField(_("лимит отсрочки, ₽"), null=True, blank=True, **MONEY)
    consignment_cadence = models.CharField(
        _("расчёты по реализации"), max_length=10, choices=SettlementCadence.choices, blank=True
    )
    comment = models.TextField(_("обоснование"))
    status = models.CharField(_("статус"), max_length=10, choices=Status.choices, default=Status.PENDING)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("запросил")
    )
    requested_at = models.DateTimeField(_("запрошено"), default=timezone.now)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("решение принял"),
    )
    decided_at = models.DateTimeField(_("решение принято"), null=True, blank=True)
    decision_comment = models.TextField(_("комментарий к решению"), blank=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("запрос условий оплаты")
        verbose_name_plural = _("запросы условий оплаты")
        ordering = ["-requested_at", "-pk"]
        indexes = [models.Index(fields=["status", "requested_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["client"], condition=Q(status="pending"), name="deals_termsrequest_one_pending"
            ),
            models.CheckConstraint(
                condition=~Q(payment_terms=PaymentTerms.DEFERRED)
                | (Q(deferred_days__isnull=False) & Q(deferred_limit__isnull=False)),
                name="deals_termsrequest_deferred_complete",
            ),
            models.CheckConstraint(
                condition=~Q(payment_terms=PaymentTerms.CONSIGNMENT) | ~Q(consignment_cadence=""),
                name="deals_termsrequest_consignment_cadence_set",
            ),
            models.CheckConstraint(
                condition=Q(deferred_limit__isnull=True) | Q(deferred_limit__gte=0),
                name="deals_termsrequest_limit_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(status="pending") | Q(decided_at__isnull=False),
                name="deals_termsrequest_decision_dated",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.client}: {self.get_payment_terms_display()} ({self.get_status_display()})"


class ClientPhone(models.Model):
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="phones")
    number = models.CharField(_("телефон"), max_length=16, help_text=_("В формате E.164: +79123456789"))
    # Dialled after the number connects («доб. 123»); the number alone is what identifies the line, so a
    # number is in the base once whatever its extension (SPEC §2 duplicates).
    extension = models.CharField(_("добавочный"), max_length=6, blank=True, default="")

    class Meta:
        verbose_name = _("телефон клиента")
        verbose_name_plural = _("телефоны клиентов")
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["number"],
                name="deals_clientphone_unique_number",
                violation_error_message=_("Этот телефон уже есть в базе."),
            )
        ]

    def __str__(self) -> str:
        return self.number


class Contact(models.Model):
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(_("имя"), max_length=200)
    position = models.CharField(_("должность"), max_length=200, blank=True)
    phone = models.CharField(_("телефон"), max_length=16, blank=True)
    phone_extension = models.CharField(_("добавочный"), max_length=6, blank=True, default="")
    email = models.EmailField(_("эл. почта"), blank=True)
    birthday = models.DateField(_("день рождения"), null=True, blank=True)
    # Name, position, e-mail and phone as the header search reads them (deals.search).
    search_text = models.TextField(_("текст для поиска"), blank=True, default="", editable=False)

    class Meta:
        verbose_name = _("контакт")
        verbose_name_plural = _("контакты")
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return self.name


class ClientHoliday(models.Model):
    """A date the client celebrates (company birthday, professional holiday), for greetings."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="holidays")
    name = models.CharField(_("праздник"), max_length=200)
    month = models.PositiveSmallIntegerField(_("месяц"))
    day = models.PositiveSmallIntegerField(_("день"))

    class Meta:
        verbose_name = _("праздник клиента")
        verbose_name_plural = _("праздники клиентов")
        ordering = ["month", "day"]
        constraints = [
            models.CheckConstraint(
                condition=Q(month__gte=1, month__lte=12, day__gte=1, day__lte=31),
                name="deals_holiday_valid_date",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.day:02d}.{self.month:02d})"


class Product(models.Model):
    name = models.CharField(_("название"), max_length=200, unique=True)
    # One of a list, so that each unit is declined by the translation catalogues (deals/units.py); a unit
    # typed before the list existed stays as it was until the product is edited.
    unit = models.CharField(_("единица"), max_length=20, choices=Unit.choices, default=Unit.PIECE)
    list_price = models.DecimalField(_("цена по прайсу, ₽"), **MONEY)
    cost = models.DecimalField(_("себестоимость, ₽"), **MONEY)
    is_active = models.BooleanField(_("в продаже"), default=True)

    class Meta:
        verbose_name = _("товар")
        verbose_name_plural = _("товары")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(list_price__gte=0) & Q(cost__gte=0), name="deals_product_prices_not_negative"
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def margin(self) -> Decimal:
        return self.list_price - self.cost

    def unit_for(self, quantity: Decimal | int) -> str:
        """The unit as it follows ``quantity``: «канистр» for 10."""
        return unit_for(self.unit, quantity)


class LostReason(models.Model):
    """The editable list of refusal reasons; ``code`` marks the ones the portal itself uses."""

    NO_CONTACT = "no_contact"
    # A client lost over the product itself: the sales head is told (SPEC §3, negative feedback).
    PRODUCT_COMPLAINT = "product_complaint"

    name = models.CharField(_("причина"), max_length=200, unique=True)
    code = models.SlugField(_("код"), max_length=50, blank=True)
    requires_note = models.BooleanField(_("нужен комментарий"), default=False)
    is_active = models.BooleanField(_("используется"), default=True)
    position = models.PositiveSmallIntegerField(_("порядок"), default=0)

    class Meta:
        verbose_name = _("причина отказа")
        verbose_name_plural = _("причины отказа")
        ordering = ["position", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["code"], condition=~Q(code=""), name="deals_lostreason_unique_code"
            )
        ]

    def __str__(self) -> str:
        return self.name


class DealQuerySet(models.QuerySet):
    def visible_to(self, user) -> "DealQuerySet":
        """Fails closed: the head sees all, a hunter own deals, the accountant deals from stage 6 on."""
        if can(user, Capability.VIEW_ALL_HUNTERS) or can(user, Capability.WORK_PIPELINE):
            return scope_owned(self, user)
        if can(user, Capability.VIEW_FINANCE_DEALS):
            return self.in_finance()
        return self.none()

    def in_finance(self) -> "DealQuerySet":
        """What the accountant works: deals from stage 6 on, and any deal with a payment or an invoice
        whatever its stage, so money is never hidden by a move back."""
        return self.filter(
            Q(stage__in=FINANCE_STAGES)
            | models.Exists(Payment.objects.filter(deal=models.OuterRef("pk")))
            | models.Exists(
                DealDocument.objects.filter(deal=models.OuterRef("pk"), kind=DealDocument.Kind.INVOICE)
            )
        )

    def open(self) -> "DealQuerySet":
        return self.filter(status=DealStatus.OPEN)

    def contact_overdue(self, today) -> "DealQuerySet":
        """Open deals whose next contact was due before ``today`` (the dashboard's «просрочено»)."""
        return self.filter(status=DealStatus.OPEN, next_contact_on__lt=today)


class Deal(models.Model):
    client = models.ForeignKey(
        Client, on_delete=models.PROTECT, related_name="deals", verbose_name=_("клиент")
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="deals", verbose_name=_("хантер")
    )
    title = models.CharField(_("название сделки"), max_length=200, blank=True)
    stage = models.CharField(_("этап"), max_length=20, choices=Stage.choices, default=Stage.LEAD)
    status = models.CharField(_("статус"), max_length=10, choices=DealStatus.choices, default=DealStatus.OPEN)
    # SPEC §2: fixed when the deal is created; it decides the commission rate.
    is_new_client = models.BooleanField(_("новый клиент"), editable=False)
    next_contact_on = models.DateField(_("следующий контакт"), null=True, blank=True)
    lost_reason = models.ForeignKey(
        LostReason, on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("причина отказа")
    )
    lost_note = models.TextField(_("комментарий к отказу"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("создал")
    )
    created_at = models.DateTimeField(_("создана"), default=timezone.now)
    stage_entered_at = models.DateTimeField(_("на этапе с"), default=timezone.now)
    closed_at = models.DateTimeField(_("закрыта"), null=True, blank=True)
    # The receipt date of the payment that covered the order total (a "completed deal", SPEC §4) and
    # the hunter that payment is credited to, whose plan counts the deal; kept by the payment services.
    paid_in_full_on = models.DateField(_("оплачена полностью"), null=True, blank=True, editable=False)
    completed_for = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
        verbose_name=_("завершённая сделка засчитана"),
    )
    # The month the completion counts in: the covering payment's accrual month (a payment recorded after
    # its month was locked completes the deal in the first open month, as it counts there as revenue).
    completed_in = models.DateField(_("завершена в месяце"), null=True, blank=True, editable=False)
    external_key = models.CharField(_("внешний код"), max_length=100, blank=True, db_index=True)

    objects = DealQuerySet.as_manager()

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("сделка")
        verbose_name_plural = _("сделки")
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["owner", "status", "stage"]),
            models.Index(fields=["status", "stage"]),
            # The deal list, newest first, paged by cursor: all deals (the head) and a hunter's own.
            models.Index(fields=["-created_at", "-id"], name="deals_deal_newest"),
            models.Index(fields=["owner", "-created_at", "-id"], name="deals_deal_owner_newest"),
            models.Index(fields=["owner", "next_contact_on"]),
            models.Index(fields=["owner", "paid_in_full_on"]),
            models.Index(fields=["completed_for", "completed_in"]),
            # The open deals whose next contact is overdue, by hunter (the dashboard): read from the index.
            models.Index(
                fields=["next_contact_on", "owner"],
                condition=Q(status=DealStatus.OPEN),
                name="deals_deal_open_next_contact",
            ),
            # A deferred client's open unpaid deals (the overdue deferred payments): found by client among
            # the open deals, not by reading every open deal; the deal's key is in the index, so the rows
            # are not read.
            models.Index(
                fields=["client", "id"],
                condition=Q(status=DealStatus.OPEN, paid_in_full_on__isnull=True),
                name="deals_deal_open_unpaid_client",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status=DealStatus.LOST, lost_reason__isnull=False)
                | (~Q(status=DealStatus.LOST) & Q(lost_reason__isnull=True)),
                name="deals_deal_lost_has_reason",
            ),
            models.CheckConstraint(
                condition=~Q(status=DealStatus.WON) | Q(stage=Stage.CLOSED), name="deals_deal_won_at_closing"
            ),
        ]

    def __str__(self) -> str:
        return self.title or _("Сделка №%(number)s") % {"number": self.pk}

    @property
    def is_open(self) -> bool:
        return self.status == DealStatus.OPEN


class StageChange(models.Model):
    """The stage history: every move, refusal, restoration and closing (drives cycle-time analytics)."""

    class Kind(models.TextChoices):
        CREATED = "created", _("Создана")
        FORWARD = "forward", _("Вперёд")
        BACK = "back", _("Назад")
        LOST = "lost", _("Отказ")
        RESTORED = "restored", _("Восстановлена")
        WON = "won", _("Закрыта успешно")

    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="stage_changes")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    from_stage = models.CharField(max_length=20, choices=Stage.choices, blank=True)
    to_stage = models.CharField(max_length=20, choices=Stage.choices)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Пусто, если изменение сделал сам портал"),
    )
    at = models.DateTimeField(default=timezone.now)
    comment = models.TextField(blank=True)

    class Meta:
        verbose_name = _("смена этапа")
        verbose_name_plural = _("история этапов")
        ordering = ["at", "pk"]
        indexes = [models.Index(fields=["deal", "at"]), models.Index(fields=["to_stage", "at"])]

    def __str__(self) -> str:
        return f"{self.deal_id}: {self.from_stage or '—'} → {self.to_stage} ({self.kind})"


class CallResult(models.Model):
    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="call_results")
    at = models.DateTimeField(_("когда"), default=timezone.now)
    outcome = models.CharField(_("результат"), max_length=20, choices=CallOutcome.choices)
    call_description = models.TextField(_("описание звонка"), blank=True)
    client_description = models.TextField(_("описание клиента"), blank=True)
    decision_maker_email = models.EmailField(_("рабочая почта ЛПР"), blank=True)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = _("результат звонка")
        verbose_name_plural = _("результаты звонков")
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.get_outcome_display()} ({self.at:%d.%m.%Y})"


def deal_document_path(instance, filename: str) -> str:
    return f"deals/{instance.deal_id}/{timezone.now():%Y%m%d%H%M%S}_{filename}"


class DealDocument(models.Model):
    class Kind(models.TextChoices):
        PROPOSAL = "proposal", _("Коммерческое предложение")
        INVOICE = "invoice", _("Счёт")
        WAYBILL = "waybill", _("Накладная")
        OTHER = "other", _("Другое")

    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="documents")
    kind = models.CharField(_("вид"), max_length=20, choices=Kind.choices)
    # An invoice's number: the bank statement import finds it in the payment purpose.
    number = models.CharField(_("номер документа"), max_length=50, blank=True)
    file = models.FileField(_("файл"), upload_to=deal_document_path)
    original_name = models.CharField(max_length=255)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("документ сделки")
        verbose_name_plural = _("документы сделок")
        ordering = ["uploaded_at", "pk"]

    def __str__(self) -> str:
        return self.original_name


class Proposal(models.Model):
    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="proposals")
    document = models.ForeignKey(
        DealDocument, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    template_name = models.CharField(_("шаблон КП"), max_length=200, blank=True)
    sent_to_email = models.EmailField(_("отправлено на почту"))
    sent_at = models.DateTimeField(_("когда отправлено"))
    callback_on = models.DateField(_("дата обратного звонка"))
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = _("отправленное КП")
        verbose_name_plural = _("отправленные КП")
        ordering = ["sent_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(document__isnull=False) | ~Q(template_name=""),
                name="deals_proposal_file_or_template",
            )
        ]

    def __str__(self) -> str:
        return f"КП → {self.sent_to_email} ({self.sent_at:%d.%m.%Y})"


class SampleRequest(models.Model):
    class Status(models.TextChoices):
        REQUESTED = "requested", _("Запрошены")
        PREPARED = "prepared", _("Подготовлены")
        HANDED_OVER = "handed_over", _("Переданы клиенту")
        DECLINED = "declined", _("Отклонено")

    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="sample_requests")
    receiver_name = models.CharField(_("получатель"), max_length=200)
    receiver_phone = models.CharField(_("телефон получателя"), max_length=16)
    delivery_address = models.CharField(_("адрес доставки"), max_length=500, blank=True)
    potential_volume = models.CharField(_("потенциальный оптовый объём"), max_length=200)
    status = models.CharField(_("статус"), max_length=20, choices=Status.choices, default=Status.REQUESTED)
    # Production's note; a declined request always has one (the reason, deals.services).
    comment = models.TextField(_("комментарий производства"), blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(default=timezone.now)
    status_changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("заявка на пробники")
        verbose_name_plural = _("заявки на пробники")
        ordering = ["requested_at", "pk"]
        indexes = [models.Index(fields=["status", "requested_at"])]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="declined") | ~Q(comment=""),
                name="deals_samplerequest_declined_has_reason",
            )
        ]

    def __str__(self) -> str:
        return f"Пробники по сделке {self.deal_id}: {self.get_status_display()}"


class SampleLine(models.Model):
    request = models.ForeignKey(SampleRequest, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, verbose_name=_("товар"))
    quantity = models.PositiveIntegerField(_("количество"))

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="deals_sampleline_quantity_positive")
        ]

    def __str__(self) -> str:
        return f"{self.product} × {self.quantity}"


class FollowUp(models.Model):
    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="follow_ups")
    at = models.DateTimeField(_("когда"), default=timezone.now)
    outcome = models.TextField(_("итог контакта"))
    objection = models.TextField(_("возражение"), blank=True)
    next_contact_on = models.DateField(_("следующий контакт"), null=True, blank=True)
    client_confirmed = models.BooleanField(_("клиент подтвердил желание купить"), default=False)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = _("контакт дожима")
        verbose_name_plural = _("контакты дожима")
        ordering = ["at", "pk"]
        constraints = [
            # Until the client confirms, every follow-up agrees the next contact date (SPEC §3, stage 5).
            models.CheckConstraint(
                condition=Q(client_confirmed=True) | Q(next_contact_on__isnull=False),
                name="deals_followup_next_date_until_confirmed",
            )
        ]

    def __str__(self) -> str:
        return f"Дожим {self.at:%d.%m.%Y}"


class Order(models.Model):
    """The order in force on a deal: its lines and totals are what pay, the outstanding amount and
    completion read. Before production first approves it, the latest version is written here in place;
    once approved it changes only when production approves a newer version (``OrderVersion``)."""

    class ProductionStatus(models.TextChoices):
        PENDING = "pending", _("Ждёт согласования")
        APPROVED = "approved", _("Согласован")
        DECLINED = "declined", _("Отклонён")

    deal = models.OneToOneField(Deal, on_delete=models.CASCADE, related_name="order")
    # Totals are computed from the lines by the service that writes them, never typed.
    total = models.DecimalField(_("сумма заказа"), default=Decimal("0"), editable=False, **MONEY)
    cost_total = models.DecimalField(_("себестоимость заказа"), default=Decimal("0"), editable=False, **MONEY)
    production_status = models.CharField(
        _("согласование производством"),
        max_length=20,
        choices=ProductionStatus.choices,
        default=ProductionStatus.PENDING,
    )
    production_comment = models.TextField(_("комментарий производства"), blank=True)
    production_decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    production_decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("заказ")
        verbose_name_plural = _("заказы")
        indexes = [models.Index(fields=["production_status", "created_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(total__gte=0) & Q(cost_total__gte=0), name="deals_order_totals_not_negative"
            )
        ]

    def __str__(self) -> str:
        return f"Заказ по сделке {self.deal_id}"

    @property
    def margin(self) -> Decimal:
        return self.total - self.cost_total


class ProductLine(models.Model):
    """What an order line is, in the order in force and in each of its versions alike."""

    product = models.ForeignKey(Product, on_delete=models.PROTECT, verbose_name=_("товар"))
    quantity = models.DecimalField(_("количество"), max_digits=12, decimal_places=3)
    price = models.DecimalField(_("цена, ₽"), **MONEY)
    cost = models.DecimalField(_("себестоимость, ₽"), **MONEY)

    class Meta:
        abstract = True
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gt=0), name="%(app_label)s_%(class)s_quantity_positive"
            ),
            models.CheckConstraint(
                condition=Q(price__gte=0) & Q(cost__gte=0), name="%(app_label)s_%(class)s_prices_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product} × {self.quantity}"


class OrderLine(ProductLine):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")

    class Meta(ProductLine.Meta):
        pass


class OrderVersion(models.Model):
    """One submission of an order's lines, kept forever (SPEC §5: an order production approved does not
    change; a change is a new version approved again).

    Until production first approves the order, each change is a version written into the order in place.
    From then on the order holds the latest approved version (its lines and totals are what pay, the
    outstanding amount and completion read), and a change waits here until production approves it."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Ждёт согласования")
        APPROVED = "approved", _("Согласована")
        DECLINED = "declined", _("Отклонена")
        SUPERSEDED = "superseded", _("Заменена следующей версией")

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField(_("версия"))
    total = models.DecimalField(_("сумма заказа"), editable=False, **MONEY)
    cost_total = models.DecimalField(_("себестоимость заказа"), editable=False, **MONEY)
    status = models.CharField(_("статус"), max_length=20, choices=Status.choices, default=Status.PENDING)
    comment = models.TextField(_("что изменилось"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("автор"),
        help_text=_("Пусто у версий, перенесённых из заказов до учёта версий"),
    )
    created_at = models.DateTimeField(_("создана"), default=timezone.now)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("решение принял"),
    )
    decided_at = models.DateTimeField(_("решение принято"), null=True, blank=True)
    decision_comment = models.TextField(_("комментарий к решению"), blank=True)
    # The sales head's consent to a version that takes the client's unpaid deferred total over its limit.
    limit_approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("превышение лимита согласовал"),
    )
    limit_approved_at = models.DateTimeField(_("превышение лимита согласовано"), null=True, blank=True)
    limit_comment = models.TextField(_("комментарий руководителя"), blank=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("версия заказа")
        verbose_name_plural = _("версии заказов")
        ordering = ["order", "number"]
        indexes = [models.Index(fields=["status", "created_at"])]
        constraints = [
            models.UniqueConstraint(fields=["order", "number"], name="deals_orderversion_unique_number"),
            # One change waits for production at a time: a newer one replaces it.
            models.UniqueConstraint(
                fields=["order"], condition=Q(status="pending"), name="deals_orderversion_one_pending"
            ),
            models.CheckConstraint(
                condition=Q(total__gte=0) & Q(cost_total__gte=0),
                name="deals_orderversion_totals_not_negative",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["approved", "declined"]) | Q(decided_at__isnull=False),
                name="deals_orderversion_decision_dated",
            ),
        ]

    def __str__(self) -> str:
        return f"Заказ по сделке {self.order.deal_id}, версия {self.number}"

    @property
    def margin(self) -> Decimal:
        return self.total - self.cost_total


class OrderVersionLine(ProductLine):
    version = models.ForeignKey(OrderVersion, on_delete=models.CASCADE, related_name="lines")

    class Meta(ProductLine.Meta):
        pass


class Shipment(models.Model):
    deal = models.OneToOneField(Deal, on_delete=models.CASCADE, related_name="shipment")
    receiver_name = models.CharField(_("получатель"), max_length=200)
    receiver_phone = models.CharField(_("телефон получателя"), max_length=16)
    delivery_address = models.CharField(_("адрес доставки"), max_length=500)
    courier_date = models.DateField(_("дата курьера"))
    received_on = models.DateField(_("клиент получил товар"), null=True, blank=True)

    class Meta:
        verbose_name = _("отгрузка")
        verbose_name_plural = _("отгрузки")

    def __str__(self) -> str:
        return f"Отгрузка по сделке {self.deal_id}"


class PaymentQuerySet(models.QuerySet):
    def visible_to(self, user) -> "PaymentQuerySet":
        """Fails closed: the head and the accountant see every payment, a hunter those credited to them
        (their own pay), anyone else none."""
        if any(
            can(user, capability)
            for capability in (
                Capability.VIEW_ALL_HUNTERS,
                Capability.RECORD_PAYMENTS,
                Capability.LOCK_STATEMENTS,
            )
        ):
            return self.all()
        if can(user, Capability.WORK_PIPELINE):
            return self.filter(credited_to=user)
        return self.none()


class Payment(models.Model):
    """Money received on a deal, recorded by the accountant; a refund is a negative payment.

    A payment is a fact with an earner: ``credited_to`` is the deal's hunter when it was recorded, and a
    later transfer of the deal never moves it (SPEC §5, the workflow around the rules)."""

    class Kind(models.TextChoices):
        PAYMENT = "payment", _("Оплата")
        REFUND = "refund", _("Возврат")

    deal = models.ForeignKey(
        Deal, on_delete=models.PROTECT, related_name="payments", verbose_name=_("сделка")
    )
    kind = models.CharField(_("вид"), max_length=10, choices=Kind.choices, default=Kind.PAYMENT)
    amount = models.DecimalField(_("сумма, ₽"), **MONEY)
    received_on = models.DateField(_("дата поступления"))
    bank_document = models.CharField(_("номер платёжного документа"), max_length=50, blank=True)
    credited_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="credited_payments",
        verbose_name=_("засчитана хантеру"),
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("внёс")
    )
    recorded_at = models.DateTimeField(_("внесена"), default=timezone.now)
    # The month whose statement it counts in: its receipt month, or the first open month when that
    # statement was already locked at recording (then ``late``). A refund counts in the month it is
    # recorded in (SPEC §5).
    accrual_month = models.DateField(_("учитывается в месяце"))
    late = models.BooleanField(_("поступила после закрытия месяца"), default=False)
    # The form's one-time key: the same submission sent twice records one payment.
    idempotency_key = models.CharField(max_length=64, blank=True, editable=False)

    objects = PaymentQuerySet.as_manager()

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("оплата")
        verbose_name_plural = _("оплаты")
        ordering = ["received_on", "pk"]
        indexes = [
            models.Index(fields=["received_on"]),
            models.Index(fields=["deal", "received_on"]),
            # The accountant's recorded payments, newest first, paged by cursor.
            models.Index(fields=["-recorded_at", "-id"], name="deals_payment_newest"),
            models.Index(fields=["accrual_month"]),
            models.Index(fields=["credited_to", "accrual_month"]),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="deals_payment_unique_idempotency_key",
            ),
            models.UniqueConstraint(
                fields=["deal", "bank_document"],
                condition=~Q(bank_document=""),
                name="deals_payment_unique_bank_document",
                violation_error_message=_("Оплата с этим платёжным документом по сделке уже внесена."),
            ),
            models.CheckConstraint(
                condition=Q(kind="payment", amount__gt=0) | Q(kind="refund", amount__lt=0),
                name="deals_payment_sign_matches_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount} ₽ ({self.received_on:%d.%m.%Y})"


class Clawback(models.Model):
    """A refund's claim on one hunter's commission (SPEC §5.8): the hunters credited with the deal's
    payments give back commission in proportion to what each earned on it, each in their own first open
    month. The amount is worked out in the statement from the deal's figures."""

    refund = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="clawbacks")
    hunter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="clawbacks", verbose_name=_("хантер")
    )
    accrual_month = models.DateField(_("учитывается в месяце"))
    late = models.BooleanField(_("после закрытия месяца"), default=False)

    class Meta:
        verbose_name = _("удержание комиссии")
        verbose_name_plural = _("удержания комиссии")
        ordering = ["refund", "pk"]
        indexes = [models.Index(fields=["hunter", "accrual_month"])]
        constraints = [
            models.UniqueConstraint(fields=["refund", "hunter"], name="deals_clawback_once_per_hunter")
        ]

    def __str__(self) -> str:
        return f"{self.refund_id} → {self.hunter_id} ({self.accrual_month:%m.%Y})"


class Feedback(models.Model):
    deal = models.OneToOneField(Deal, on_delete=models.CASCADE, related_name="feedback")
    has_quality_claims = models.BooleanField(_("есть претензии к качеству"))
    claims_text = models.TextField(_("претензии"), blank=True)
    repeat_order_expected = models.BooleanField(_("ожидается повторный заказ"))
    comment = models.TextField(_("комментарий"), blank=True)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("обратная связь")
        verbose_name_plural = _("обратная связь")
        # The dashboard's recent quality claims: a few among all the feedback ever given.
        indexes = [
            models.Index(fields=["-at"], condition=Q(has_quality_claims=True), name="deals_feedback_claims")
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(has_quality_claims=False) | ~Q(claims_text=""),
                name="deals_feedback_claims_described",
            )
        ]

    def __str__(self) -> str:
        return f"Обратная связь по сделке {self.deal_id}"


class Transfer(models.Model):
    """A client (with its open deals) or one deal handed to another hunter by the sales head. Money
    already recorded stays with whoever it was credited to; only what comes later follows the deal. A
    temporary transfer (``return_on``) is ended by a return: a transfer back that names it."""

    client = models.ForeignKey(
        Client, on_delete=models.PROTECT, related_name="transfers", verbose_name=_("клиент")
    )
    deal = models.ForeignKey(
        Deal,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="transfers",
        verbose_name=_("сделка"),
    )
    from_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("от кого")
    )
    to_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("кому")
    )
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("кто передал")
    )
    at = models.DateTimeField(_("когда"), default=timezone.now)
    return_on = models.DateField(_("вернуть"), null=True, blank=True)
    reason = models.TextField(_("причина"), blank=True)
    # The temporary transfer this one ends ("вернуть сейчас" or the return date reached).
    returns = models.OneToOneField(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="returned_by",
        verbose_name=_("возврат передачи"),
    )

    class Meta:
        verbose_name = _("передача")
        verbose_name_plural = _("журнал передач")
        ordering = ["-at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(from_owner=models.F("to_owner")), name="deals_transfer_changes_owner"
            )
        ]

    def __str__(self) -> str:
        return f"{self.client_id}: {self.from_owner_id} → {self.to_owner_id}"


class ClientExport(models.Model):
    """A download of the client base: the company's main asset, so every export is on record."""

    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)
    rows = models.PositiveIntegerField()
    filters = models.CharField(max_length=500, blank=True)
    address = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        verbose_name = _("выгрузка клиентской базы")
        verbose_name_plural = _("выгрузки клиентской базы")
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.by} {self.at:%d.%m.%Y %H:%M}: {self.rows}"


class LeadImportUpload(models.Model):
    """A lead list checked against the client base before an import. The check says which of the file's
    phones are already in the base, so every one is on record for the sales head and counts against the
    hourly limit (LEAD_IMPORT_UPLOADS_PER_HOUR)."""

    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("кто проверял")
    )
    at = models.DateTimeField(_("когда"), default=timezone.now)
    file_name = models.CharField(_("файл"), max_length=255, blank=True)
    rows = models.PositiveIntegerField(_("строк"))
    duplicates = models.PositiveIntegerField(_("уже в базе"))

    class Meta:
        verbose_name = _("проверка списка лидов")
        verbose_name_plural = _("проверки списков лидов")
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["by", "-at"], name="lead_upload_by_at")]

    def __str__(self) -> str:
        return f"{self.by} {self.at:%d.%m.%Y %H:%M}: {self.file_name} ({self.rows})"
