import pytest
from django.contrib.admin.models import ADDITION, LogEntry
from django.contrib.auth.models import AnonymousUser

from accounts.access import can, home_url, role_of, scope_owned
from accounts.models import User
from accounts.roles import ROLE_CAPABILITIES, Capability, Role
from accounts.services import user_set_role
from tests.factories import UserFactory


@pytest.mark.parametrize("role", list(Role))
def test_each_role_has_exactly_its_capabilities(db, role):
    user = UserFactory(role=role)
    granted = {capability for capability in Capability if can(user, capability)}
    assert granted == ROLE_CAPABILITIES[role]


def test_no_role_is_given_the_client_base_export(db):
    for role in Role:
        assert not can(UserFactory(role=role), Capability.EXPORT_CLIENT_BASE)


def test_deactivated_user_may_do_nothing(hunter):
    hunter.is_active = False
    hunter.save()
    hunter = User.objects.get(pk=hunter.pk)
    assert role_of(hunter) is None
    assert not any(can(hunter, capability) for capability in Capability)


def test_user_without_role_may_do_nothing(db):
    user = UserFactory(role="")
    assert not any(can(user, capability) for capability in Capability)


def test_changing_role_moves_the_user_to_the_new_group(hunter):
    user_set_role(user=hunter, role=Role.SALES_HEAD)
    hunter = User.objects.get(pk=hunter.pk)
    assert list(hunter.groups.values_list("name", flat=True)) == ["sales_head"]
    assert can(hunter, Capability.VIEW_ALL_HUNTERS)
    assert home_url(hunter) == "/kpi/"


def _records_owned_by(*owners):
    """Admin log entries stand in for hunter-owned records: they have an owner foreign key."""
    return [
        LogEntry.objects.create(user=owner, action_flag=ADDITION, object_repr=f"запись {owner.username}")
        for owner in owners
    ]


def test_hunter_sees_only_own_records(hunter, other_hunter, sales_head):
    own, others = _records_owned_by(hunter, other_hunter)
    assert list(scope_owned(LogEntry.objects.all(), hunter, owner_field="user")) == [own]
    assert set(scope_owned(LogEntry.objects.all(), sales_head, owner_field="user")) == {own, others}


@pytest.mark.parametrize("role", [Role.ACCOUNTANT, Role.PRODUCTION, ""])
def test_other_roles_see_no_hunter_records_by_default(hunter, role):
    _records_owned_by(hunter)
    viewer = UserFactory(role=role)
    assert not scope_owned(LogEntry.objects.all(), viewer, owner_field="user").exists()


def test_anonymous_user_sees_nothing(hunter):
    _records_owned_by(hunter)
    assert not scope_owned(LogEntry.objects.all(), AnonymousUser(), owner_field="user").exists()
    assert not can(AnonymousUser(), Capability.WORK_PIPELINE)


def test_extension_is_unique_among_users(hunter):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="внутренний номер уже закреплён"):
        UserFactory(extension=hunter.extension)
