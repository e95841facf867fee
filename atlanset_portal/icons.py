"""The portal's icons: one SVG sprite of just the icons the pages use.

The sprite (``static/icons/sprite.svg``) is built from the Font Awesome Free SVGs that the installed
``django-bootstrap-static`` package ships, by ``python manage.py build_icons``; a page draws an icon with
``{% icon "phone" %}`` (a ``<use>`` of the sprite's symbol), the board's cards with :func:`icon_html`.
Two webfonts of every icon (270 KB) came with each cold load before; the sprite is a few KB.

To add an icon: name it in ``ICONS`` (its Font Awesome name and style), run ``manage.py build_icons``
and commit the sprite; ``tests/portal/test_icons.py`` fails until the sprite matches this list.
"""

import functools
import re
from importlib.util import find_spec
from pathlib import Path

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.templatetags.static import static
from django.utils.safestring import SafeString

from atlanset_portal.markup import fill

# name → Font Awesome style folder; the name is the Font Awesome icon's own.
ICONS: dict[str, str] = {
    "bell": "solid",
    "box": "solid",
    "cart-shopping": "solid",
    "check": "solid",
    "clock-rotate-left": "solid",
    "comment-dots": "solid",
    "comments": "solid",
    "ellipsis": "solid",
    "envelope": "solid",
    "file-lines": "solid",
    "file-pdf": "solid",
    "flag": "solid",
    "flask": "solid",
    "globe": "solid",
    "industry": "solid",
    "location-dot": "solid",
    "magnifying-glass": "solid",
    "pen": "solid",
    "phone": "solid",
    "plus": "solid",
    "print": "solid",
    "right-left": "solid",
    "rotate-left": "solid",
    "ruble-sign": "solid",
    "star": "solid",
    "telegram": "brands",
    "trophy": "solid",
    "truck": "solid",
    "user": "solid",
    "whatsapp": "brands",
    "xmark": "solid",
}

SPRITE = "icons/sprite.svg"
SPRITE_PATH = Path(settings.BASE_DIR) / "static" / SPRITE

_SOURCE = re.compile(r'viewBox="(?P<box>[\d. ]+)"[^>]*>(?:<!--.*?-->)?(?P<body>.*)</svg>', re.S)
_LICENCE = re.compile(r"<!--!?(?P<text>.*?)-->", re.S)


class UnknownIcon(ValueError):
    pass


def source_folder() -> Path:
    """Font Awesome's SVGs in the installed package (its app is not installed: nothing of it is served)."""
    spec = find_spec("fontawesome")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the fontawesome package (django-bootstrap-static) is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "static" / "fontawesome" / "svgs"


def build_sprite(folder: Path | None = None) -> str:
    """The sprite's text: one ``<symbol>`` per icon of ``ICONS``, in name order, with the licence note."""
    folder = folder or source_folder()
    symbols = []
    licence = ""
    for name, style in sorted(ICONS.items()):
        text = (folder / style / f"{name}.svg").read_text(encoding="utf-8")
        match = _SOURCE.search(text)
        if match is None:
            raise RuntimeError(f"{style}/{name}.svg is not a single-viewBox Font Awesome icon")
        licence = licence or _LICENCE.search(text).group("text").strip()
        symbols.append(f'<symbol id="{name}" viewBox="{match["box"]}">{match["body"].strip()}</symbol>')
    return f'<svg xmlns="http://www.w3.org/2000/svg"><!-- {licence} -->\n' + "\n".join(symbols) + "\n</svg>\n"


@functools.cache
def icon_html(name: str, css_class: str = "") -> SafeString:
    """An icon beside text, hidden from screen readers (the text or a visually hidden label says it).

    Drawn once per process for each icon and class: a board draws a thousand icons, and looking up the
    sprite's hashed address each time cost more than the rest of the icon."""
    if name not in ICONS:
        raise UnknownIcon(f"no icon {name!r} in atlanset_portal/icons.py")
    return fill(
        '<svg class="icon{}" aria-hidden="true"><use href="{}#{}"/></svg>',
        f" {css_class}" if css_class else "",
        static(SPRITE),
        name,
    )


@receiver(setting_changed)
def _forget_drawn_icons(*, setting, **kwargs):
    # The sprite's address follows the static files' settings (tests change them).
    if setting in ("STATIC_URL", "STORAGES", "DEBUG"):
        icon_html.cache_clear()
