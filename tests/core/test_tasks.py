import pytest
from django_tenants.utils import tenant_context

from core.tasks import tenant_only


def test_tenant_only_refuses_the_public_schema(db):
    with pytest.raises(RuntimeError, match=r"^app\.job must be sent from a tenant schema, not public\.$"):
        tenant_only("app.job")


def test_tenant_only_passes_in_a_tenant_schema(world):
    with tenant_context(world.acme):
        assert tenant_only("app.job") is None
