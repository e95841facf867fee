from django.contrib import admin

from .models import Notification


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["for_day", "recipient", "kind", "title", "read_at", "email_state"]
    list_filter = ["kind", "email_state", "for_day"]
    search_fields = ["title", "recipient__full_name", "recipient__username"]
    readonly_fields = [field.name for field in Notification._meta.fields]
