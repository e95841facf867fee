"""``{% load reach %}``: one-tap contact links (call, WhatsApp, Telegram, e-mail, site, Яндекс Карты) built
by ``deals.reach`` and drawn by the partials of ``deals/_reach.html``, the same on every page."""

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

from .. import reach

register = template.Library()


@register.simple_tag
def phone_links(number: str, extension: str = "", button: bool = False) -> SafeString:
    """A phone as a call link (with the extension after a pause) and, for a Russian mobile number,
    WhatsApp and Telegram; ``button=True`` draws the call as a button (page headers)."""
    return reach.phone_links_html(number, extension, button)


@register.inclusion_tag("deals/_reach.html#email")
def email_link(email: str) -> dict:
    return {"email": email, "href": reach.mailto_href(email)}


@register.inclusion_tag("deals/_reach.html#website")
def website_link(site: str) -> dict:
    return {"site": site, "href": reach.website_href(site)}


@register.simple_tag
def address_link(address: str, city: str = "") -> SafeString:
    """The address as a link opening Яндекс Карты."""
    return reach.address_link_html(address, city)


@register.simple_tag
def client_quick_links(client) -> SafeString:
    """A client in a list or a task: its first phone (call and messengers) and the map, as icon buttons.
    Reads ``client.phones.all``: prefetch them."""
    return format_html(
        '<span class="reach-quick d-inline-flex flex-wrap align-items-center gap-1">{}</span>',
        reach.quick_links_html(client),
    )
