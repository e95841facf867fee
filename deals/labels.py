"""How pickers name deals and meetings: the client's name first, then the deal (its title, else its stage)
and, for an event, its local date and time. One label for every dropdown, so a hunter reads the same
words everywhere and never «Сделка №4» or a UTC time."""

from datetime import datetime

from django.utils import timezone
from django.utils.translation import gettext as _

from .models import Client, Deal
from .stages import DealStatus


def _deal_words(deal: Deal) -> str:
    stage = deal.get_stage_display()
    if deal.status != DealStatus.OPEN:
        stage = f"{stage}, {deal.get_status_display().lower()}"
    return f"{deal.title} ({stage})" if deal.title else stage


def picker_label(*, client: Client | None, deal: Deal | None = None, at: datetime | None = None) -> str:
    """«Салон «Лотос» — 12.03.2026 14:30 — Поставка к весне (Дожим)»: the parts that are given."""
    parts = [client.name if client is not None else _("без клиента")]
    if at is not None:
        parts.append(f"{timezone.localtime(at):%d.%m.%Y %H:%M}")
    if deal is not None:
        parts.append(_deal_words(deal))
    return " — ".join(parts)


def deal_picker_label(deal: Deal) -> str:
    """A deal in a dropdown (load it with ``client``)."""
    return picker_label(client=deal.client, deal=deal)


def event_picker_label(event) -> str:
    """A meeting (any activity) in a dropdown, at its local time (load it with ``client`` and ``deal``)."""
    return picker_label(client=event.client, deal=event.deal, at=event.at)
