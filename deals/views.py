from django.views.generic import TemplateView

from accounts.access import CapabilityRequiredMixin
from accounts.roles import Capability


class ProductionQueueView(CapabilityRequiredMixin, TemplateView):
    """Production's home page: sample requests and orders waiting for a decision."""

    required_capability = Capability.HANDLE_PRODUCTION
    template_name = "deals/production_queue.html"
