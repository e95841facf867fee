"""The payment list: every payment and refund the reader may see, filtered as the dashboard links to it."""

from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django_filters.views import FilterView

from accounts.access import can
from accounts.roles import Capability
from atlanset_portal.money import MoneySum

from .. import selectors
from ..filters import PaymentFilter

# Who may open the list; what each sees of it is Payment.objects.visible_to.
READERS = (
    Capability.VIEW_ALL_HUNTERS,
    Capability.RECORD_PAYMENTS,
    Capability.LOCK_STATEMENTS,
    Capability.WORK_PIPELINE,
)


class PaymentListView(FilterView):
    filterset_class = PaymentFilter
    template_name = "deals/payment_list.html"
    paginate_by = 50

    def dispatch(self, request, *args, **kwargs):
        if not any(can(request.user, capability) for capability in READERS):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.payment_list(viewer=self.request.user)

    def get_filterset_kwargs(self, filterset_class):
        kwargs = super().get_filterset_kwargs(filterset_class)
        user = self.request.user
        kwargs["show_hunter"] = any(can(user, capability) for capability in READERS[:3])
        return kwargs

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        # The count and the sum of everything the filters select, not only of the page shown.
        context["totals"] = self.object_list.order_by().aggregate(count=Count("pk"), total=MoneySum("amount"))
        return context
