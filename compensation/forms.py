"""Input validation and widgets for the pay pages; the rules live in services."""

from decimal import Decimal

from django import forms
from django.db.models import Subquery
from django.utils.translation import gettext_lazy

from deals.labels import event_picker_label
from kpi.models import Activity, ActivityKind

from .models import PaySchemeVersion
from .services import scheme_values_errors


class AdjustmentForm(forms.Form):
    amount = forms.DecimalField(
        label=gettext_lazy("Сумма, ₽ (минус — удержание)"), decimal_places=2, max_digits=14
    )
    reason = forms.CharField(label=gettext_lazy("Причина"), widget=forms.Textarea(attrs={"rows": 2}))


class SchemeForm(forms.ModelForm):
    class Meta:
        model = PaySchemeVersion
        fields = [
            "effective_from",
            "fixed_amount",
            "new_client_rate",
            "existing_client_rate",
            "margin_bonus_rate",
            "accelerator",
            "accelerator_multiplier",
            "department_bonus_split",
        ]
        widgets = {"effective_from": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")}

    def clean(self):
        cleaned = super().clean()
        for field, message in scheme_values_errors(cleaned).items():
            self.add_error(field, message)
        return cleaned

    def validate_unique(self):
        """Saving again for a month replaces that month's version (services.scheme_save)."""


class ExpenseClaimForm(forms.Form):
    amount = forms.DecimalField(
        label=gettext_lazy("Сумма, ₽"),
        min_value=Decimal("0.01"),
        decimal_places=2,
        max_digits=14,
        widget=forms.NumberInput(attrs={"inputmode": "decimal", "step": "0.01"}),
    )
    meeting = forms.ModelChoiceField(label=gettext_lazy("Встреча с клиентом"), queryset=None, required=False)
    note = forms.CharField(label=gettext_lazy("Что оплачено"), widget=forms.Textarea(attrs={"rows": 2}))
    # On a phone the picker offers the back camera first: the receipt is photographed where it was paid.
    receipt = forms.FileField(
        label=gettext_lazy("Чек (PDF или фото)"),
        widget=forms.ClearableFileInput(
            attrs={"accept": "image/*,application/pdf", "capture": "environment"}
        ),
    )

    MEETINGS_OFFERED = 50

    def __init__(self, *args, hunter, **kwargs):
        super().__init__(*args, **kwargs)
        meetings = Activity.objects.filter(owner=hunter, kind=ActivityKind.MEETING)
        # The latest meetings only, chosen by a subquery: a sliced queryset cannot be filtered, so the
        # field could not look up the posted choice in it and refused every meeting.
        latest = meetings.order_by("-at", "-pk").values("pk")[: self.MEETINGS_OFFERED]
        self.fields["meeting"].queryset = (
            meetings.filter(pk__in=Subquery(latest)).select_related("client", "deal").order_by("-at", "-pk")
        )
        self.fields["meeting"].label_from_instance = event_picker_label


class ExpenseDecisionForm(forms.Form):
    approved_amount = forms.DecimalField(
        label=gettext_lazy("Одобрить, ₽"), min_value=0, decimal_places=2, max_digits=14
    )


class DisputeForm(forms.Form):
    line_text = forms.CharField(label=gettext_lazy("Начисление"), widget=forms.Select)
    comment = forms.CharField(label=gettext_lazy("Вопрос"), widget=forms.Textarea(attrs={"rows": 2}))


class DisputeAnswerForm(forms.Form):
    answer = forms.CharField(label=gettext_lazy("Ответ"), widget=forms.Textarea(attrs={"rows": 2}))
    correction = forms.DecimalField(
        label=gettext_lazy("Корректировка, ₽ (если нужна)"), required=False, decimal_places=2, max_digits=14
    )


class BankStatementUploadForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("Выписка банка (1CClientBankExchange, .txt)"))
