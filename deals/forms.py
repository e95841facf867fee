"""Input validation and widgets for the client and deal pages; the rules live in services."""

import json
import uuid
from decimal import ROUND_DOWN, Decimal

from django import forms
from django.forms.models import ModelChoiceIteratorValue
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from accounts.roles import Role
from atlanset_portal.numbers import NumberRefused, format_decimal, input_text, parse_decimal
from atlanset_portal.templatetags.formatting import rub
from atlanset_portal.widgets import FastSelect

from .models import (
    Client,
    ClientSource,
    DealDocument,
    LostReason,
    PaymentTerms,
    Product,
    SampleRequest,
    SettlementCadence,
)
from .phones import Phone, split_phones, with_extension
from .services import CLIENT_CARD_FIELDS, SAMPLE_QUANTITY_LIMIT, OrderLineInput, order_lines_total
from .stages import CallOutcome, Stage
from .units import unit_forms_by_category

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
# A phone's field opens the phone keypad (its «,» is the pause before an extension).
PHONE = {"type": "tel", "autocomplete": "tel", "inputmode": "tel"}
# Requisites are digits: the numeric keypad, and no autofill from the person's own details.
DIGITS = {"inputmode": "numeric", "autocomplete": "off"}
DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
TIME = forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
TEXT = forms.Textarea(attrs={"rows": 2})


def quantity_field(**kwargs) -> forms.DecimalField:
    """An order quantity as the order lines keep it (numeric(12,3))."""
    return forms.DecimalField(
        label=_("Количество"), min_value=Decimal("0.001"), max_digits=12, decimal_places=3, **kwargs
    )


def money_field(*, min_value=Decimal("0"), **kwargs) -> forms.DecimalField:
    """Roubles and kopecks as the money columns keep them (numeric(14,2))."""
    return forms.DecimalField(min_value=min_value, max_digits=14, decimal_places=2, **kwargs)


class NumberInput(forms.TextInput):
    """A number typed as text, so a Russian comma survives (a type="number" input drops or rewrites it):
    the phone shows its number keypad with a separator key."""

    def __init__(self, attrs: dict | None = None, *, inputmode: str = "decimal"):
        super().__init__({"inputmode": inputmode, "autocomplete": "off", **(attrs or {})})


class RussianNumberField(forms.Field):
    """A number as people type it in Russian (atlanset_portal.numbers): «237,50», «1 500», «10». What the
    field shows is what it reads back: «237,50» for money, «10» for ten of something. ``places`` is what
    the column keeps after the point; ``max_value`` is exclusive, as the column's limit."""

    widget = NumberInput

    def __init__(
        self,
        *,
        places: int,
        max_value: Decimal,
        min_value: Decimal | None = None,
        positive: bool = False,
        fixed_places: bool = False,
        messages: dict[str, str] | None = None,
        **kwargs,
    ):
        self.places, self.max_value, self.min_value = places, max_value, min_value
        self.positive, self.fixed_places = positive, fixed_places
        # Templates formatted when a value is refused, in the language of that request.
        self.messages = {
            "places": _("Не больше %(places)s знаков после запятой.")
            if places
            else _("Введите целое число."),
            "max": _("Слишком большое число: должно быть меньше %(limit)s."),
            "positive": _("Должно быть больше нуля."),
            "min": _("Не меньше %(min)s."),
            **(messages or {}),
        }
        super().__init__(**kwargs)
        if places == 0 and isinstance(self.widget, NumberInput):
            self.widget.attrs["inputmode"] = "numeric"

    def to_python(self, value):
        if value in self.empty_values or (isinstance(value, str) and not value.strip()):
            return None
        if isinstance(value, Decimal | int):
            return Decimal(value)
        try:
            return parse_decimal(str(value))
        except NumberRefused as refusal:
            raise forms.ValidationError(str(refusal), code="invalid") from None

    def validate(self, value):
        super().validate(value)
        if value is None:
            return
        params = {
            "places": self.places,
            "limit": format_decimal(self.max_value),
            "min": format_decimal(self.min_value or 0),
        }
        if abs(value) >= self.max_value:
            raise forms.ValidationError(str(self.messages["max"]) % params, code="max")
        if value != value.quantize(Decimal(1).scaleb(-self.places), rounding=ROUND_DOWN):
            raise forms.ValidationError(str(self.messages["places"]) % params, code="places")
        if self.positive and value <= 0:
            raise forms.ValidationError(str(self.messages["positive"]) % params, code="positive")
        if self.min_value is not None and value < self.min_value:
            raise forms.ValidationError(str(self.messages["min"]) % params, code="min")

    def prepare_value(self, value):
        if isinstance(value, Decimal | int) and not isinstance(value, bool):
            return input_text(value, self.places if self.fixed_places else None)
        return value


