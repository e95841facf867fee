"""The address a request came from, for sign-in throttling (django-axes) and the client-export log."""

from django.conf import settings
from django.http import HttpRequest
from ipware import get_client_ip


def client_ip(request: HttpRequest) -> str | None:
    """The client's address as the nearest of ``TRUSTED_PROXY_COUNT`` reverse proxies recorded it.

    Each proxy appends the address it was reached from to X-Forwarded-For, so behind N proxies the client
    is the N-th entry from the right; whatever the client wrote further left is its own say-so and never
    counts. With no proxy, or when the header is missing or shorter than the proxies, it is the address of
    the connection.
    """
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies:
        # django-ipware counts the proxies listed after the client in the header; the nearest proxy is not
        # listed (it is the connection), hence one fewer. Not strict: extra entries on the left are skipped.
        address, _routable = get_client_ip(
            request,
            proxy_count=proxies - 1,
            request_header_order=["HTTP_X_FORWARDED_FOR"],
            strict=False,
        )
        if address:
            return address
    return request.META.get("REMOTE_ADDR")
