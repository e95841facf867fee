"""Production's queue: sample requests to prepare and hand over, orders to approve or decline."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import TemplateView

from accounts.access import CapabilityRequiredMixin
from accounts.roles import Capability

from .. import selectors, services
from ..forms import OrderDecisionForm, SampleStatusForm
from ..models import Order, OrderVersion, SampleRequest
from .common import flash_errors, get_visible_or_404


class ProductionQueueView(CapabilityRequiredMixin, TemplateView):
    required_capability = Capability.HANDLE_PRODUCTION
    template_name = "deals/production_queue.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(**selectors.production_queue(), **kwargs)


class SampleStatusView(CapabilityRequiredMixin, View):
    required_capability = Capability.HANDLE_PRODUCTION

    def post(self, request, pk: int):
        sample_request = get_visible_or_404(SampleRequest.objects.all(), pk=pk)
        form = SampleStatusForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("Неизвестный статус заявки."))
            return redirect("deals:production_queue")
        try:
            services.sample_request_set_status(
                acting_user=request.user, request=sample_request, **form.cleaned_data
            )
        except (services.DealRuleError, ValidationError) as error:
            flash_errors(request, error)
        else:
            messages.success(request, _("Статус заявки обновлён."))
        return redirect("deals:production_queue")


class OrderDecisionView(CapabilityRequiredMixin, View):
    """Production's decision on an order's version waiting for approval: a new order or a change."""

    required_capability = Capability.HANDLE_PRODUCTION

    def post(self, request, pk: int):
        order = get_visible_or_404(Order.objects.all(), pk=pk)
        form = OrderDecisionForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("Выберите: согласовать или отклонить."))
            return redirect("deals:production_queue")
        version = OrderVersion.objects.filter(
            order=order, pk=form.cleaned_data["version"], status=OrderVersion.Status.PENDING
        ).first()
        if version is None:
            messages.error(request, _("Заказ изменился, пока была открыта очередь: проверьте новую версию."))
            return redirect("deals:production_queue")
        try:
            services.order_version_decide(
                acting_user=request.user,
                version=version,
                approve=form.cleaned_data["approve"],
                comment=form.cleaned_data["comment"],
            )
        except (services.DealRuleError, ValidationError) as error:
            flash_errors(request, error)
        else:
            messages.success(request, _("Решение по заказу записано."))
        return redirect("deals:production_queue")
