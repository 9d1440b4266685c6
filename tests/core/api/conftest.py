from tests.tenants.conftest import api_client, make_key, throttle_reset  # noqa: F401 - shared fixtures
