import copy
import datetime as dt
import zoneinfo

from django.db import connection
from django_tenants.utils import tenant_context

from core.tenancy import tenant_zone


def test_tenant_zone_is_the_tenants_timezone(world):
    with tenant_context(world.acme):
        assert tenant_zone() == zoneinfo.ZoneInfo("America/New_York")


def test_tenant_zone_falls_back_to_utc_for_an_unknown_zone(world):
    tenant = copy.copy(world.acme)  # the world is shared: change a copy
    tenant.timezone = "Mars/Olympus_Mons"
    with tenant_context(tenant):
        assert tenant_zone() == dt.UTC


def test_tenant_zone_is_utc_without_a_tenant(monkeypatch):
    monkeypatch.setattr(connection, "tenant", None, raising=False)
    assert tenant_zone() == zoneinfo.ZoneInfo("UTC")
