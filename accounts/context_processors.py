from django.utils import timezone

from .access import can, role_of
from .roles import Capability


def navigation(request) -> dict:
    """What the top navigation needs: the user's role and capabilities, read once per page."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "plans_month": f"{timezone.localdate():%Y-%m}",
        "user_role": role_of(user),
        "user_can": {capability.value: can(user, capability) for capability in Capability},
    }
