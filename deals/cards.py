"""The board's deal cards, rendered in Python.

A hunter's board can hold 500 cards; through the template engine each card costs a dozen variable
lookups with autoescaping (about 0.15 ms), which made the board miss its 150 ms target. Built here
with ``format_html`` (which escapes every value), a card costs a few microseconds. The markup is the
same as the rest of the board's template (deals/templates/deals/board.html).
"""

from datetime import date
from urllib.parse import quote

from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from atlanset_portal.icons import icon_html
from atlanset_portal.templatetags.formatting import rub

from .models import Client, Deal
from .reach import map_href, phone_reach

_CARD = (
    '<article class="board-card card card-body p-2{overdue_class}" draggable="true"'
    ' data-deal-url="{advance}">'
    '<a href="{detail}" class="fw-semibold text-decoration-none">{client}</a>'
    "{title}"
    '<div class="small d-flex justify-content-between gap-2">'
    '<span class="money">{amount}</span>{next_contact}</div>'
    "{owner}"
    '<div class="d-flex flex-wrap gap-1 mt-1">'
    '<button type="submit" form="board-advance" formaction="{advance}"'
    ' class="btn btn-sm btn-outline-success py-0">{button}</button>'
    '<a class="btn btn-sm btn-outline-secondary py-0" href="{activity}" title="{activity_label}">'
    "{activity_icon}"
    '<span class="visually-hidden">{activity_label}</span></a>'
    '<span class="ms-auto d-flex gap-1">{reach}</span>'
    "</div></article>"
)
# One-tap contact on a card: the links come from deals.reach, as on every other page (deals/_reach.html).
_REACH = (
    '<a class="btn btn-sm {style} py-0 reach-icon" href="{href}" title="{label}"{new_tab}>'
    '{icon}<span class="visually-hidden">{label}</span></a>'
)
_NEW_TAB = mark_safe(' target="_blank" rel="noopener"')


class CardRenderer:
    """Renders the cards of one board page; links and labels are worked out once per page."""

    def __init__(self, *, today: date, board_path: str, show_owner: bool):
        marker = 2147483647
        self.detail = reverse("deals:detail", args=[marker]).replace(str(marker), "{}")
        self.advance = reverse("deals:advance", args=[marker]).replace(str(marker), "{}")
        self.activity = reverse("kpi:activity_create") + "?deal={}&next=" + quote(board_path, safe="")
        self.today = today
        self.show_owner = show_owner
        # Drawn once per page: each card repeats the same few icons of the sprite.
        self.icons = {
            name: icon_html(name) for name in ("pen", "phone", "whatsapp", "telegram", "location-dot")
        }
        self.labels = {
            "next": _("Дальше") + " →",
            "close": _("Закрыть"),
            "activity": _("Записать активность"),
            "next_contact": _("Следующий контакт"),
            "call": _("Позвонить"),
            "whatsapp": _("Написать в WhatsApp"),
            "telegram": _("Написать в Telegram"),
            "map": _("Открыть в Яндекс Картах"),
        }

    def reach(self, client: Client) -> SafeString:
        """Call, WhatsApp and Telegram for the client's first phone, and the map; ``client.phones`` is
        prefetched (deals.selectors.board_columns)."""
        links = []  # (href, button colour, icon, label, what the label names)
        phones = list(client.phones.all())
        if phones:
            phone = phone_reach(phones[0].number, phones[0].extension)
            links += [
                (phone.tel, "success", self.icons["phone"], "call", phone.label),
                (phone.whatsapp, "success", self.icons["whatsapp"], "whatsapp", phone.label),
                (phone.telegram, "primary", self.icons["telegram"], "telegram", phone.label),
            ]
        place = map_href(client.address, client.city)
        links.append((place, "secondary", self.icons["location-dot"], "map", client.address))
        return mark_safe(
            "".join(
                format_html(
                    _REACH,
                    href=href,
                    style=f"btn-outline-{colour}",
                    icon=icon,
                    label=f"{self.labels[kind]}: {what}",
                    # A call stays on the page; messengers and the map open their app or a tab.
                    new_tab="" if href.startswith("tel:") else _NEW_TAB,
                )
                for href, colour, icon, kind, what in links
                if href
            )
        )

    def card(self, deal: Deal, *, last_stage: bool) -> SafeString:
        overdue = deal.next_contact_on is not None and deal.next_contact_on < self.today
        next_contact = ""
        if deal.next_contact_on:
            next_contact = format_html(
                '<span class="{}" title="{}">{}</span>',
                "text-danger fw-semibold" if overdue else "",
                self.labels["next_contact"],
                f"{deal.next_contact_on:%d.%m}",
            )
        return format_html(
            _CARD,
            overdue_class=" overdue" if overdue else "",
            advance=self.advance.format(deal.pk),
            detail=self.detail.format(deal.pk),
            client=deal.client.name,
            title=format_html('<div class="small">{}</div>', deal.title) if deal.title else "",
            amount=rub(deal.amount) if deal.amount else "—",
            next_contact=next_contact,
            owner=format_html('<div class="small text-body-secondary">{}</div>', deal.owner)
            if self.show_owner
            else "",
            button=self.labels["close"] if last_stage else self.labels["next"],
            activity=self.activity.format(deal.pk),
            activity_label=self.labels["activity"],
            activity_icon=self.icons["pen"],
            reach=self.reach(deal.client),
        )
