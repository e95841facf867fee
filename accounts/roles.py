"""The portal's roles and what each may do (SPEC §1).

A role is a field on the user and a group of the same code holding the role's permissions; the
capabilities below are those permissions. ``accounts.access`` answers every "may this user…" question.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    HUNTER = "hunter", _("Хантер")
    SALES_HEAD = "sales_head", _("Руководитель отдела продаж")
    ACCOUNTANT = "accountant", _("Бухгалтер")
    PRODUCTION = "production", _("Производство")


class Capability(models.TextChoices):
    """Permission codenames of the ``accounts`` app; the label is what the admin shows."""

    WORK_PIPELINE = "work_pipeline", _("Вести клиентов и сделки")
    VIEW_ALL_HUNTERS = "view_all_hunters", _("Видеть клиентов, сделки и показатели всех хантеров")
    MANAGE_PLANS = "manage_plans", _("Устанавливать планы и схему оплаты")
    EDIT_REGULATIONS = "edit_regulations", _("Редактировать регламенты и тест")
    TRANSFER_CLIENTS = "transfer_clients", _("Передавать клиентов и сделки")
    APPROVE_STATEMENTS = "approve_statements", _("Утверждать расчётные листы и расходы")
    VIEW_FINANCE_DEALS = "view_finance_deals", _("Видеть сделки с этапа «Сделка»")
    RECORD_PAYMENTS = "record_payments", _("Вносить оплаты, возвраты и счета")
    LOCK_STATEMENTS = "lock_statements", _("Закрывать и выплачивать расчётные листы")
    HANDLE_PRODUCTION = "handle_production", _("Обрабатывать заявки на пробники и заказы")
    EXPORT_CLIENT_BASE = "export_client_base", _("Выгружать всю клиентскую базу")


# What each role's group is given by the data migration. Exporting the client base is given to no
# role: the admin grants it to a person explicitly.
ROLE_CAPABILITIES: dict[Role, frozenset[Capability]] = {
    Role.HUNTER: frozenset({Capability.WORK_PIPELINE}),
    Role.SALES_HEAD: frozenset(
        {
            Capability.WORK_PIPELINE,
            Capability.VIEW_ALL_HUNTERS,
            Capability.MANAGE_PLANS,
            Capability.EDIT_REGULATIONS,
            Capability.TRANSFER_CLIENTS,
            Capability.APPROVE_STATEMENTS,
        }
    ),
    Role.ACCOUNTANT: frozenset(
        {Capability.VIEW_FINANCE_DEALS, Capability.RECORD_PAYMENTS, Capability.LOCK_STATEMENTS}
    ),
    Role.PRODUCTION: frozenset({Capability.HANDLE_PRODUCTION}),
}
