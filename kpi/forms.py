from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from deals.forms import DATE, DATETIME, TEXT, money_field
from deals.models import Client, Deal

from .models import ActivityKind, DepartmentQuarterPlan


class ActivityForm(forms.Form):
    kind = forms.ChoiceField(label=_("Что было"), choices=ActivityKind.choices)
    client = forms.ModelChoiceField(label=_("Клиент"), queryset=Client.objects.none())
    deal = forms.ModelChoiceField(label=_("Сделка"), queryset=Deal.objects.none(), required=False)
    at = forms.DateTimeField(label=_("Когда"), widget=DATETIME, initial=timezone.localtime)
    outcome = forms.CharField(label=_("Итог"), max_length=300, required=False)
    note = forms.CharField(label=_("Заметка"), widget=TEXT, required=False)
    next_contact_on = forms.DateField(
        label=_("Следующий контакт"), widget=DATE, required=False, help_text=_("Для дожима обязательно")
    )

    def __init__(self, *args, clients, deals, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["client"].queryset = clients
        self.fields["deal"].queryset = deals

    def clean_at(self):
        at = self.cleaned_data["at"]
        if at is not None and not 2000 <= at.year <= 2100:
            raise forms.ValidationError(_("Проверьте дату: такой даты у активности быть не может."))
        return at

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("kind") == ActivityKind.FOLLOW_UP and not cleaned.get("next_contact_on"):
            self.add_error("next_contact_on", _("Для дожима укажите дату следующего контакта."))
        return cleaned


class PlanRowForm(forms.Form):
    revenue_target = money_field(label=_("Выручка, ₽"))
    # A month's target beyond a million is a typing mistake (and beyond the database's integer column).
    deals_target = forms.IntegerField(label=_("Сделки"), min_value=0, max_value=1_000_000)
    leads_target = forms.IntegerField(label=_("Лиды"), min_value=0, max_value=1_000_000)
    calls_target = forms.IntegerField(label=_("Звонки"), min_value=0, max_value=1_000_000)
    meetings_target = forms.IntegerField(label=_("Встречи"), min_value=0, max_value=1_000_000)
    messages_target = forms.IntegerField(label=_("Сообщения"), min_value=0, max_value=1_000_000)


class QuarterPlanForm(forms.Form):
    revenue_target = money_field(label=_("План отдела на квартал, ₽"))
    bonus_pool = money_field(label=_("Премиальный фонд, ₽"))
    split = forms.ChoiceField(
        label=_("Распределение"),
        choices=[("", _("Как в схеме оплаты")), *DepartmentQuarterPlan.Split.choices],
        required=False,
    )


class CallLogUploadForm(forms.Form):
    file = forms.FileField(label=_("Журнал звонков (CSV)"))
