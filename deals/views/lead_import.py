"""Lead list import: upload, map columns when the layout is unknown, preview, then import all at once in the
background (the job's page shows how far it got and the report).

The file is read once, at upload, into a table kept as compact JSON beside the session; the mapping,
preview and import steps work from that table and never read the file again.
"""

import json

from django import forms
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from accounts.access import CapabilityRequiredMixin, can
from accounts.roles import Capability
from atlanset_portal.uploads import stash_upload, stashed_upload
from imports.models import ImportJob
from imports.selectors import recent_import_jobs
from imports.views import ImportJobView

from .. import services
from ..forms import hunters
from ..lead_import import (
    MAX_FILE_SIZE,
    TARGET_FIELDS,
    ColumnMapping,
    LeadImportError,
    Table,
    detect_mapping,
    parse_leads,
    read_table,
    suggest_choices,
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


def _posted_choices(value: str) -> dict | None:
    """The mapping a confirmation posts back, or None when it is not the JSON object the preview wrote."""
    try:
        choices = json.loads(value)
    except (ValueError, RecursionError):
        return None
    return choices if isinstance(choices, dict) else None


class LeadImportView(CapabilityRequiredMixin, View):
    required_capability = Capability.WORK_PIPELINE
    template_name = "deals/lead_import.html"

    def may_choose_owner(self) -> bool:
        return can(self.request.user, Capability.VIEW_ALL_HUNTERS)

    def upload_form(self, data=None, files=None) -> LeadUploadForm:
        return LeadUploadForm(data, files, may_choose_owner=self.may_choose_owner())

    def render_upload(self, request, form: LeadUploadForm, *, status: int = 200, error: str = ""):
        context = {
            "form": form,
            "error": error,
            "recent_jobs": recent_import_jobs(viewer=request.user, kind=ImportJob.Kind.LEADS),
            "job_url_name": "clients:import_job",
        }
        return render(request, self.template_name, context, status=status)

    def get(self, request):
        return self.render_upload(request, self.upload_form())

    def post(self, request):
        step = request.POST.get("step", "upload")
        if step == "upload":
            return self.upload(request)
        stored = self.stored_upload(request)
        if stored is None:
            return self.render_upload(
                request,
                self.upload_form(),
                status=400,
                error=_("Загруженный файл не найден: загрузите его ещё раз."),
            )
        token, meta, table = stored
        if step == "map":
            return self.map_columns(request, token, meta, table)
        if step == "confirm":
            return self.confirm(request, token, meta, table)
        unknown = _("Неизвестный шаг импорта: загрузите файл ещё раз.")
        return self.render_upload(request, self.upload_form(), status=400, error=unknown)

    def upload(self, request):
        form = self.upload_form(request.POST, request.FILES)
        if not form.is_valid():
            return self.render_upload(request, form, status=400)
        try:
            services.lead_upload_quota_check(acting_user=request.user)
        except services.LeadUploadLimitReached as limit:
            return self.render_upload(request, form, status=429, error=limit.messages[0])
        upload = form.cleaned_data["file"]
        if upload.size > MAX_FILE_SIZE:
            form.add_error("file", _("Файл больше 5 МБ."))
            return self.render_upload(request, form, status=400)
        try:
            table = read_table(upload.read(), upload.name)
        except ValidationError as error:
            for message in error.messages:
                form.add_error("file", message)
            return self.render_upload(request, form, status=400)
        token = stash_upload(table.dumps())
        owner = form.cleaned_data.get("owner")
        meta = {
            "filename": upload.name,
            "source": form.cleaned_data["source"],
            "owner": owner.pk if owner else None,
        }
        self.remember(request, token, meta)
        mapping = detect_mapping(table.headers)
        if mapping is None:
            return self.render_mapping(request, token, table, None)
        return self.render_preview(request, token, meta, table, mapping)

    def map_columns(self, request, token: str, meta: dict, table: Table):
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
        return self.render_preview(request, token, meta, table, mapping)

    def confirm(self, request, token: str, meta: dict, table: Table):
        previewed = meta.get("mapping")
        posted = _posted_choices(request.POST.get("mapping", ""))
        if previewed is None or posted != previewed:
            # Only the columns the rep saw in the preview are imported: a mapping changed since (or
            # tampered with) would import rows nobody checked.
            return self.render_upload(
                request,
                self.upload_form(),
                status=400,
                error=_(
                    "Сопоставление столбцов повреждено или не совпадает с проверенным: "
                    "загрузите файл ещё раз."
                ),
            )
        owner = services.User.objects.filter(pk=meta.get("owner")).first() if meta.get("owner") else None
        job = services.leads_import_enqueue(
            acting_user=request.user,
            table=table,
            mapping=ColumnMapping.from_choices(previewed),
            file_name=meta["filename"],
            source=meta["source"],
            owner=owner,
            upload=token,
        )
        self.forget(request, token)
        return redirect("clients:import_job", pk=job.pk)

    # --- the upload between the steps ----------------------------------------------------------------

    @staticmethod
    def remember(request, token: str, meta: dict) -> None:
        uploads = request.session.get(SESSION_KEY, {})
        uploads[token] = meta
        request.session[SESSION_KEY] = uploads

    @staticmethod
    def forget(request, token: str) -> None:
        request.session[SESSION_KEY] = {
            key: value for key, value in request.session.get(SESSION_KEY, {}).items() if key != token
        }
        path = stashed_upload(token)
        if path is not None:
            path.unlink(missing_ok=True)  # the job has its own copy of the table

    def stored_upload(self, request) -> tuple[str, dict, Table] | None:
        token = request.POST.get("token", "")
        meta = request.session.get(SESSION_KEY, {}).get(token)
        path = stashed_upload(token) if meta else None
        if path is None:
            return None
        try:
            return token, meta, Table.loads(path.read_bytes())
        except (OSError, ValueError, TypeError):
            return None

    # --- pages -------------------------------------------------------------------------------------------

    def render_mapping(self, request, token: str, table: Table, form, status: int = 200):
        labels = table.column_labels()
        form = form or mapping_form_class(labels)(initial=suggest_choices(table.headers))
        sample = [row + [""] * (len(labels) - len(row)) for row in table.rows[:3]]
        return render(
            request,
            "deals/lead_import_mapping.html",
            {"form": form, "token": token, "headers": labels, "sample": sample},
            status=status,
        )

    def render_preview(self, request, token: str, meta: dict, table: Table, mapping: ColumnMapping):
        try:
            plan = services.leads_preview(
                acting_user=request.user,
                parsed=parse_leads(table, mapping),
                file_name=meta["filename"],
                rows=len(table.rows),
            )
        except services.LeadUploadLimitReached as limit:
            return self.render_upload(request, self.upload_form(), status=429, error=limit.messages[0])
        choices = mapping.as_choices()
        self.remember(request, token, {**meta, "mapping": choices})
        return render(
            request,
            "deals/lead_import_preview.html",
            {
                "plan": plan,
                "token": token,
                "mapping": json.dumps(choices),
                "preview": plan.to_create[:100],
            },
        )


class LeadImportJobView(ImportJobView):
    """A lead import running or done: its owner sees it, and the sales head (who imports for hunters)."""

    kind = ImportJob.Kind.LEADS
    required_capability = Capability.WORK_PIPELINE
    title = gettext_lazy("Импорт лидов")
    result_template = "deals/_lead_import_result.html"

    @property
    def back_url(self) -> str:
        return reverse("clients:import")
