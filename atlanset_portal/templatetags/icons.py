"""``{% icon "phone" %}`` and ``{% icon "phone" "me-1" %}``: an icon of the portal's sprite
(atlanset_portal/icons.py), built in for every template (settings TEMPLATES builtins)."""

from django import template

from atlanset_portal.icons import icon_html

register = template.Library()


@register.simple_tag
def icon(name: str, css_class: str = ""):
    return icon_html(name, css_class)
