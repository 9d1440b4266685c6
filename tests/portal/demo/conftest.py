from tests.promotions.conftest import channels  # noqa: F401 - shared fixture: recording sales channels
