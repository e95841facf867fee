from django.conf import settings
from django.utils import timezone

from onboarding.selectors import onboarding_complete

from .access import can, role_of
from .roles import Capability, Role


def navigation(request) -> dict:
    """What the top navigation needs: the user's role and capabilities, read once per page."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    role = role_of(user)
    return {
        "onboarding_pending": role is Role.HUNTER and not onboarding_complete(user),
        "production_contact": settings.PRODUCTION_CONTACT,
        "plans_month": f"{timezone.localdate():%Y-%m}",
        "user_role": role,
        "user_can": {capability.value: can(user, capability) for capability in Capability},
    }
