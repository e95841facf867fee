"""The one place that answers "may this user do X / see this object".

Every view and form asks here; nothing reads roles from the request. Checks fail closed: an anonymous
or deactivated user, or one without a role, may do nothing and sees nothing.
"""

from django.contrib.auth.mixins import AccessMixin
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.urls import reverse

from .roles import Capability, Role


def role_of(user) -> Role | None:
    if not getattr(user, "is_authenticated", False) or not user.is_active or not user.role:
        return None
    return Role(user.role)


def can(user, capability: Capability) -> bool:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    # A page asks a dozen times (navigation, view, template): the permissions are read once per user
    # object, as Django's own backend caches them on it, and looked up here without the backends' loop.
    held = getattr(user, "_portal_permissions", None)
    if held is None:
        held = user._portal_permissions = frozenset(user.get_all_permissions())
    return f"accounts.{capability.value}" in held


def require(user, capability: Capability) -> None:
    if not can(user, capability):
        raise PermissionDenied


def scope_owned[M: Model](queryset: QuerySet[M], user, *, owner_field: str = "owner") -> QuerySet[M]:
    """Objects that belong to hunters: all for whoever sees every hunter, own ones for a hunter."""
    if can(user, Capability.VIEW_ALL_HUNTERS):
        return queryset
    if can(user, Capability.WORK_PIPELINE):
        return queryset.filter(**{owner_field: user})
    return queryset.none()


def home_url(user) -> str:
    """Where a user lands after signing in."""
    role = role_of(user)
    if role is Role.HUNTER:
        return reverse("kpi:my_day")
    if role is Role.SALES_HEAD:
        return reverse("kpi:dashboard")
    if role is Role.ACCOUNTANT:
        return reverse("compensation:home")
    if role is Role.PRODUCTION:
        return reverse("deals:production_queue")
    if getattr(user, "is_superuser", False) and user.is_active:
        return reverse("admin:index")
    return reverse("no_role")


class CapabilityRequiredMixin(AccessMixin):
    """Class-based views declare ``required_capability``; everything else is refused with 403."""

    required_capability: Capability

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        require(request.user, self.required_capability)
        return super().dispatch(request, *args, **kwargs)
