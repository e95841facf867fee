from importlib import import_module

import pytest
from django.conf import settings
from django.utils import translation

from accounts.roles import Role
from tests.factories import UserFactory


@pytest.fixture(autouse=True)
def _no_remembered_outage():
    """A test that makes the cache or the broker fail leaves no memory of it to the next test."""
    from atlanset_portal.outage import BROKER_OUTAGE, CACHE_OUTAGE

    yield
    CACHE_OUTAGE.clear()
    BROKER_OUTAGE.clear()


@pytest.fixture(autouse=True)
def _no_cache_from_another_database():
    """Each test has a database of its own: nothing kept in the cache from another test's data (pages'
    kept parts are versioned by the stored rows, and two tests' empty tables look the same)."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def _default_language():
    """Requests through the test client leave their language active in the test's thread."""
    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture
def hunter(db):
    return UserFactory(username="hunter_a", full_name="Иван Иванов", role=Role.HUNTER, extension="101")


@pytest.fixture
def other_hunter(db):
    return UserFactory(username="hunter_b", full_name="Анна Смирнова", role=Role.HUNTER, extension="102")


@pytest.fixture
def sales_head(db):
    return UserFactory(username="head", full_name="Ольга Петрова", role=Role.SALES_HEAD)


@pytest.fixture
def accountant(db):
    return UserFactory(username="buh", full_name="Евгения Шибанова", role=Role.ACCOUNTANT)


@pytest.fixture
def production(db):
    return UserFactory(username="prod", full_name="Сергей Кузнецов", role=Role.PRODUCTION)


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", full_name="Администратор", role="", is_superuser=True)


# Data the migrations create (role groups, refusal reasons), which a transactional test's flush removes.
DATA_MIGRATIONS = [
    "accounts.migrations.0002_role_groups",
    "deals.migrations.0002_lost_reasons",
    "deals.migrations.0022_product_complaint_reason",
]


@pytest.fixture
def migrated_data(transactional_db):
    """Transactional tests put the migrations' data back the same way the migrations made it."""
    from django.apps import apps

    import_module(DATA_MIGRATIONS[0]).create_role_groups(apps, schema_editor=None)
    import_module(DATA_MIGRATIONS[1]).create_reasons(apps, schema_editor=None)
    import_module(DATA_MIGRATIONS[2]).create_reason(apps, schema_editor=None)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items):
    """Transactional tests (the browser's, the concurrency one) run last: their flush removes what the
    migrations created, and pytest-django would otherwise run database-free tests after them."""
    transactional = [
        item
        for item in items
        if "transactional_db" in getattr(item, "fixturenames", ())
        or any(mark.kwargs.get("transaction") for mark in item.iter_markers("django_db"))
    ]
    others = [item for item in items if item not in transactional]
    items[:] = others + transactional
