import logging
import re
import time
import uuid

import sentry_sdk
from django.conf import settings
from django.db import OperationalError
from django.http import HttpResponse, JsonResponse
from django.middleware.locale import LocaleMiddleware
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _

from .logs import request_id_var
from .uploads import FORM_ALLOWANCE_BYTES, upload_file_limits

MEGABYTE = 1024 * 1024

logger = logging.getLogger("atlanset_portal.middleware")


class RequestIdMiddleware:
    """Gives each request an id: the one a proxy in front sent in ``X-Request-ID`` when it looks like an
    id (letters, digits, ``._:-``, at most 100), else a new one. Every log line written while the request
    is served carries it (``atlanset_portal.logs``), so do the tasks it queues and the error tracker's
    events; the response returns it in the same header."""

    HEADER = "X-Request-ID"
    VALID = re.compile(r"[A-Za-z0-9._:-]{1,100}")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get(self.HEADER, "")
        request_id = incoming if self.VALID.fullmatch(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        # Not reset when the response leaves: Django logs a 4xx/5xx answer after the middleware returned.
        # The next request sets its own.
        request_id_var.set(request_id)
        sentry_sdk.set_tag("request_id", request_id)
        response = self.get_response(request)
        response[self.HEADER] = request_id
        return response


# PostgreSQL's "lock_not_available" (lock_timeout) and "query_canceled" (statement_timeout).
BUSY_SQLSTATES = {"55P03", "57014"}


def database_busy(error: BaseException) -> bool:
    """A statement cancelled because it waited too long for another session's lock or ran past its
    statement timeout (PostgreSQL), or a database locked past its busy timeout (SQLite)."""
    if not isinstance(error, OperationalError):
        return False
    cause = error.__cause__
    return getattr(cause, "pgcode", None) in BUSY_SQLSTATES or "database is locked" in str(error)


class DatabaseBusyMiddleware:
    """A request whose statement hit the lock or statement timeout (``DB_LOCK_TIMEOUT_MS``,
    ``DB_STATEMENT_TIMEOUT_MS``) gets a Russian 503 page saying nothing was saved and to try again in a
    minute, instead of a 500. The change it tried was rolled back with its transaction. The page reads
    nothing from the database (whatever held the lock may still hold it)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not database_busy(exception):
            return None
        logger.warning("Database busy, answered 503: %s %s: %s", request.method, request.path, exception)
        response = HttpResponse(render_to_string("database_busy.html"), status=503)
        response["Retry-After"] = "60"
        return response


class PortalLocaleMiddleware(LocaleMiddleware):
    """Russian unless the user picked another language in the footer.

    The browser's Accept-Language is not consulted: the company works in Russian, and a laptop
    set up in English must not turn the portal English by itself.
    """

    def process_request(self, request):
        language = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        if language not in dict(settings.LANGUAGES):
            language = settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()


class RequestBodyLimitMiddleware:
    """Answers 413 to a request whose body is larger than its page accepts, before anything reads the body.

    The size is the declared Content-Length: Django never reads more than that, so nothing larger can
    arrive. A page that takes a file accepts its largest file and the form around it
    (``uploads.upload_file_limits``); every other page ``DATA_UPLOAD_MAX_MEMORY_SIZE``. It runs before the
    CSRF check, which would read the form.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.file_limits = upload_file_limits()

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return None  # Django reads no body at all without a valid length
        file_limit = self.file_limits.get(request.resolver_match.view_name)
        limit = file_limit + FORM_ALLOWANCE_BYTES if file_limit else settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is None or length <= limit:
            return None
        if file_limit:
            message = _("Файл слишком большой: здесь можно загрузить файл до %(limit)s МБ.") % {
                "limit": file_limit // MEGABYTE
            }
        else:
            message = _("Запрос слишком большой: страница принимает не больше %(limit)s МБ.") % {
                "limit": max(1, limit // MEGABYTE)
            }
        if request.content_type == "application/json":
            return JsonResponse({"error": message}, status=413)
        context = {"message": message, "upload": bool(file_limit)}
        return render(request, "request_too_large.html", context, status=413)


class SessionRenewalMiddleware:
    """Keeps a used session alive (it ends ``SESSION_COOKIE_AGE`` after the last renewal, so an idle browser
    in the field signs out) while writing it at most once per ``SESSION_RENEW_SECONDS``: saving it on every
    request was a database write for every page anyone opened."""

    KEY = "portal_renewed_at"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        session = getattr(request, "session", None)
        # A session with nothing in it (signed out, never signed in) is not kept alive.
        if session is not None and not session.is_empty():
            now = int(time.time())
            if now - session.get(self.KEY, 0) >= settings.SESSION_RENEW_SECONDS:
                session[self.KEY] = now  # marks it changed: saved, and its cookie sent again, on the way out
        return response


def renew_at_sign_in(sender, request, user, **kwargs):
    """Signing in writes the session anyway: it counts as a renewal, so the first page does not write it again
    (connected in accounts.apps)."""
    session = getattr(request, "session", None)
    if session is not None:
        session[SessionRenewalMiddleware.KEY] = int(time.time())
