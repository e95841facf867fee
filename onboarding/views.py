from django.http import Http404
from django.shortcuts import render

from deals import stages


def stage_regulation(request, stage: str):
    """A stage's regulation page: its last action and exit criteria, read from the pipeline's definition."""
    if stage not in stages.BY_STAGE:
        raise Http404
    definition = stages.definition(stage)
    return render(request, "onboarding/stage.html", {"definition": definition, "stages": stages.STAGES})
