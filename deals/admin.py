from django.contrib import admin

from .models import (
    Client,
    ClientPhone,
    Contact,
    Deal,
    LostReason,
    OrderVersion,
    OrderVersionLine,
    PaymentTermsRequest,
    Product,
    StageChange,
    Transfer,
)
from .services import client_search_texts_rebuild


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["name", "unit", "list_price", "cost", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["name"]


@admin.register(LostReason)
class LostReasonAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "requires_note", "is_active", "position"]
    list_editable = ["requires_note", "is_active", "position"]


class ClientPhoneInline(admin.TabularInline):
    model = ClientPhone
    extra = 0


class ContactInline(admin.TabularInline):
    model = Contact
    extra = 0


@admin.register(Client)
class ClientAdmin(admin.ModelAdmin):
    """Read-mostly: cards are created and changed through the portal's pages and their rules."""

    list_display = ["name", "owner", "segment", "source", "inn", "created_at"]
    list_filter = ["source", "owner"]
    search_fields = ["name", "inn", "phones__number"]
    inlines = [ClientPhoneInline, ContactInline]
    # Payment terms are set by the head or the accountant on the client's card (deals.services).
    readonly_fields = [
        "owner",
        "created_by",
        "created_at",
        "payment_terms",
        "deferred_days",
        "deferred_in_working_days",
        "deferred_limit",
        "consignment_cadence",
    ]

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # The card, phones and contacts edited here skip the services: the search follows them all the same.
        client_search_texts_rebuild(client=form.instance)


class StageChangeInline(admin.TabularInline):
    model = StageChange
    extra = 0
    can_delete = False
    readonly_fields = ["kind", "from_stage", "to_stage", "by", "at", "comment"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Deal)
class DealAdmin(admin.ModelAdmin):
    """Stages change only through the portal's deal page, which checks the exit criteria."""

    list_display = ["__str__", "client", "owner", "stage", "status", "is_new_client", "created_at"]
    list_filter = ["stage", "status", "is_new_client"]
    search_fields = ["client__name", "title"]
    readonly_fields = [
        "client",
        "owner",
        "stage",
        "status",
        "is_new_client",
        "lost_reason",
        "created_by",
        "created_at",
        "stage_entered_at",
        "closed_at",
    ]
    inlines = [StageChangeInline]


@admin.register(Transfer)
class TransferAdmin(admin.ModelAdmin):
    list_display = ["client", "deal", "from_owner", "to_owner", "by", "at", "return_on"]
    readonly_fields = ["client", "deal", "from_owner", "to_owner", "by", "at"]


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records of decisions: read here, written only by the services that check the rules."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class OrderVersionLineInline(admin.TabularInline):
    model = OrderVersionLine
    extra = 0
    can_delete = False
    readonly_fields = ["product", "quantity", "price", "cost"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(OrderVersion)
class OrderVersionAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "status", "total", "created_by", "created_at", "decided_by", "decided_at"]
    list_filter = ["status"]
    search_fields = ["order__deal__client__name"]
    inlines = [OrderVersionLineInline]


@admin.register(PaymentTermsRequest)
class PaymentTermsRequestAdmin(ReadOnlyAdmin):
    list_display = [
        "client",
        "payment_terms",
        "status",
        "requested_by",
        "requested_at",
        "decided_by",
        "decided_at",
    ]
    list_filter = ["status", "payment_terms"]
    search_fields = ["client__name"]
