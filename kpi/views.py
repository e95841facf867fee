from django.utils import timezone
from django.views.generic import TemplateView

from accounts.access import CapabilityRequiredMixin
from accounts.models import User
from accounts.roles import Capability, Role
from deals.selectors import quality_claims


class MyDayView(CapabilityRequiredMixin, TemplateView):
    """The hunter's home page."""

    required_capability = Capability.WORK_PIPELINE
    template_name = "kpi/my_day.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(today=timezone.localdate(), **kwargs)


class DashboardView(CapabilityRequiredMixin, TemplateView):
    """The sales head's home page: the department at a glance."""

    required_capability = Capability.VIEW_ALL_HUNTERS
    template_name = "kpi/dashboard.html"

    def get_context_data(self, **kwargs):
        hunters = User.objects.filter(role=Role.HUNTER, is_active=True).order_by("full_name")
        return super().get_context_data(
            today=timezone.localdate(), hunters=hunters, quality_claims=quality_claims(days=60), **kwargs
        )
