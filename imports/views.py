"""The page of one import job: its state while it runs (the page polls a fragment of itself with htmx)
and, once it is over, the same report the import's own page gave when imports ran in the request."""

from django.shortcuts import render
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.vary import vary_on_headers

from accounts.access import CapabilityRequiredMixin

from .models import ImportJob
from .selectors import import_job_for

POLL_SECONDS = 2


@method_decorator([never_cache, vary_on_headers("HX-Request")], name="dispatch")
class ImportJobView(CapabilityRequiredMixin, View):
    """Subclassed by each import: ``kind``, ``required_capability``, ``title``, ``result_template`` (the
    report, given ``job`` and ``result``), ``back_url`` (the upload page) and, if the report needs more
    than the stored result, ``report_context``."""

    kind: str
    title: str
    result_template: str
    back_url: str
    template_name = "imports/job.html"

    def get(self, request, pk: int):
        job = import_job_for(viewer=request.user, kind=self.kind, pk=pk)
        context = {
            "job": job,
            "result": job.result,
            "title": self.title,
            "result_template": self.result_template,
            "back_url": self.back_url,
            "poll_seconds": POLL_SECONDS,
        }
        if job.is_finished:
            context.update(self.report_context(job))
        template = f"{self.template_name}#job-status" if request.htmx else self.template_name
        return render(request, template, context)

    def report_context(self, job: ImportJob) -> dict:
        return {}
