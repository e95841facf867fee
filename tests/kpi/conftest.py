import pytest

from deals.models import LostReason
from tests.deals.factories import Pipeline


@pytest.fixture(autouse=True)
def _uploads_in_tmp(settings, tmp_path):
    """Invoices uploaded while deals are walked through the pipeline land in the test's own directory."""
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def pipeline(hunter, production, accountant):
    return Pipeline(hunter=hunter, production=production, accountant=accountant)


@pytest.fixture
def other_pipeline(other_hunter, production, accountant):
    return Pipeline(hunter=other_hunter, production=production, accountant=accountant)


@pytest.fixture
def competitor(db):
    return LostReason.objects.get(code="competitor")
