"""Input validation and widgets for the client and deal pages; the rules live in services."""

import uuid
from decimal import Decimal

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from accounts.roles import Role

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
from .services import CLIENT_CARD_FIELDS
from .stages import CallOutcome, Stage

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


class SampleRequestForm(forms.Form):
    LINE_COUNT = 3

    receiver_name = forms.CharField(label=_("Получатель"), max_length=200)
    receiver_phone = forms.CharField(
        label=_("Телефон получателя"), max_length=40, widget=forms.TextInput(PHONE)
    )
    potential_volume = forms.CharField(
        label=_("Потенциальный оптовый объём"), max_length=200, help_text=_("Например: 200 л в месяц")
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        products = Product.objects.filter(is_active=True)
        for index in range(1, self.LINE_COUNT + 1):
            self.fields[f"product_{index}"] = forms.ModelChoiceField(
                label=_("Товар %(n)s") % {"n": index}, queryset=products, required=index == 1
            )
            self.fields[f"quantity_{index}"] = forms.IntegerField(
                label=_("Количество"), min_value=1, required=False, initial=1 if index == 1 else None
            )

    def lines(self) -> list[tuple[Product, int]]:
        lines = []
        for index in range(1, self.LINE_COUNT + 1):
            product = self.cleaned_data.get(f"product_{index}")
            if product:
                lines.append((product, self.cleaned_data.get(f"quantity_{index}") or 0))
        return lines

    def clean(self):
        cleaned = super().clean()
        for index in range(1, self.LINE_COUNT + 1):
            if cleaned.get(f"product_{index}") and not cleaned.get(f"quantity_{index}"):
                self.add_error(f"quantity_{index}", _("Укажите количество."))
        return cleaned


class SampleStatusForm(forms.Form):
    status = forms.ChoiceField(choices=SampleRequest.Status.choices)
    comment = forms.CharField(required=False, max_length=1000)


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


class OrderForm(forms.Form):
    LINE_COUNT = 5

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        products = Product.objects.filter(is_active=True)
        for index in range(1, self.LINE_COUNT + 1):
            self.fields[f"product_{index}"] = forms.ModelChoiceField(
                label=_("Товар"), queryset=products, required=index == 1
            )
            self.fields[f"quantity_{index}"] = quantity_field(required=False)
            self.fields[f"price_{index}"] = money_field(
                label=_("Цена, ₽"), required=False, help_text=_("Пусто — по прайсу")
            )
        self.fields["comment"] = forms.CharField(
            label=_("Что изменилось и почему"),
            widget=TEXT,
            required=False,
            max_length=2000,
            help_text=_("Для производства: согласованный заказ меняется только новой версией."),
        )

    def clean(self):
        cleaned = super().clean()
        for index in range(1, self.LINE_COUNT + 1):
            if cleaned.get(f"product_{index}") and not cleaned.get(f"quantity_{index}"):
                self.add_error(f"quantity_{index}", _("Укажите количество."))
        return cleaned

    def rows(self):
        for index in range(1, self.LINE_COUNT + 1):
            yield [self[f"product_{index}"], self[f"quantity_{index}"], self[f"price_{index}"]]


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
