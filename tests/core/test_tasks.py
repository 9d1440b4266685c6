import pytest
from django_tenants.utils import tenant_context

from core import periodic
from core.periodic import periodic_job
from core.tasks import tenant_only


def test_tenant_only_refuses_the_public_schema(db):
    with pytest.raises(RuntimeError, match=r"^app\.job must be sent from a tenant schema, not public\.$"):
        tenant_only("app.job")


def test_tenant_only_passes_in_a_tenant_schema(world):
    with tenant_context(world.acme):
        assert tenant_only("app.job") is None


def test_a_periodic_job_refuses_the_public_schema_under_its_name_and_runs_in_a_tenant(world):
    runs = []

    @periodic_job("tests.guarded")
    def guarded(*, value: int = 1) -> int:
        runs.append(value)
        return value

    try:
        with pytest.raises(RuntimeError, match=r"^tests\.guarded must be sent from a tenant schema"):
            guarded()
        assert runs == []
        with tenant_context(world.acme):
            assert guarded(value=2) == 2
            assert periodic.periodic_jobs()["tests.guarded"]() == 1
        assert runs == [2, 1]
        assert guarded.__name__ == "guarded"
    finally:
        periodic._JOBS.pop("tests.guarded", None)
