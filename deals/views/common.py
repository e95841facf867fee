"""What the client and deal views share: scoping to 404, and turning service refusals into messages."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.utils.http import url_has_allowed_host_and_scheme
from django_filters.views import FilterView

from accounts.access import can
from accounts.roles import Capability

from ..services import DealRuleError


def get_visible_or_404(queryset, **lookup):
    """A missing object and one the user may not see both answer 404."""
    try:
        return queryset.get(**lookup)
    except queryset.model.DoesNotExist:
        raise Http404 from None


def safe_next(request) -> str:
    """The page to return to (a form's ``next``), if it is one of the portal's own."""
    target = request.POST.get("next", "")
    return target if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}) else ""


def error_messages(error: Exception) -> list[str]:
    if isinstance(error, DealRuleError):
        return error.messages
    if isinstance(error, ValidationError):
        return [str(message) for message in error.messages]
    return [str(error)]


def add_form_errors(form, error: ValidationError) -> None:
    """Puts a service's ValidationError on the form: by field where it names one the form has."""
    if hasattr(error, "error_dict"):
        for field, field_errors in error.error_dict.items():
            target = field if field in form.fields else None
            for field_error in field_errors:
                form.add_error(target, field_error)
    else:
        for message in error.messages:
            form.add_error(None, message)


def flash_errors(request, error: Exception, prefix: str = "") -> None:
    for message in error_messages(error):
        messages.error(request, f"{prefix}{message}")


class ScopedListView(FilterView):
    """A filtered, paginated list for whoever works the pipeline or sees deals from stage 6 on; the
    queryset itself is scoped by the model's ``visible_to``."""

    paginate_by = 50

    def dispatch(self, request, *args, **kwargs):
        if not (
            can(request.user, Capability.WORK_PIPELINE) or can(request.user, Capability.VIEW_FINANCE_DEALS)
        ):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)
