"""Reference lists the sales head keeps: the product catalogue and the refusal reasons."""

from django import forms
from django.contrib import messages
from django.urls import reverse_lazy
from django.utils.translation import gettext_lazy as _
from django.views.generic import CreateView, ListView, UpdateView

from accounts.access import CapabilityRequiredMixin
from accounts.roles import Capability

from ..models import LostReason, Product


class ProductForm(forms.ModelForm):
    class Meta:
        model = Product
        fields = ["name", "unit", "list_price", "cost", "is_active"]


class LostReasonForm(forms.ModelForm):
    class Meta:
        model = LostReason
        fields = ["name", "requires_note", "is_active", "position"]


class ProductListView(CapabilityRequiredMixin, ListView):
    required_capability = Capability.WORK_PIPELINE
    model = Product
    template_name = "deals/product_list.html"
    paginate_by = 100


class HeadEditsMixin(CapabilityRequiredMixin):
    required_capability = Capability.MANAGE_PLANS
    template_name = "deals/catalogue_form.html"
    saved_message = _("Сохранено.")

    def form_valid(self, form):
        messages.success(self.request, self.saved_message)
        return super().form_valid(form)


class ProductCreateView(HeadEditsMixin, CreateView):
    form_class = ProductForm
    success_url = reverse_lazy("deals:products")
    extra_context = {"title": _("Новый товар")}


class ProductUpdateView(HeadEditsMixin, UpdateView):
    model = Product
    form_class = ProductForm
    success_url = reverse_lazy("deals:products")
    extra_context = {"title": _("Товар")}


class LostReasonListView(HeadEditsMixin, ListView):
    model = LostReason
    template_name = "deals/lost_reason_list.html"


class LostReasonCreateView(HeadEditsMixin, CreateView):
    form_class = LostReasonForm
    success_url = reverse_lazy("deals:lost_reasons")
    extra_context = {"title": _("Новая причина отказа")}


class LostReasonUpdateView(HeadEditsMixin, UpdateView):
    model = LostReason
    form_class = LostReasonForm
    success_url = reverse_lazy("deals:lost_reasons")
    extra_context = {"title": _("Причина отказа")}
