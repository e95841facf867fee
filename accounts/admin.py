from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django_otp.plugins.otp_totp.models import TOTPDevice

from .models import SecondFactorReset, User
from .services import user_set_role
from .two_factor import second_factor_reset


class SecondFactorResetActionMixin:
    """The one way to change someone's authenticator app in the admin: reset it (a superuser only, on record);
    the owner sets a new one up at the next sign-in."""

    def has_reset_second_factor_permission(self, request) -> bool:
        return request.user.is_active and request.user.is_superuser

    def reset_second_factor_of(self, request, users) -> None:
        for user in users:
            second_factor_reset(user=user, acting_user=request.user)
        count = len(users)
        self.message_user(
            request,
            ngettext(
                "Приложение-аутентификатор сброшено у %(count)d пользователя: при следующем входе он "
                "настроит его заново.",
                "Приложение-аутентификатор сброшено у %(count)d пользователей: при следующем входе они "
                "настроят его заново.",
                count,
            )
            % {"count": count},
            messages.SUCCESS,
        )


@admin.register(User)
class UserAdmin(SecondFactorResetActionMixin, BaseUserAdmin):
    list_display = ["username", "full_name", "role", "extension", "email", "is_active"]
    list_filter = ["role", "is_active", "is_superuser"]
    search_fields = ["username", "full_name", "email", "extension"]
    ordering = ["full_name"]
    fieldsets = [
        (None, {"fields": ["username", "password"]}),
        (_("Сотрудник"), {"fields": ["full_name", "email", "role", "extension", "personnel_number"]}),
        (_("Доступ"), {"fields": ["is_active", "is_staff", "is_superuser", "user_permissions"]}),
        (_("Даты"), {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [
        (None, {"fields": ["username", "full_name", "role", "extension", "password1", "password2"]}),
    ]
    actions = ["reset_second_factor"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        # The role's group follows the role field; the service keeps them in step.
        if "role" in form.changed_data or not change:
            user_set_role(user=obj, role=obj.role)

    @admin.action(description=_("Сбросить приложение-аутентификатор"), permissions=["reset_second_factor"])
    def reset_second_factor(self, request, queryset):
        self.reset_second_factor_of(request, list(queryset))


# django-otp's own admin for TOTP devices shows and edits each device's secret key and QR code: whoever
# reads it can sign in as that person. This one shows whose app it is and when it was last used, nothing
# more, and changes nothing but by the audited reset.
if admin.site.is_registered(TOTPDevice):
    admin.site.unregister(TOTPDevice)


@admin.register(TOTPDevice)
class AuthenticatorAppAdmin(SecondFactorResetActionMixin, admin.ModelAdmin):
    list_display = ["user", "name", "confirmed", "last_used_at"]
    list_filter = ["confirmed"]
    search_fields = ["user__username", "user__full_name"]
    fields = ["user", "name", "confirmed", "last_used_at"]
    readonly_fields = fields
    actions = ["reset_second_factor"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(
        description=_("Сбросить: владелец настроит приложение заново"), permissions=["reset_second_factor"]
    )
    def reset_second_factor(self, request, queryset):
        self.reset_second_factor_of(request, list(User.objects.filter(pk__in=queryset.values("user"))))


@admin.register(SecondFactorReset)
class SecondFactorResetAdmin(admin.ModelAdmin):
    list_display = ["at", "user", "by", "devices"]
    list_select_related = ["user", "by"]
    fields = ["at", "user", "by", "devices"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
