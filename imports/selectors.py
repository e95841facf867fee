"""Reading import jobs: a person finds only the jobs they may see (``ImportJob.objects.visible_to``)."""

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from accounts.models import User

from .models import ImportJob


def import_job_for(*, viewer: User, kind: str, pk: int) -> ImportJob:
    """The job, or 404 when it does not exist, is of another kind or is not the viewer's to see."""
    return get_object_or_404(ImportJob.objects.visible_to(viewer).filter(kind=kind).defer("data"), pk=pk)


def recent_import_jobs(*, viewer: User, kind: str, limit: int = 5) -> QuerySet[ImportJob]:
    """The viewer's own latest jobs of a kind, for the upload page."""
    jobs = ImportJob.objects.filter(owner=viewer, kind=kind).defer("data", "params", "result")
    return jobs.order_by("-created_at", "-pk")[:limit]
