from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Пользователи и роли")

    def ready(self):
        from django.contrib.auth.signals import user_logged_in

        from atlanset_portal.middleware import renew_at_sign_in

        user_logged_in.connect(renew_at_sign_in, dispatch_uid="portal-session-renewed-at-sign-in")
