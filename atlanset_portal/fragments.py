"""Parts of a page drawn once for the same values and kept in the cache.

A part is kept under a digest of everything it shows (its ``fingerprint``: the values it is drawn from, or
the versions of the stored rows they are read from, read before them), the language and the release, so a
change of any of them is a new key: a kept part is never out of date, it is only not drawn again. The
head's dashboard draws every part this way, reading only the versions on a visit between changes; without
a cache (or with Redis away) each part is simply drawn every time.
"""

import hashlib
from collections.abc import Callable
from functools import cache
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

from .outage import cache_get, cache_set

# Long enough to serve a working day's visits, short enough not to fill the cache with old keys.
KEPT_SECONDS = 60 * 60


@cache
def release() -> str:
    """The code and templates this process runs, as a digest of their files' names, sizes and times: a
    part drawn by an earlier release is never shown by a later one."""
    base = Path(settings.BASE_DIR)
    folders = {base / "templates"} | {
        Path(config.path) for config in apps.get_app_configs() if Path(config.path).is_relative_to(base)
    }
    digest = hashlib.blake2b(digest_size=12)
    for path in sorted(
        path for folder in folders for path in folder.rglob("*") if path.suffix in {".py", ".html"}
    ):
        stat = path.stat()
        digest.update(f"{path}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def drawn(template_name: str, *, fingerprint: object, context: Callable[[], dict]) -> SafeString:
    """``template_name`` rendered with ``context()``, or the same part kept from an earlier request with an
    equal ``fingerprint`` (compared by its ``repr``: plain values, dataclasses, dates and decimals)."""
    key = (
        "drawn:"
        + hashlib.blake2b(
            repr((template_name, fingerprint, get_language(), release())).encode(), digest_size=20
        ).hexdigest()
    )
    html = cache_get(key)
    if html is None:
        html = render_to_string(template_name, context())
        cache_set(key, html, timeout=KEPT_SECONDS)
    return mark_safe(html)  # rendered by the template, which escaped what it had to
