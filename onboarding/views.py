"""The regulations, acknowledgements, the test and everyone's progress."""

import difflib
import math
import re

from django import forms
from django.conf import settings
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
from .models import Acknowledgement, Question, Section, TestAttempt, TestDraw


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
                "next_attempt_at": selectors.next_attempt_at(request.user),
                "questions_asked": settings.ONBOARDING_TEST_QUESTIONS,
                "pass_mark": settings.ONBOARDING_PASS_MARK,
                "wait_minutes": settings.ONBOARDING_RETRY_WAIT_MINUTES,
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


ANSWER_FIELD = re.compile(r"q\d{1,18}")


class TestView(ReadRegulationsMixin, View):
    """The test: the person's drawn questions (the same on a reload); after an accepted attempt, its
    result. A sheet with unanswered questions comes back with the error and what was ticked."""

    def get(self, request):
        try:
            draw = services.test_draw(acting_user=request.user)
        except services.TestWait as wait:
            return self.render_wait(request, wait.until)
        questions = selectors.drawn_questions(draw) if draw else []
        return self.render_test(request, questions)

    def post(self, request):
        # Each question's choices come as q<question id>; the service refuses ids that were not drawn.
        answers = {
            int(key[1:]): request.POST.getlist(key) for key in request.POST if ANSWER_FIELD.fullmatch(key)
        }
        try:
            attempt = services.attempt_submit(acting_user=request.user, answers=answers)
        except services.NoTestDrawn:
            messages.error(request, _("Эти ответы уже приняты или тест не был открыт: откройте тест снова."))
            return redirect("onboarding:test")
        except services.TestChanged:
            messages.error(request, _("Тест изменился, пока вы отвечали: пройдите его заново."))
            return redirect("onboarding:test")
        except ValidationError as error:
            draw = TestDraw.objects.filter(user=request.user).first()
            questions = (selectors.drawn_questions(draw) if draw else None) or []
            unanswered = set(getattr(error, "positions", ()))
            for position, question in enumerate(questions, start=1):
                question.ticked = set(answers.get(question.pk, ()))
                question.unanswered = position in unanswered
            return self.render_test(request, questions, error=" ".join(error.messages), status=400)
        return redirect("onboarding:attempt", pk=attempt.pk)

    def render_test(self, request, questions, *, error: str = "", status: int = 200):
        context = {
            "questions": questions,
            "error": error,
            "pass_mark": settings.ONBOARDING_PASS_MARK,
            "wait_minutes": settings.ONBOARDING_RETRY_WAIT_MINUTES,
        }
        return render(request, "onboarding/test.html", context, status=status)

    def render_wait(self, request, until):
        now = timezone.now()
        context = {
            "wait_until": until,
            "wait_other_day": timezone.localdate(until) != timezone.localdate(now),
            "minutes_left": math.ceil((until - now).total_seconds() / 60),
            "last_attempt": TestAttempt.objects.filter(user=request.user).order_by("-finished_at").first(),
        }
        return render(request, "onboarding/test_wait.html", context)


class AttemptView(ReadRegulationsMixin, View):
    """An attempt's result. The right answers and explanations only after a pass (and always for the
    head, who keeps the bank); a failed attempt names the questions answered wrongly and links their
    sections of the regulations, so a retry cannot be learnt from the result page."""

    def get(self, request, pk: int):
        attempt = get_object_or_404(TestAttempt, pk=pk)
        keeps_bank = can(request.user, Capability.EDIT_REGULATIONS)
        if attempt.user_id != request.user.pk and not keeps_bank:
            raise Http404
        answers = list(
            attempt.answers.select_related("question__section").prefetch_related("question__choices")
        )
        show_answers = attempt.passed or keeps_bank
        return render(
            request,
            "onboarding/attempt.html",
            {
                "attempt": attempt,
                "answers": answers,
                "show_answers": show_answers,
                "wrong": [answer for answer in answers if answer.points < 1],
                "right_count": sum(1 for answer in answers if answer.points == 1),
                "next_attempt_at": None if show_answers else selectors.next_attempt_at(attempt.user),
            },
        )


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
    section = forms.ModelChoiceField(
        label=gettext_lazy("Раздел регламента с ответом"),
        queryset=Section.objects.all(),
        required=False,
        help_text=gettext_lazy("Не сдавшему тест портал показывает ссылку на него вместо верного ответа."),
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
                "section": question.section_id,
                "is_active": question.is_active,
            }
            for index, choice in enumerate(question.choices.all(), start=1):
                initial.update({f"choice_{index}": choice.text, f"correct_{index}": choice.is_correct})
        return self.render_bank(request, QuestionForm(initial=initial), question)

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
                    section=form.cleaned_data["section"],
                )
            except ValidationError as error:
                form.add_error(None, error)
            else:
                messages.success(request, _("Вопрос сохранён."))
                return redirect("onboarding:questions")
        return self.render_bank(request, form, question, status=400)

    def render_bank(self, request, form, question, *, status: int = 200):
        questions = list(Question.objects.select_related("section"))
        active = sum(1 for item in questions if item.is_active)
        context = {
            "questions": questions,
            "form": form,
            "question": question,
            "active_count": active,
            "bank_min": settings.ONBOARDING_QUESTION_BANK_MIN,
            "asked": min(settings.ONBOARDING_TEST_QUESTIONS, active),
        }
        return render(request, "onboarding/questions.html", context, status=status)
