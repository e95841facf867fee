from urllib.parse import urlencode

from django.shortcuts import redirect
from django.urls import reverse

from .two_factor import second_factor_required

# What a signed-in person may reach before confirming the second factor (the health check is the same
# for everyone and shows nothing of theirs).
_OPEN_VIEWS = {"two_factor", "logout", "set_language", "health"}


class SecondFactorMiddleware:
    """Whoever signs in with a code (the roles in ``OTP_REQUIRED_ROLES``, staff and superusers) reaches
    nothing but the code page until they confirm a TOTP code in this session (django-otp's OTPMiddleware
    tells whether they have)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        user = request.user
        if (
            second_factor_required(user)
            and not user.is_verified()
            and request.resolver_match.url_name not in _OPEN_VIEWS
        ):
            return redirect(f"{reverse('two_factor')}?{urlencode({'next': request.get_full_path()})}")
        return None
