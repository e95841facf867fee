"""The regulations, acknowledgements, the test and everyone's progress."""

import difflib

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from accounts.access import CapabilityRequiredMixin, can
from accounts.models import User
from accounts.roles import Capability, Role
from compensation.selectors import scheme_change_ahead
from compensation.statements import scheme_for
from deals import stages

from . import selectors, services
from .models import Acknowledgement, Question, Section, TestAttempt


def _may_read(user) -> bool:
    return can(user, Capability.WORK_PIPELINE) or can(user, Capability.EDIT_REGULATIONS)


class ReadRegulationsMixin:
    def dispatch(self, request, *args, **kwargs):
        if not _may_read(request.user):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)


class OverviewView(ReadRegulationsMixin, View):
    """The hunter's checklist: every section (read or not) and the test."""

    def get(self, request):
        versions = selectors.current_versions()
        acknowledged = set(
            Acknowledgement.objects.filter(user=request.user).values_list("version_id", flat=True)
        )
        sections = [
            (
                section,
                versions.get(section.pk),
                versions.get(section.pk) and versions[section.pk].pk in acknowledged,
            )
            for section in Section.objects.all()
        ]
        [progress] = selectors.progress_for([request.user])
        return render(
            request,
            "onboarding/overview.html",
            {
                "sections": sections,
                "progress": progress,
                "attempts": TestAttempt.objects.filter(user=request.user)[:5],
            },
        )


def _diff(old: str, new: str) -> list[tuple[str, str]]:
    """Line-by-line changes as (kind, text): "+" added, "-" removed, " " kept, for the template."""
    rows = []
    for line in difflib.ndiff(old.splitlines(), new.splitlines()):
        if line.startswith(("+ ", "- ", "  ")):
            rows.append((line[0], line[2:]))
    return rows


class SectionView(ReadRegulationsMixin, View):
    def get(self, request, slug: str):
        section = get_object_or_404(Section, slug=slug)
        version = selectors.current_versions().get(section.pk)
        last_read = (
            Acknowledgement.objects.filter(user=request.user, version__section=section)
            .select_related("version")
            .order_by("-version__number")
            .first()
        )
        needs_ack = version is not None and (last_read is None or last_read.version_id != version.pk)
        changes = _diff(last_read.version.body, version.body) if needs_ack and last_read else None
        context = {
            "section": section,
            "version": version,
            "html": selectors.render_markdown(version.body if version else ""),
            "needs_ack": needs_ack,
            "changes": changes,
            "last_read": last_read,
            "stage": stages.definition(section.stage) if section.stage in stages.BY_STAGE else None,
            "scheme": scheme_for(timezone.localdate()) if section.slug == "pay" else None,
            "scheme_ahead": scheme_change_ahead(timezone.localdate()) if section.slug == "pay" else None,
            "sections": Section.objects.all(),
        }
        return render(request, "onboarding/section.html", context)

    def post(self, request, slug: str):
        section = get_object_or_404(Section, slug=slug)
        try:
            services.section_acknowledge(acting_user=request.user, section=section)
        except ValidationError as error:
            messages.error(request, "; ".join(error.messages))
        else:
            messages.success(request, _("Отмечено: раздел «%(title)s» прочитан.") % {"title": section.title})
        return redirect("onboarding:overview")


def stage_regulation(request, stage: str):
    """A stage's regulation page: the deal page and the board link here by stage code."""
    if stage not in stages.BY_STAGE:
        raise Http404
    section = Section.objects.filter(stage=stage).first()
    if section is not None:
        return redirect("onboarding:section", slug=section.slug)
    return render(
        request, "onboarding/stage.html", {"definition": stages.definition(stage), "stages": stages.STAGES}
    )


class SectionEditForm(forms.Form):
    body = forms.CharField(label=gettext_lazy("Текст (Markdown)"), widget=forms.Textarea(attrs={"rows": 18}))
    change_note = forms.CharField(label=gettext_lazy("Что изменилось"), max_length=300, required=False)


class SectionEditView(CapabilityRequiredMixin, View):
    required_capability = Capability.EDIT_REGULATIONS

    def get(self, request, slug: str):
        section = get_object_or_404(Section, slug=slug)
        version = selectors.current_versions().get(section.pk)
        form = SectionEditForm(initial={"body": version.body if version else ""})
        return render(request, "onboarding/section_edit.html", {"section": section, "form": form})

    def post(self, request, slug: str):
        section = get_object_or_404(Section, slug=slug)
        form = SectionEditForm(request.POST)
        if form.is_valid():
            try:
                services.section_save(acting_user=request.user, section=section, **form.cleaned_data)
            except ValidationError as error:
                form.add_error("body", error.message_dict.get("body", error.messages)[0])
            else:
                messages.success(request, _("Новая версия раздела сохранена; хантеры подтвердят её заново."))
                return redirect("onboarding:section", slug=section.slug)
        return render(request, "onboarding/section_edit.html", {"section": section, "form": form}, status=400)


