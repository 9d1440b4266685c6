import pytest
from django_tenants.utils import tenant_context

from tests.connectors.factories import ConnectionFactory

TOKEN = "ss-hook-token-7f3a9c2e41b8"
KEY, SECRET = "ss-api-key-0a1b2c", "ss-api-secret-9z8y7x"
API = "https://ssapi.shipstation.com"


@pytest.fixture
def shipstation(world):
    with tenant_context(world.acme):
        return ConnectionFactory(
            vendor="shipstation",
            name="Acme ShipStation",
            config={"store_id": "310553", "warehouse_id": "24079"},
            secrets={"credentials": {"api_key": KEY, "api_secret": SECRET}, "webhook_secret": TOKEN},
        )
