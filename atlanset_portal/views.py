"""Pages over the whole portal rather than one app."""

from django.contrib.auth.decorators import login_not_required
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from django.views.generic import TemplateView

from accounts.access import CapabilityRequiredMixin
from accounts.roles import Capability

from . import audit, health


class AuditView(CapabilityRequiredMixin, TemplateView):
    """The head's audit history: changes to deals, payments, plans, pay schemes, statements, adjustments
    and transfers, resets of authenticator apps, and every export of the client base."""

    required_capability = Capability.VIEW_ALL_HUNTERS
    template_name = "audit.html"

    def get_context_data(self, **kwargs):
        kind = self.request.GET.get("kind", "")
        return super().get_context_data(
            entries=audit.audit_entries(kinds=[kind] if kind in audit.KINDS else None),
            kinds=audit.kind_choices(),
            kind=kind,
            exports=audit.client_exports(),
            **kwargs,
        )


@login_not_required
@require_safe
@never_cache
def health_check(request):
    """200 when the database, the cache and the broker all answer, else 503 naming what is down; open to
    anyone (compose's health check, a monitor), so it says nothing else."""
    down = health.parts_down()
    parts = {name: "down" if name in down else "ok" for name in health.CHECKS}
    return JsonResponse({"status": "unavailable" if down else "ok", **parts}, status=503 if down else 200)


@login_not_required
def csrf_failure(request, reason: str = ""):
    """A form sent from a page opened too long ago (or after signing out elsewhere): said in Russian, in the
    portal's frame, with nothing saved."""
    return render(request, "403_csrf.html", status=403)


@login_not_required
def favicon(request):
    """Browsers ask for /favicon.ico whatever the page links to."""
    return redirect(static("favicon.svg"), permanent=True)
