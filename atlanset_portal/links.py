"""Links to one object's page, for lists that draw hundreds of them.

``reverse`` resolves the URL pattern on every call (about 40 µs); a board or a day's tasks draw a few links
per row. The pattern of a page that takes one key is worked out once per process and filled in here.
"""

from functools import lru_cache

from django.core.signals import setting_changed
from django.dispatch import receiver
from django.urls import get_script_prefix, reverse

_MARKER = 2147483647


@lru_cache(maxsize=256)
def _pattern(name: str, extra: tuple, prefix: str) -> str:
    return reverse(name, args=[_MARKER, *extra]).replace(str(_MARKER), "{}")


def link(name: str, key, *extra) -> str:
    """``reverse(name, args=[key, *extra])``, with the pattern looked up once."""
    return _pattern(name, extra, get_script_prefix()).format(key)


def page_path(name: str) -> str:
    """``reverse(name)`` of a page without arguments (a list the dashboard's figures link to), looked up
    once."""
    return _path(name, get_script_prefix())


@lru_cache(maxsize=128)
def _path(name: str, prefix: str) -> str:
    return reverse(name)


def link_pattern(name: str, *extra) -> str:
    """The page's address with ``{}`` where the key goes."""
    return _pattern(name, extra, get_script_prefix())


@receiver(setting_changed)
def _forget_patterns(*, setting, **kwargs):
    if setting == "ROOT_URLCONF":  # tests route other URLs
        _pattern.cache_clear()
        _path.cache_clear()
