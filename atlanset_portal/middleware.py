from django.conf import settings
from django.http import JsonResponse
from django.middleware.locale import LocaleMiddleware
from django.shortcuts import render
from django.utils import translation
from django.utils.translation import gettext as _

from .uploads import FORM_ALLOWANCE_BYTES, upload_file_limits

MEGABYTE = 1024 * 1024


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