def line_quantity_field(**kwargs) -> RussianNumberField:
    """An order line's quantity as the lines keep it (numeric(12,3)): «10», «2,5», «0,125»."""
    return RussianNumberField(
        label=_("Количество"),
        places=3,
        max_value=Decimal(10) ** 9,
        positive=True,
        messages={
            "places": _("Количество — не больше трёх знаков после запятой."),
            "max": _("Количество — меньше миллиарда."),
            "positive": _("Количество должно быть больше нуля."),
        },
        **kwargs,
    )


def line_price_field(**kwargs) -> RussianNumberField:
    """A price in roubles and kopecks (numeric(14,2)): «237,50»."""
    return RussianNumberField(
        label=_("Цена, ₽"),
        places=2,
        fixed_places=True,
        max_value=Decimal(10) ** 12,
        min_value=Decimal(0),
        messages={
            "places": _("Цена — в рублях и копейках: не больше двух знаков после запятой."),
            "max": _("Цена — меньше триллиона рублей."),
            "min": _("Цена не может быть отрицательной."),
        },
        **kwargs,
    )


def hunters() -> "forms.QuerySet[User]":
    return User.objects.filter(role=Role.HUNTER, is_active=True).order_by("full_name")


class ClientForm(forms.ModelForm):
    phones_text = forms.CharField(
        label=_("Телефоны"),
        widget=forms.TextInput(attrs=PHONE),
        help_text=_(
            "Несколько номеров — через «;». Можно писать как удобно: 8 912…, +7 (912)…; добавочный — "
            "«доб. 123» или «,123»."
        ),
    )
    owner = forms.ModelChoiceField(label=_("Хантер"), queryset=User.objects.none(), required=False)

    class Meta:
        model = Client
        # The card's fields as the service takes them, with the phones after the address.
        fields = [*CLIENT_CARD_FIELDS[:3], "phones_text", *CLIENT_CARD_FIELDS[3:]]
        widgets = {
            "notes": forms.Textarea(attrs={"rows": 3}),
            "website": forms.TextInput(attrs={"inputmode": "url"}),
        }

    def __init__(self, *args, may_choose_owner: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["address"].required = True
        if may_choose_owner:
            self.fields["owner"].queryset = hunters()
            self.fields["owner"].required = True
        else:
            del self.fields["owner"]
        if self.instance.pk and not self.is_bound:
            self.initial["phones_text"] = "; ".join(
                with_extension(Phone(number=number, extension=extension))
                for number, extension in self.instance.phones.values_list("number", "extension")
            )

    def phones(self) -> list[str]:
        """The numbers as typed, each with its extension (deals.phones.split_phones)."""
        return split_phones(self.cleaned_data.get("phones_text", ""))

    def card(self) -> dict:
        return {
            name: self.cleaned_data[name]
            for name in self.Meta.fields
            if name not in ("phones_text", "name", "address")
        }


class RequisitesForm(forms.Form):
    legal_name = forms.CharField(label=_("Полное наименование"), required=False, max_length=300)
    inn = forms.CharField(label=_("ИНН"), required=False, max_length=20, widget=forms.TextInput(DIGITS))
    kpp = forms.CharField(label=_("КПП"), required=False, max_length=20, widget=forms.TextInput(DIGITS))
    ogrn = forms.CharField(
        label=_("ОГРН / ОГРНИП"), required=False, max_length=20, widget=forms.TextInput(DIGITS)
    )
    legal_address = forms.CharField(label=_("Юридический адрес"), required=False, max_length=500)
    bank_name = forms.CharField(label=_("Банк"), required=False, max_length=200)
    bik = forms.CharField(label=_("БИК"), required=False, max_length=20, widget=forms.TextInput(DIGITS))
    settlement_account = forms.CharField(
        label=_("Расчётный счёт"), required=False, max_length=30, widget=forms.TextInput(DIGITS)
    )
    correspondent_account = forms.CharField(
        label=_("Корр. счёт"), required=False, max_length=30, widget=forms.TextInput(DIGITS)
    )


class PaymentTermsForm(forms.Form):
    payment_terms = forms.ChoiceField(label=_("Условия оплаты"), choices=PaymentTerms.choices)
    deferred_days = forms.IntegerField(label=_("Отсрочка, дней"), required=False, min_value=1, max_value=365)
    deferred_in_working_days = forms.BooleanField(label=_("Дни отсрочки — рабочие"), required=False)
    deferred_limit = money_field(label=_("Лимит отсрочки, ₽"), required=False)
    consignment_cadence = forms.ChoiceField(
        label=_("Расчёты по реализации"), choices=[("", "—"), *SettlementCadence.choices], required=False
    )


class PaymentTermsRequestForm(PaymentTermsForm):
    """A hunter's request to the head: the terms wanted and why."""

    comment = forms.CharField(
        label=_("Обоснование"),
        widget=TEXT,
        max_length=2000,
        help_text=_("Почему клиенту нужны такие условия: объём закупок, история оплат, договорённости."),
    )


class DecisionForm(forms.Form):
    """Approve or decline, with a comment (the reason, when declining)."""

    approve = forms.TypedChoiceField(
        choices=[("1", _("Согласовать")), ("0", _("Отклонить"))], coerce=lambda v: v == "1"
    )
    comment = forms.CharField(required=False, max_length=1000)


class ContactForm(forms.Form):
    name = forms.CharField(label=_("Имя"), max_length=200)
    position = forms.CharField(label=_("Должность"), required=False, max_length=200)
    phone = forms.CharField(
        label=_("Телефон"),
        required=False,
        max_length=40,
        widget=forms.TextInput(PHONE),
        help_text=_("Добавочный — «доб. 123» или «,123»."),
    )
    email = forms.EmailField(label=_("Эл. почта"), required=False)
    birthday = forms.DateField(label=_("День рождения"), required=False, widget=DATE)


class DealCreateForm(forms.Form):
    client = forms.ModelChoiceField(label=_("Клиент"), queryset=Client.objects.none())
    title = forms.CharField(label=_("Название сделки"), required=False, max_length=200)
    repeat_order = forms.BooleanField(
        label=_("Повторный заказ: начать с этапа «Сделка»"),
        required=False,
        help_text=_("Только для клиента, который уже платил."),
    )

    def __init__(self, *args, clients, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["client"].queryset = clients


class CallResultForm(forms.Form):
    outcome = forms.ChoiceField(label=_("Результат звонка"), choices=CallOutcome.choices)
    call_description = forms.CharField(label=_("Описание звонка"), widget=TEXT, required=False)
    client_description = forms.CharField(label=_("Описание клиента"), widget=TEXT, required=False)
    decision_maker_email = forms.EmailField(label=_("Рабочая почта ЛПР"), required=False)


class ProposalForm(forms.Form):
    template_name = forms.CharField(label=_("Шаблон КП"), required=False, max_length=200)
    file = forms.FileField(label=_("Файл КП"), required=False)
    sent_to_email = forms.EmailField(label=_("Отправлено на почту"))
    sent_at = forms.DateTimeField(label=_("Когда отправлено"), widget=DATETIME)
    callback_on = forms.DateField(label=_("Дата обратного звонка"), widget=DATE)

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("file") and not cleaned.get("template_name", "").strip():
            raise forms.ValidationError(_("Приложите файл КП или укажите шаблон."))
        return cleaned


class ProductSelect(FastSelect):
    """The product list of a line; each option carries what the page's script needs for the running
    total and the unit: the list price and the unit's form for each plural category of the language."""

    def option_attrs(self, value) -> dict:
        product = getattr(value, "instance", None)
        if product is None:
            return {}
        return {
            "data-list-price": input_text(product.list_price, 2),
            "data-unit-forms": json.dumps(unit_forms_by_category(product.unit), ensure_ascii=False),
        }


class ProductChoiceField(forms.ModelChoiceField):
    widget = ProductSelect

    def __init__(self, *, with_price: bool, **kwargs):
        self.with_price = with_price
        super().__init__(queryset=Product.objects.filter(is_active=True), label=_("Товар"), **kwargs)

    def label_from_instance(self, product: Product) -> str:
        if self.with_price:
            return f"{product.name} — {rub(product.list_price)} / {product.unit_for(1)}"
        return product.name

    def use_products(self, products: list[Product]) -> None:
        """Offers these products without asking the database again (a formset shares one list)."""
        self.choices = [
            ("", self.empty_label),
            *((ModelChoiceIteratorValue(p.pk, p), self.label_from_instance(p)) for p in products),
        ]


class LineForm(forms.Form):
    def __init__(self, *args, products: list[Product] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.products = {product.pk: product for product in products or ()}
        if products is not None:
            self.fields["product"].use_products(products)

    def has_changed(self) -> bool:
        """A row with no product and nothing typed but its starting quantity (or none) is a blank row: a
        sample row starts at 1."""
        if self["product"].value() not in (None, ""):
            return super().has_changed()
        others = set(self.changed_data) - {"product", "quantity", forms.formsets.DELETION_FIELD_NAME}
        quantity = str(self["quantity"].value() or "").strip()
        return bool(others) or quantity not in ("", str(self.fields["quantity"].initial or ""))

    def shown_product(self) -> Product | None:
        """The product the row shows (as posted, or as it started)."""
        value = self["product"].value()
        try:
            return self.products.get(int(str(value)))
        except ValueError:
            return None

    def shown_quantity(self) -> Decimal | None:
        value = self["quantity"].value()
        if isinstance(value, Decimal | int):
            return Decimal(value)
        try:
            return parse_decimal(str(value or ""))
        except NumberRefused:
            return None

    def unit_text(self) -> str:
        """The unit after the quantity field, declined for the quantity shown («канистр» after 10)."""
        product = self.shown_product()
        if product is None:
            return str(_("ед."))
        return product.unit_for(self.shown_quantity() or 1)


class OrderLineForm(LineForm):
    product = ProductChoiceField(with_price=True)
    quantity = line_quantity_field()
    price = line_price_field(required=False, help_text=_("Пусто — по прайсу"))


class SampleLineForm(LineForm):
    product = ProductChoiceField(with_price=False)
    quantity = RussianNumberField(
        label=_("Количество"),
        places=0,
        max_value=Decimal(SAMPLE_QUANTITY_LIMIT + 1),
        positive=True,
        initial=1,
        messages={
            "places": _("Пробников — целое число."),
            "max": format_lazy(
                _("Пробников одного товара — не больше {limit}."), limit=SAMPLE_QUANTITY_LIMIT
            ),
            "positive": _("Количество должно быть больше нуля."),
        },
    )


class BaseLineFormSet(forms.BaseFormSet):
    """Lines added and removed on the page (a static script adds rows from ``empty_form``; without it the
    page posts the rows it shows). Lines left blank are skipped, lines marked for deletion dropped; at
    least one must remain."""

    default_error_messages = {
        "missing_management_form": _("Форма пришла неполной. Обновите страницу и заполните позиции ещё раз."),
        "too_many_forms": _("Слишком много позиций: не больше %(num)d."),
        "too_few_forms": _("Добавьте хотя бы одну позицию."),
    }
    empty_message = _("Добавьте хотя бы одну позицию.")

    def __init__(self, *args, **kwargs):
        products = list(Product.objects.filter(is_active=True).order_by("name", "pk"))
        kwargs["form_kwargs"] = {**kwargs.get("form_kwargs", {}), "products": products}
        super().__init__(*args, **kwargs)

    @staticmethod
    def is_removed(form: forms.Form) -> bool:
        """Marked «убрать» (read once the form is validated)."""
        return bool(getattr(form, "cleaned_data", {}).get(forms.formsets.DELETION_FIELD_NAME))

    def live_forms(self) -> list[forms.Form]:
        """The forms that are lines: not marked for removal, and not extra rows left blank."""
        return [
            form
            for index, form in enumerate(self.forms)
            if not self.is_removed(form) and (index < self.initial_form_count() or form.has_changed())
        ]

    def add_fields(self, form, index):
        super().add_fields(form, index)
        if self.can_delete and forms.formsets.DELETION_FIELD_NAME in form.fields:
            form.fields[forms.formsets.DELETION_FIELD_NAME].label = _("Убрать позицию")

    def lines(self) -> list[dict]:
        return [form.cleaned_data for form in self.live_forms() if form.cleaned_data]

    def clean(self):
        # A refusal raised here replaces the formset's other errors: say nothing over a broken form.
        if any(self.errors) or (self.is_bound and not self.management_form.is_valid()):
            return
        if not self.lines():
            raise forms.ValidationError(self.empty_message, code="empty")


# A phone order rarely has more than a handful of lines; 50 bounds what a tampered form can make the
# server build.
MAX_LINES = 50
OrderLineFormSet = forms.formset_factory(
    OrderLineForm,
    formset=BaseLineFormSet,
    extra=1,
    can_delete=True,
    max_num=MAX_LINES,
    validate_max=True,
    absolute_max=MAX_LINES,
)
SampleLineFormSet = forms.formset_factory(
    SampleLineForm,
    formset=BaseLineFormSet,
    extra=1,
    can_delete=True,
    max_num=MAX_LINES,
    validate_max=True,
    absolute_max=MAX_LINES,
)


class LinesForm(forms.Form):
    """A form with a formset of lines (``lines``): valid when both are. Its ``errors`` list the lines'
    errors too (as ``lines-0-quantity``), so the page and its tests read one form; each line's errors are
    shown at its fields, the formset's own with the form's."""

    lines_prefix = "lines"
    formset_class: type[BaseLineFormSet]

    def __init__(self, data=None, files=None, *, lines_initial: list[dict] | None = None, **kwargs):
        super().__init__(data, files, **kwargs)
        self.lines = self.formset_class(data, files, prefix=self.lines_prefix, initial=lines_initial)

    def full_clean(self):
        super().full_clean()
        if not self.is_bound or self.lines.is_valid():
            return
        for message in self.lines.non_form_errors():
            self.add_error(None, message)
        for line in self.lines.forms:
            if self.lines.is_removed(line):
                continue
            for field, messages in line.errors.items():
                self._errors.setdefault(line.add_prefix(field), self.error_class()).extend(messages)


class SampleRequestForm(LinesForm):
    receiver_name = forms.CharField(label=_("Получатель"), max_length=200)
    receiver_phone = forms.CharField(
        label=_("Телефон получателя"), max_length=40, widget=forms.TextInput(PHONE)
    )
    delivery_address = forms.CharField(
        label=_("Адрес доставки"), max_length=500, help_text=_("Куда производство отправит пробники")
    )
    potential_volume = forms.CharField(
        label=_("Потенциальный оптовый объём"), max_length=200, help_text=_("Например: 200 л в месяц")
    )

    lines_prefix = "sample_lines"
    formset_class = SampleLineFormSet

    def sample_lines(self) -> list[tuple[Product, int]]:
        return [(line["product"], int(line["quantity"])) for line in self.lines.lines()]


class SampleStatusForm(forms.Form):
    status = forms.ChoiceField(
        choices=SampleRequest.Status.choices,
        error_messages={"invalid_choice": _("Неизвестный статус заявки.")},
    )
    comment = forms.CharField(label=_("Причина отказа"), required=False, max_length=1000)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("status") == SampleRequest.Status.DECLINED and not cleaned.get("comment", "").strip():
            self.add_error("comment", _("Напишите причину отказа: хантер передаст её клиенту."))
        return cleaned


class FollowUpForm(forms.Form):
    outcome = forms.CharField(label=_("Итог контакта"), widget=TEXT)
    objection = forms.CharField(label=_("Возражение клиента"), widget=TEXT, required=False)
    client_confirmed = forms.BooleanField(label=_("Клиент подтвердил желание купить"), required=False)
    next_contact_on = forms.DateField(label=_("Следующий контакт"), required=False, widget=DATE)
    next_contact_time = forms.TimeField(label=_("Во сколько (необязательно)"), required=False, widget=TIME)

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("client_confirmed") and not cleaned.get("next_contact_on"):
            self.add_error(
                "next_contact_on",
                _("Пока клиент не подтвердил покупку, договоритесь о дате следующего контакта."),
            )
        return cleaned


class OrderForm(LinesForm):
    """The order's lines, what changed (for production), and the hunter's confirmation of prices far from
    the list price. ``deviations`` are set by the page when the service asked for that confirmation."""

    comment = forms.CharField(
        label=_("Что изменилось и почему"),
        widget=TEXT,
        required=False,
        max_length=2000,
        help_text=_("Для производства: согласованный заказ меняется только новой версией."),
    )
    # The «confirm prices» button posts ``confirm_prices``: the lines and prices the hunter saw and
    # confirmed (prices_token). It is read as given, not a field: what is not a line's price is ignored.
    CONFIRMATION = "confirm_prices"

    lines_prefix = "lines"
    formset_class = OrderLineFormSet
    deviations: list = []

    def order_lines(self) -> list[OrderLineInput]:
        return [
            OrderLineInput(product=line["product"], quantity=line["quantity"], price=line.get("price"))
            for line in self.lines.lines()
        ]

    def confirmed_prices(self) -> set[tuple[int, Decimal]]:
        """The (product id, price) pairs of the confirmation, as :func:`prices_token` wrote them."""
        confirmed = set()
        token = str(self.data.get(self.CONFIRMATION, ""))[: MAX_LINES * 40]
        for piece in token.split(";")[:MAX_LINES]:
            product_id, _colon, price = piece.partition(":")
            try:
                pair = (int(product_id), Decimal(price))
            except (ValueError, ArithmeticError):
                continue
            if pair[1].is_finite():
                confirmed.add(pair)
        return confirmed

    @property
    def deviations_token(self) -> str:
        return prices_token(self.deviations)

    def total(self) -> Decimal | None:
        """The order's total as the page shows it before the script takes over: of the lines as they
        started, or as posted when every posted line is valid (None otherwise)."""
        if self.is_bound:
            if not self.lines.is_valid():
                return None
            pairs = [
                (line["quantity"], line["product"].list_price if line.get("price") is None else line["price"])
                for line in self.lines.lines()
            ]
        else:
            pairs = []
            for line in self.lines.forms:
                product, quantity = line.shown_product(), line.shown_quantity()
                if product is not None and quantity is not None:
                    price = line.initial.get("price")
                    pairs.append((quantity, product.list_price if price is None else Decimal(price)))
        return order_lines_total(pairs)


def prices_token(deviations) -> str:
    """The deviating lines as the confirmation button posts them back: ``12:600.00;15:1500.00``."""
    return ";".join(f"{deviation.product.pk}:{deviation.price}" for deviation in deviations)


class OrderDecisionForm(DecisionForm):
    # The version production looked at: a newer one submitted meanwhile is not decided unseen.
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


class DocumentForm(forms.Form):
    kind = forms.ChoiceField(label=_("Документ"), choices=DealDocument.Kind.choices)
    number = forms.CharField(
        label=_("Номер"), max_length=50, required=False, help_text=_("Для счёта обязателен")
    )
    file = forms.FileField(label=_("Файл"))


class ShipmentForm(forms.Form):
    receiver_name = forms.CharField(label=_("Получатель"), max_length=200)
    receiver_phone = forms.CharField(
        label=_("Телефон получателя"), max_length=40, widget=forms.TextInput(PHONE)
    )
    delivery_address = forms.CharField(label=_("Адрес доставки"), max_length=500)
    courier_date = forms.DateField(label=_("Дата курьера"), widget=DATE)
    received_on = forms.DateField(label=_("Клиент получил товар"), required=False, widget=DATE)


def _new_submission_key() -> str:
    return uuid.uuid4().hex


def submission_key_field() -> forms.CharField:
    """A one-time key rendered with the form: the same submission sent twice (a double tap, a resent
    page) is recorded once."""
    return forms.CharField(
        widget=forms.HiddenInput, required=False, max_length=64, initial=_new_submission_key
    )


class PaymentForm(forms.Form):
    amount = money_field(label=_("Сумма, ₽"), min_value=Decimal("0.01"))
    received_on = forms.DateField(label=_("Дата поступления"), widget=DATE, initial=timezone.localdate)
    bank_document = forms.CharField(label=_("Номер платёжного поручения"), max_length=50)
    idempotency_key = submission_key_field()


class RefundForm(forms.Form):
    amount = money_field(label=_("Сумма возврата, ₽"), min_value=Decimal("0.01"))
    recorded_on = forms.DateField(label=_("Дата возврата"), widget=DATE, initial=timezone.localdate)
    bank_document = forms.CharField(label=_("Номер платёжного документа"), max_length=50, required=False)
    idempotency_key = submission_key_field()


class FeedbackForm(forms.Form):
    has_quality_claims = forms.TypedChoiceField(
        label=_("Претензии к качеству"),
        choices=[("0", _("Нет")), ("1", _("Есть"))],
        coerce=lambda v: v == "1",
        widget=forms.RadioSelect,
    )
    claims_text = forms.CharField(label=_("Претензии"), widget=TEXT, required=False)
    repeat_order_expected = forms.TypedChoiceField(
        label=_("Ожидается повторный заказ"),
        choices=[("1", _("Да")), ("0", _("Нет"))],
        coerce=lambda v: v == "1",
        widget=forms.RadioSelect,
    )
    comment = forms.CharField(label=_("Комментарий"), widget=TEXT, required=False)


class MoveForm(forms.Form):
    to_stage = forms.ChoiceField(label=_("Этап"), choices=Stage.choices)
    comment = forms.CharField(label=_("Комментарий"), widget=TEXT, required=False)


class LostForm(forms.Form):
    reason = forms.ModelChoiceField(
        label=_("Причина отказа"), queryset=LostReason.objects.filter(is_active=True)
    )
    note = forms.CharField(label=_("Комментарий"), widget=TEXT, required=False)


class TransferForm(forms.Form):
    to_owner = forms.ModelChoiceField(label=_("Кому"), queryset=User.objects.none())
    return_on = forms.DateField(label=_("Вернуть (план)"), required=False, widget=DATE)
    reason = forms.CharField(label=_("Причина"), widget=TEXT, required=False)

    def __init__(self, *args, current_owner: User, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to_owner"].queryset = hunters().exclude(pk=current_owner.pk)
        self.fields["return_on"].help_text = _(
            "Для временной передачи (отпуск, больничный): в этот день придёт напоминание вернуть."
        )

    def clean_return_on(self):
        return_on = self.cleaned_data["return_on"]
        if return_on is not None and return_on <= timezone.localdate():
            raise forms.ValidationError(_("Дата возврата должна быть позже сегодняшней."))
        return return_on


SOURCE_CHOICES = ClientSource.choices
