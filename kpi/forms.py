from django import forms
from django.forms.boundfield import BoundField
from django.forms.models import ModelChoiceIterator
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from atlanset_portal.widgets import FastSelect
from deals.forms import DATE, DATETIME, TEXT, TIME, money_field
from deals.labels import deal_picker_label
from deals.models import Client, Deal

from .counters import PLAN_TARGETS, kpi_plan_set
from .models import ActivityKind, DepartmentQuarterPlan, MonthlyPlan


def check_year(day, message):
    """Dates the portal keeps are within 2000–2100: anything else is a typing mistake."""
    if day is not None and not 2000 <= day.year <= 2100:
        raise forms.ValidationError(message)
    return day


class _NameChoices(ModelChoiceIterator):
    """Choices as (pk, name) read in one query, without a model instance per row."""

    def __iter__(self):
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        yield from self.queryset.values_list("pk", "name")


class NameChoiceField(forms.ModelChoiceField):
    """A choice of rows labelled by their ``name`` (what ``__str__`` shows), in a plain select."""

    iterator = _NameChoices
    widget = FastSelect


class ActivityForm(forms.Form):
    kind = forms.ChoiceField(label=_("Что было"), choices=ActivityKind.choices)
    client = NameChoiceField(label=_("Клиент"), queryset=Client.objects.none())
    deal = forms.ModelChoiceField(
        label=_("Сделка"), queryset=Deal.objects.none(), required=False, widget=FastSelect
    )
    at = forms.DateTimeField(label=_("Когда"), widget=DATETIME, initial=timezone.localtime)
    outcome = forms.CharField(label=_("Итог"), max_length=300, required=False)
    note = forms.CharField(label=_("Заметка"), widget=TEXT, required=False)
    next_contact_on = forms.DateField(
        label=_("Следующий контакт"),
        widget=DATE,
        required=False,
        help_text=_("Станет задачей в «Моём дне». Для дожима обязательно"),
    )
    next_contact_time = forms.TimeField(label=_("Во сколько (необязательно)"), widget=TIME, required=False)

    def __init__(self, *args, clients, deals, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["client"].queryset = clients
        self.fields["deal"].queryset = deals
        self.fields["deal"].label_from_instance = deal_picker_label

    def clean_at(self):
        return check_year(
            self.cleaned_data["at"], _("Проверьте дату: такой даты у активности быть не может.")
        )

    def clean_next_contact_on(self):
        return check_year(self.cleaned_data["next_contact_on"], _("Проверьте дату следующего контакта."))

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("kind") == ActivityKind.FOLLOW_UP and not cleaned.get("next_contact_on"):
            self.add_error("next_contact_on", _("Для дожима укажите дату следующего контакта."))
        if cleaned.get("next_contact_time") and not cleaned.get("next_contact_on"):
            self.add_error("next_contact_on", _("Укажите и день следующего контакта."))
        return cleaned


class TaskMoveForm(forms.Form):
    """Another day (and, if agreed, a time) for a task."""

    due_on = forms.DateField(label=_("Новая дата"), widget=DATE)
    due_time = forms.TimeField(label=_("Время"), widget=TIME, required=False)

    def clean_due_on(self):
        return check_year(self.cleaned_data["due_on"], _("Проверьте дату."))


class GridCell(BoundField):
    """A cell of a grid marks itself invalid (Bootstrap's ``is-invalid``) when its value is refused."""

    def build_widget_attrs(self, attrs, widget=None):
        attrs = super().build_widget_attrs(attrs, widget)
        if self.errors:
            widget = widget or self.field.widget
            attrs["class"] = f"{attrs.get('class', widget.attrs.get('class', ''))} is-invalid".strip()
        return attrs


def _target_input(step: str) -> forms.NumberInput:
    # Not localized: a number input takes only "300000.00"; "300000,00" would come back empty.
    return forms.NumberInput(attrs={"min": "0", "step": step, "class": "form-control form-control-sm"})


def _target_field(label) -> forms.IntegerField:
    # A month's target beyond a million is a typing mistake (and beyond the database's integer column).
    return forms.IntegerField(
        label=label, min_value=0, max_value=1_000_000, required=False, widget=_target_input("1")
    )


class PlanRowForm(forms.Form):
    """One hunter's plan for a month. Every value given: that is the plan (0 is a target like any
    other); none given: no plan; some missing: refused, naming each missing one."""

    bound_field_class = GridCell

    revenue_target = money_field(label=_("Выручка, ₽"), required=False, widget=_target_input("0.01"))
    deals_target = _target_field(_("Сделки"))
    leads_target = _target_field(_("Лиды"))
    calls_target = _target_field(_("Звонки"))
    meetings_target = _target_field(_("Встречи"))
    messages_target = _target_field(_("Сообщения"))

    def target_fields(self) -> list[BoundField]:
        return [self[name] for name in PLAN_TARGETS]

    def targets(self) -> dict:
        return {name: self.cleaned_data.get(name) for name in PLAN_TARGETS}

    @property
    def is_blank(self) -> bool:
        """Nothing was entered in the row (valid forms only)."""
        return all(self.cleaned_data.get(name) is None for name in PLAN_TARGETS)

    def clean(self):
        cleaned = super().clean()
        self.check_row_complete()
        return cleaned

    def check_row_complete(self) -> None:
        missing = [
            name for name in PLAN_TARGETS if self.cleaned_data.get(name) is None and name not in self.errors
        ]
        if len(missing) == len(PLAN_TARGETS):
            return  # an empty row: no plan
        for name in missing:
            self.add_error(
                name,
                _("Укажите «%(field)s» (можно 0) или очистите всю строку: пустая строка — плана нет.")
                % {"field": self.fields[name].label},
            )


class PlanGridRowForm(PlanRowForm):
    """A row of the head's plan grid for the hunter's ``plan`` of the month (None: no plan, an empty row,
    never zeros). An empty row leaves the hunter without a plan; a plan already set is taken back only by
    ticking «Снять план», never by emptying the row."""

    no_plan = forms.BooleanField(
        label=_("Снять план"), required=False, widget=forms.CheckboxInput(attrs={"class": "form-check-input"})
    )

    def __init__(self, *args, plan: MonthlyPlan | None = None, **kwargs):
        if plan is not None:
            kwargs["initial"] = {name: getattr(plan, name) for name in PLAN_TARGETS}
        super().__init__(*args, **kwargs)
        self.plan = plan
        self.has_plan = plan is not None
        self.kpi_plan_set = kpi_plan_set(plan)

    def check_row_complete(self) -> None:
        if not self.cleaned_data.get("no_plan"):  # a plan being taken back needs no values
            super().check_row_complete()

    def clean(self):
        cleaned = super().clean()
        if self.has_plan and not cleaned.get("no_plan") and not self.errors and self.is_blank:
            raise forms.ValidationError(
                _(
                    "План на месяц уже установлен, а строка пуста: чтобы снять план, отметьте «Снять план»; "
                    "чтобы оставить — верните значения."
                )
            )
        return cleaned

    @property
    def sets_plan(self) -> bool:
        return not self.cleaned_data.get("no_plan") and not self.is_blank

    @property
    def clears_plan(self) -> bool:
        return bool(self.cleaned_data.get("no_plan"))


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
