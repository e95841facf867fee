"""How pickers name deals and meetings. A deal: the client's name first, then the deal (its title, else its
stage). A meeting (any activity): its local date and time first, then the client and the deal — on a
phone a closed dropdown shows only its first thirty characters or so, and the moment is what tells two
meetings with one client apart. One label for every dropdown, so a hunter reads the same words
everywhere and never «Сделка №4» or a UTC time."""

from datetime import date, datetime

from django.utils import timezone
from django.utils.translation import gettext as _

from .models import Client, Deal
from .stages import DealStatus


def _deal_words(deal: Deal) -> str:
    stage = deal.get_stage_display()
    if deal.status != DealStatus.OPEN:
        stage = f"{stage}, {deal.get_status_display().lower()}"
    return f"{deal.title} ({stage})" if deal.title else stage


def moment_label(at: datetime, *, today: date | None = None) -> str:
    """«07.12 11:15» in the local time; the year is added for a moment of another year."""
    local = timezone.localtime(at)
    today = today or timezone.localdate()
    return f"{local:%d.%m %H:%M}" if local.year == today.year else f"{local:%d.%m.%Y %H:%M}"


def _client_words(client: Client | None) -> str:
    return client.name if client is not None else _("без клиента")


def deal_picker_label(deal: Deal) -> str:
    """«Салон «Лотос» — Поставка к весне (Дожим)» (load the deal with ``client``)."""
    return f"{_client_words(deal.client)} — {_deal_words(deal)}"


def event_picker_label(event, *, today: date | None = None) -> str:
    """«07.12 14:30 — Салон «Лотос» — Поставка к весне (Дожим)» (load the activity with ``client`` and
    ``deal``)."""
    parts = [moment_label(event.at, today=today), _client_words(event.client)]
    if event.deal is not None:
        parts.append(_deal_words(event.deal))
    return " — ".join(parts)
