"""Writes about users: creating them and giving them a role (which is a group)."""

from django.contrib.auth.models import Group
from django.db import transaction

from .models import User
from .roles import Role


@transaction.atomic
def user_set_role(*, user: User, role: Role | str) -> User:
    """Makes ``role`` the user's only role group."""
    role = Role(role) if role else None
    role_groups = Group.objects.filter(name__in=Role.values)
    user.groups.remove(*role_groups)
    if role:
        user.groups.add(Group.objects.get(name=role.value))
    user.role = role.value if role else ""
    user.save(update_fields=["role"])
    return user


@transaction.atomic
def user_create(
    *,
    username: str,
    password: str | None,
    full_name: str,
    role: Role | str,
    email: str = "",
    extension: str = "",
    is_superuser: bool = False,
) -> User:
    user = User(
        username=username,
        full_name=full_name,
        email=email,
        extension=extension,
        is_staff=is_superuser,
        is_superuser=is_superuser,
    )
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.full_clean(exclude=["password", "role"])
    user.save()
    return user_set_role(user=user, role=role)
