"""Lead list import: upload, map columns when the layout is unknown, preview, then import all at once."""

import json

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from accounts.access import CapabilityRequiredMixin, can
from accounts.roles import Capability
from atlanset_portal.uploads import stash_upload, stashed_upload

from .. import services
from ..forms import hunters
from ..lead_import import (
    MAX_FILE_SIZE,
    TARGET_FIELDS,
    ColumnMapping,
    LeadImportError,
    detect_mapping,
    parse_leads,
    read_table,
)
from ..models import ClientSource

SESSION_KEY = "lead_imports"


class LeadUploadForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("Файл CSV или XLSX"),
        help_text=gettext_lazy("Выгрузка 2ГИС или Яндекс Карт, до 5 МБ"),
    )
    source = forms.ChoiceField(
        label=gettext_lazy("Источник"), choices=ClientSource.choices, initial=ClientSource.TWO_GIS
    )
    owner = forms.ModelChoiceField(label=gettext_lazy("Хантер"), queryset=hunters(), required=False)

    def __init__(self, *args, may_choose_owner: bool, **kwargs):
        super().__init__(*args, **kwargs)
        if not may_choose_owner:
            del self.fields["owner"]
        else:
            self.fields["owner"].queryset = hunters()
            self.fields["owner"].required = True


def mapping_form_class(labels: list[str]) -> type[forms.Form]:
    choices = list(enumerate(labels))
    fields = {}
    for target in TARGET_FIELDS:
        if target.multiple:
            fields[target.field] = forms.TypedMultipleChoiceField(
                label=target.label,
                choices=choices,
                coerce=int,
                required=target.required,
                widget=forms.SelectMultiple(attrs={"size": min(6, len(choices))}),
            )
        else:
            fields[target.field] = forms.TypedChoiceField(
                label=target.label,
                choices=[("", "—"), *choices],
                coerce=int,
                required=target.required,
                empty_value=None,
            )
    return type("LeadMappingForm", (forms.Form,), fields)


class LeadImportView(CapabilityRequiredMixin, View):
    required_capability = Capability.WORK_PIPELINE
    template_name = "deals/lead_import.html"

    def may_choose_owner(self) -> bool:
        return can(self.request.user, Capability.VIEW_ALL_HUNTERS)

    def get(self, request):
        return render(
            request, self.template_name, {"form": LeadUploadForm(may_choose_owner=self.may_choose_owner())}
        )

    def post(self, request):
        step = request.POST.get("step", "upload")
        if step == "upload":
            return self.upload(request)
        upload = self.stored_upload(request)
        if upload is None:
            messages.error(request, _("Загруженный файл не найден: загрузите его ещё раз."))
            return redirect("clients:import")
        token, path, meta = upload
        table = read_table(path.read_bytes(), meta["filename"])
        if step == "map":
            form = mapping_form_class(table.column_labels())(request.POST)
            if not form.is_valid():
                return self.render_mapping(request, token, table, form, status=400)
            try:
                mapping = ColumnMapping.from_choices(
                    {
                        key: value if isinstance(value, list) else ([] if value is None else [value])
                        for key, value in form.cleaned_data.items()
                    }
                )
            except LeadImportError as error:
                form.add_error(None, error)
                return self.render_mapping(request, token, table, form, status=400)
            return self.render_preview(request, token, table, mapping)
        if step == "confirm":
            try:
                mapping = ColumnMapping.from_choices(json.loads(request.POST.get("mapping", "")))
            except (ValueError, TypeError, AttributeError, ValidationError):
                messages.error(request, _("Сопоставление столбцов повреждено: загрузите файл ещё раз."))
                return redirect("clients:import")
            parsed = parse_leads(table, mapping)
            plan = services.leads_import(
                acting_user=request.user,
                parsed=parsed,
                source=meta["source"],
                owner=services.User.objects.filter(pk=meta.get("owner")).first(),
            )
            path.unlink(missing_ok=True)
            request.session[SESSION_KEY] = {
                k: v for k, v in request.session.get(SESSION_KEY, {}).items() if k != token
            }
            messages.success(
                request, _("Импортировано клиентов: %(count)s.") % {"count": len(plan.to_create)}
            )
            return render(request, "deals/lead_import_done.html", {"plan": plan})
        return redirect("clients:import")

    def upload(self, request):
        form = LeadUploadForm(request.POST, request.FILES, may_choose_owner=self.may_choose_owner())
        if not form.is_valid():
            return render(request, self.template_name, {"form": form}, status=400)
        upload = form.cleaned_data["file"]
        if upload.size > MAX_FILE_SIZE:
            form.add_error("file", _("Файл больше 5 МБ."))
            return render(request, self.template_name, {"form": form}, status=400)
        data = upload.read()
        try:
            table = read_table(data, upload.name)
        except ValidationError as error:
            for message in error.messages:
                form.add_error("file", message)
            return render(request, self.template_name, {"form": form}, status=400)
        token = stash_upload(data)
        owner = form.cleaned_data.get("owner")
        uploads = request.session.get(SESSION_KEY, {})
        uploads[token] = {
            "filename": upload.name,
            "source": form.cleaned_data["source"],
            "owner": owner.pk if owner else None,
        }
        request.session[SESSION_KEY] = uploads
        mapping = detect_mapping(table.headers)
        if mapping is None:
            return self.render_mapping(request, token, table, None)
        return self.render_preview(request, token, table, mapping)

    def stored_upload(self, request):
        token = request.POST.get("token", "")
        meta = request.session.get(SESSION_KEY, {}).get(token)
        if not meta:
            return None
        path = stashed_upload(token)
        return (token, path, meta) if path else None

    def render_mapping(self, request, token, table, form, status=200):
        from ..lead_import import suggest_choices

        form_class = mapping_form_class(table.column_labels())
        form = form or form_class(initial=suggest_choices(table.headers))
        sample = table.rows[:3]
        return render(
            request,
            "deals/lead_import_mapping.html",
            {"form": form, "token": token, "headers": table.column_labels(), "sample": sample},
            status=status,
        )

    def render_preview(self, request, token, table, mapping: ColumnMapping):
        plan = services.leads_plan(parsed=parse_leads(table, mapping))
        return render(
            request,
            "deals/lead_import_preview.html",
            {
                "plan": plan,
                "token": token,
                "mapping": json.dumps(mapping.as_choices()),
                "preview": plan.to_create[:100],
            },
        )
