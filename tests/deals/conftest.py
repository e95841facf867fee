import pytest

from deals.models import LostReason
from tests.deals.factories import Pipeline, make_client, make_deal, make_product


@pytest.fixture(autouse=True)
def _uploads_in_tmp(settings, tmp_path):
    """Invoices and proposals uploaded by the tests land in the test's own directory."""
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def product(db):
    return make_product()


@pytest.fixture
def client_card(hunter):
    """A client of ``hunter`` with name, address and a phone (``client`` is Django's test client)."""
    return make_client(acting_user=hunter, name="Салон «Лотос»")


@pytest.fixture
def deal(hunter, client_card):
    return make_deal(acting_user=hunter, client=client_card)


@pytest.fixture
def pipeline(hunter, production, accountant):
    return Pipeline(hunter=hunter, production=production, accountant=accountant)


@pytest.fixture
def competitor(db):
    return LostReason.objects.get(code="competitor")


@pytest.fixture
def other_reason(db):
    return LostReason.objects.get(code="other")
