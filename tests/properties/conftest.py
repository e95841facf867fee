import pytest

from tests.deals.factories import Pipeline


@pytest.fixture(autouse=True)
def _files_in_tmp(settings, tmp_path):
    """Receipts, invoices and stashed import files of the generated inputs land in the test's directory."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.VAR_DIR = tmp_path / "var"


@pytest.fixture
def pipeline(hunter, production, accountant):
    return Pipeline(hunter=hunter, production=production, accountant=accountant)
