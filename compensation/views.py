from django.views.generic import TemplateView

from accounts.access import CapabilityRequiredMixin
from accounts.roles import Capability


class PaymentsView(CapabilityRequiredMixin, TemplateView):
    """The accountant's home page: payments and receivables."""

    required_capability = Capability.RECORD_PAYMENTS
    template_name = "compensation/payments.html"
