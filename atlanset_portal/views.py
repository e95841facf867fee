"""Pages over the whole portal rather than one app."""

from django.views.generic import TemplateView

from accounts.access import CapabilityRequiredMixin
from accounts.roles import Capability

from . import audit


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