class SectionHistoryView(ReadRegulationsMixin, View):
    def get(self, request, slug: str):
        section = get_object_or_404(Section, slug=slug)
        versions = list(section.versions.select_related("author"))
        older = request.GET.get("from")
        newer = request.GET.get("to")
        by_number = {str(v.number): v for v in versions}
        diff = None
        if older in by_number and newer in by_number:
            diff = _diff(by_number[older].body, by_number[newer].body)
        elif len(versions) >= 2:
            diff = _diff(versions[1].body, versions[0].body)
            older, newer = str(versions[1].number), str(versions[0].number)
        return render(
            request,
            "onboarding/section_history.html",
            {"section": section, "versions": versions, "diff": diff, "older": older, "newer": newer},
        )


class TestView(ReadRegulationsMixin, View):
    """The test: shuffled questions; after submitting, the score and every explanation."""

    def get(self, request):
        questions = services.test_questions()
        return render(
            request,
            "onboarding/test.html",
            {"questions": questions, "order": ",".join(str(q.pk) for q in questions)},
        )

    def post(self, request):
        try:
            order = [int(part) for part in request.POST.get("order", "").split(",") if part]
            answers = {qid: request.POST.getlist(f"q{qid}") for qid in order}
            attempt = services.attempt_submit(acting_user=request.user, answers=answers, order=order)
        except (ValueError, ValidationError):
            messages.error(request, _("Тест изменился, пока вы отвечали: пройдите его заново."))
            return redirect("onboarding:test")
        return redirect("onboarding:attempt", pk=attempt.pk)


class AttemptView(ReadRegulationsMixin, View):
    def get(self, request, pk: int):
        attempt = get_object_or_404(TestAttempt, pk=pk)
        if attempt.user_id != request.user.pk and not can(request.user, Capability.EDIT_REGULATIONS):
            raise Http404
        answers = attempt.answers.select_related("question").prefetch_related("question__choices")
        return render(request, "onboarding/attempt.html", {"attempt": attempt, "answers": answers})


class ProgressView(CapabilityRequiredMixin, View):
    """The sales head sees every hunter's onboarding."""

    required_capability = Capability.VIEW_ALL_HUNTERS

    def get(self, request):
        hunters = list(User.objects.filter(role=Role.HUNTER, is_active=True).order_by("full_name"))
        return render(request, "onboarding/progress.html", {"rows": selectors.progress_for(hunters)})


class QuestionForm(forms.Form):
    text = forms.CharField(label=gettext_lazy("Вопрос"), widget=forms.Textarea(attrs={"rows": 2}))
    kind = forms.ChoiceField(label=gettext_lazy("Вид"), choices=Question.Kind.choices)
    explanation = forms.CharField(
        label=gettext_lazy("Пояснение после ответа"), widget=forms.Textarea(attrs={"rows": 2})
    )
    is_active = forms.BooleanField(label=gettext_lazy("В тесте"), required=False, initial=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for index in range(1, 6):
            self.fields[f"choice_{index}"] = forms.CharField(
                label=gettext_lazy("Вариант %(n)s") % {"n": index}, required=False, max_length=300
            )
            self.fields[f"correct_{index}"] = forms.BooleanField(label=gettext_lazy("верный"), required=False)

    def choices(self):
        return [
            (self.cleaned_data.get(f"choice_{i}", ""), self.cleaned_data.get(f"correct_{i}", False))
            for i in range(1, 6)
        ]


class QuestionsView(CapabilityRequiredMixin, View):
    """The head keeps the question bank."""

    required_capability = Capability.EDIT_REGULATIONS

    def get(self, request, pk: int | None = None):
        question = get_object_or_404(Question, pk=pk) if pk else None
        initial = {}
        if question:
            initial = {
                "text": question.text,
                "kind": question.kind,
                "explanation": question.explanation,
                "is_active": question.is_active,
            }
            for index, choice in enumerate(question.choices.all(), start=1):
                initial.update({f"choice_{index}": choice.text, f"correct_{index}": choice.is_correct})
        return render(
            request,
            "onboarding/questions.html",
            {
                "questions": Question.objects.prefetch_related("choices"),
                "form": QuestionForm(initial=initial),
                "question": question,
            },
        )

    def post(self, request, pk: int | None = None):
        question = get_object_or_404(Question, pk=pk) if pk else None
        form = QuestionForm(request.POST)
        if form.is_valid():
            try:
                services.question_save(
                    acting_user=request.user,
                    question=question,
                    text=form.cleaned_data["text"],
                    kind=form.cleaned_data["kind"],
                    explanation=form.cleaned_data["explanation"],
                    choices=form.choices(),
                    is_active=form.cleaned_data["is_active"],
                )
            except ValidationError as error:
                form.add_error(None, error)
            else:
                messages.success(request, _("Вопрос сохранён."))
                return redirect("onboarding:questions")
        return render(
            request,
            "onboarding/questions.html",
            {"questions": Question.objects.prefetch_related("choices"), "form": form, "question": question},
            status=400,
        )
