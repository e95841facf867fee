"""Production's queue: sample requests to prepare and hand over, orders to approve or decline."""

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import TemplateView

from accounts.access import CapabilityRequiredMixin, can
from accounts.roles import Capability

from .. import selectors, services
from ..filters import ProductionHistoryFilter
from ..forms import OrderDecisionForm, SampleStatusForm
from ..models import Deal, Order, OrderVersion, SampleRequest
from .common import flash_errors, get_visible_or_404


class ProductionQueueView(CapabilityRequiredMixin, TemplateView):
    required_capability = Capability.HANDLE_PRODUCTION
    template_name = "deals/production_queue.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(**selectors.production_queue(), **kwargs)


class ProductionHistoryView(CapabilityRequiredMixin, TemplateView):
    """What production has handled: sample requests it acted on and order versions decided, newest
    first, by kind, decision and period."""

    required_capability = Capability.HANDLE_PRODUCTION
    template_name = "deals/production_history.html"
    paginate_by = 25

    def get_context_data(self, **kwargs):
        samples = ProductionHistoryFilter(self.request.GET, queryset=selectors.handled_sample_requests())
        versions = ProductionHistoryFilter(self.request.GET, queryset=selectors.decided_order_versions())
        rows = selectors.production_history_ids(samples.qs, versions.qs)
        page = Paginator(rows, self.paginate_by).get_page(self.request.GET.get("page"))
        return super().get_context_data(
            filter=samples,
            page_obj=page,
            entries=selectors.production_history_entries(page.object_list),
            **kwargs,
        )


class ProductionDealView(LoginRequiredMixin, TemplateView):
    """A read-only summary of the deal behind a request or an order in the queue, for production (which
    does not see the hunters' deal pages) and the sales head; other roles are refused."""

    template_name = "deals/production_deal.html"

    def dispatch(self, request, *args, **kwargs):
        user = request.user
        if user.is_authenticated and not (
            can(user, Capability.HANDLE_PRODUCTION) or can(user, Capability.VIEW_ALL_HUNTERS)
        ):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        try:
            summary = selectors.production_deal_summary(viewer=self.request.user, pk=self.kwargs["pk"])
        except Deal.DoesNotExist:
            raise Http404 from None
        return super().get_context_data(summary=summary, **kwargs)


class SampleStatusView(CapabilityRequiredMixin, View):
    required_capability = Capability.HANDLE_PRODUCTION

    def post(self, request, pk: int):
        sample_request = get_visible_or_404(SampleRequest.objects.all(), pk=pk)
        form = SampleStatusForm(request.POST)
        if not form.is_valid():
            for messages_of_field in form.errors.values():
                for message in messages_of_field:
                    messages.error(request, _("Статус заявки не изменён: %(reason)s") % {"reason": message})
            return redirect(reverse("deals:production_queue") + f"#sample-{sample_request.pk}")
        try:
            services.sample_request_set_status(
                acting_user=request.user, request=sample_request, **form.cleaned_data
            )
        except (services.DealRuleError, ValidationError) as error:
            flash_errors(request, error, prefix=_("Статус заявки не изменён: "))
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
