import pytest

from tests.factories import make_staff


@pytest.fixture(autouse=True)
def _credit_exports(settings, tmp_path):
    """Pushes go to a folder of this test, never into the checkout."""
    settings.CHENGNUO_CREDIT_EXPORT_DIR = str(tmp_path / "credit-exports")
    return tmp_path / "credit-exports"


@pytest.fixture
def export_dir(_credit_exports):
    return _credit_exports


@pytest.fixture
def officer(db):
    return make_staff("credit_officer", "credit-officer-1")
