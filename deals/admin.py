from django.contrib import admin

from .models import Client, ClientPhone, Contact, Deal, LostReason, Product, StageChange, Transfer


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
    readonly_fields = ["owner", "created_by", "created_at"]


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
