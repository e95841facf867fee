"""The header's search box: clients, deals and contacts as the person types (htmx), or as a page."""

from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.views import View

from accounts.access import can
from accounts.roles import Capability

from .. import selectors

QUERY_MAX_LENGTH = 200
DROPDOWN_LIMIT = 8  # of each kind, under the box
PAGE_LIMIT = 50


class SearchView(View):
    """For whoever works with clients or deals (hunters, the head, the accountant); each list is scoped as
    its page is. An htmx request (the box, as one types) gets the results fragment only, rendered without
    the page's frame and its queries; submitting the box opens the results as a page."""

    def dispatch(self, request, *args, **kwargs):
        user = request.user
        if not (can(user, Capability.WORK_PIPELINE) or can(user, Capability.VIEW_FINANCE_DEALS)):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def get(self, request):
        text = request.GET.get("q", "")[:QUERY_MAX_LENGTH]
        limit = DROPDOWN_LIMIT if request.htmx else PAGE_LIMIT
        context = {"q": text, "results": selectors.portal_search(viewer=request.user, text=text, limit=limit)}
        if request.htmx:
            context["dropdown"] = True
            return HttpResponse(render_to_string("deals/search.html#results", context))
        return render(request, "deals/search.html", context)
