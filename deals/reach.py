"""One tap to reach a client: the links every page builds from a client's phones, e-mail, site and address.

The template tags of ``deals/templatetags/reach.py`` and the board's cards (``deals/cards.py``) both take
their links from here, so a call, a messenger or the map opens the same way wherever a client appears.
"""

import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import quote

from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from atlanset_portal.icons import icon_html
from atlanset_portal.markup import fill

from .phones import format_phone, is_russian_mobile

YANDEX_MAPS = "https://yandex.ru/maps/?text="
_SCHEME = re.compile(r"^https?://", re.IGNORECASE)


@dataclass(frozen=True)
class PhoneReach:
    label: str  # «+7 3462 55-12-34 доб. 123»
    number_label: str  # «+7 3462 55-12-34»: a narrow screen breaks the line before the extension only
    extension_label: str  # «доб. 123», or ""
    tel: str  # tel:+73462551234,123 — the comma is the dialler's pause before the extension
    whatsapp: str  # "" unless a Russian mobile number
    telegram: str


def tel_href(number: str, extension: str = "") -> str:
    return f"tel:{number},{extension}" if extension else f"tel:{number}"


def whatsapp_href(number: str) -> str:
    """https://wa.me/79123456789 for a Russian mobile number (the digits, no «+»), else ""."""
    return f"https://wa.me/{number.removeprefix('+')}" if is_russian_mobile(number) else ""


def telegram_href(number: str) -> str:
    """https://t.me/+79123456789 for a Russian mobile number, else ""."""
    return f"https://t.me/{number}" if is_russian_mobile(number) else ""


def phone_reach(number: str, extension: str = "") -> PhoneReach | None:
    if not number:
        return None
    label = format_phone(number, extension)
    number_label = format_phone(number)
    return PhoneReach(
        label=label,
        number_label=number_label,
        extension_label=label.removeprefix(number_label).strip(),
        tel=tel_href(number, extension),
        whatsapp=whatsapp_href(number),
        telegram=telegram_href(number),
    )


def mailto_href(email: str) -> str:
    email = (email or "").strip()
    return "mailto:" + quote(email, safe="@+") if email else ""


def website_href(site: str) -> str:
    """The card's site or social page as a link: https:// added when it was typed without a scheme; ""
    for text that is no address (it is then shown as text)."""
    site = (site or "").strip()
    if not site or any(ch.isspace() for ch in site):
        return ""
    if _SCHEME.match(site):
        return site
    return "https://" + site.removeprefix("//")


def map_href(address: str, city: str = "") -> str:
    """Яндекс Карты searching for the address (with the city in front when the address does not name it)."""
    address = (address or "").strip()
    city = (city or "").strip()
    if city and city.casefold() not in address.casefold():
        address = f"{city}, {address}" if address else city
    return YANDEX_MAPS + quote(address, safe="") if address else ""


# A client's quick links as icon buttons, drawn in Python: a board, a day's tasks and a list draw hundreds.
# A list of clients draws a phone and an address per row: each is drawn once per process for the same
# values, language and icons (the sprite's address), like the quick links below.
def phone_links_html(number: str, extension: str = "", button: bool = False) -> SafeString:
    return _phone_links_html(number, extension, button, get_language(), icon_html("phone"))


def address_link_html(address: str, city: str = "") -> SafeString:
    return _address_link_html(address, city, get_language(), icon_html("location-dot"))


@lru_cache(maxsize=20_000)
def _phone_links_html(number: str, extension: str, button: bool, _language: str, _icons: str) -> SafeString:
    return mark_safe(  # rendered by the template, which escaped what it had to
        render_to_string(
            "deals/_reach.html#phone", {"phone": phone_reach(number, extension), "button": button}
        )
    )


@lru_cache(maxsize=20_000)
def _address_link_html(address: str, city: str, _language: str, _icons: str) -> SafeString:
    return mark_safe(
        render_to_string("deals/_reach.html#address", {"address": address, "href": map_href(address, city)})
    )


_QUICK_LINK = (
    '<a class="btn btn-sm btn-outline-{colour}{compact} reach-icon" href="{href}" title="{label}"{new_tab}>'
    '{icon}<span class="visually-hidden">{label}</span></a>'
)
_NEW_TAB = mark_safe(' target="_blank" rel="noopener"')


def quick_links_html(client, *, compact: bool = False) -> SafeString:
    """Call, WhatsApp and Telegram for the client's first phone, and the map, as icon buttons (``compact``:
    without vertical padding, on a board card). Reads ``client.phones.all``: prefetch them."""
    phones = list(client.phones.all())
    first = phones[0] if phones else None
    return _quick_links_html(
        first.number if first else "",
        first.extension if first else "",
        client.address,
        client.city,
        compact,
        get_language(),
        icon_html("phone"),  # the sprite's address: a new one (other static settings) draws them again
    )


# Drawn once per process for the same phone, address and language: a hunter's board, day and lists show the
# same few hundred clients on every visit.
@lru_cache(maxsize=20_000)
def _quick_links_html(
    number: str, extension: str, address: str, city: str, compact: bool, language: str, _icons: str
) -> SafeString:
    links = []  # (href, button colour, icon, what the link does, whom or where)
    phone = phone_reach(number, extension)
    if phone:
        links += [
            (phone.tel, "success", "phone", _("Позвонить"), phone.label),
            (phone.whatsapp, "success", "whatsapp", _("Написать в WhatsApp"), phone.label),
            (phone.telegram, "primary", "telegram", _("Написать в Telegram"), phone.label),
        ]
    place = map_href(address, city)
    links.append((place, "secondary", "location-dot", _("Открыть в Яндекс Картах"), address))
    return mark_safe(
        "".join(
            fill(
                _QUICK_LINK,
                colour=colour,
                compact=" py-0" if compact else "",
                href=href,
                label=f"{does}: {what}",
                icon=icon_html(icon),
                # A call stays on the page; messengers and the map open their app or a tab.
                new_tab="" if href.startswith("tel:") else _NEW_TAB,
            )
            for href, colour, icon, does, what in links
            if href
        )
    )
