"""What waits for the sales head's word: requests for payment terms and orders over a deferred limit."""

from django.views.generic import TemplateView

from accounts.access import CapabilityRequiredMixin
from accounts.roles import Capability

from .. import selectors


class HeadApprovalsView(CapabilityRequiredMixin, TemplateView):
    required_capability = Capability.VIEW_ALL_HUNTERS
    template_name = "deals/head_approvals.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(approvals=selectors.head_approvals(), **kwargs)
