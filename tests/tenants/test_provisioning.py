import pytest
from django.core.management import call_command
from django.db import connection

from tenants.models import Tenant
from tenants.provisioning import ProvisioningError, schema_describe, schema_drop, schema_provision, template_ensure


def test_provisioned_schema_equals_a_migrated_schema(django_db_blocker, django_db_setup):
    # Runs outside a test transaction: migrate_schemas commits.
    with django_db_blocker.unblock():
        schema_provision(schema_name="probe_provisioned")
        with connection.cursor() as cursor:
            cursor.execute('CREATE SCHEMA "probe_migrated"')
        call_command("migrate_schemas", tenant=True, schema_name="probe_migrated", interactive=False, verbosity=0)
        connection.set_schema_to_public()
        try:
            provisioned = schema_describe(schema_name="probe_provisioned")
            migrated = schema_describe(schema_name="probe_migrated")
        finally:
            schema_drop(schema_name="probe_provisioned")
            schema_drop(schema_name="probe_migrated")
    assert provisioned["tables"] == migrated["tables"]
    assert provisioned["constraints"] == migrated["constraints"]
    assert provisioned["indexes"] == migrated["indexes"]
    assert provisioned["triggers"] == migrated["triggers"]
    assert provisioned["functions"] == migrated["functions"]
    assert provisioned["migrations"] == migrated["migrations"]
    assert len(provisioned["migrations"]) > 0


def test_provision_copies_template_rows_and_tenant_schema_is_usable(world):
    from django.contrib.contenttypes.models import ContentType
    from django_tenants.utils import tenant_context

    with tenant_context(world.acme):
        assert connection.schema_name == "t_acme"
        ContentType.objects.get_or_create(app_label="probe", model="row")
        assert ContentType.objects.filter(app_label="probe").count() == 1
    with tenant_context(world.bluebird):
        assert ContentType.objects.filter(app_label="probe").count() == 0


def test_provision_refuses_unsafe_schema_names(db):
    for name in ("public", "tenant_template", "Robert'); DROP", "x" * 64):
        with pytest.raises(ProvisioningError):
            schema_provision(schema_name=name)


def test_template_ensure_reuses_the_captured_snapshot(db):
    assert template_ensure().pk == template_ensure().pk


def test_tenant_rows_point_at_existing_schemas(world):
    from django_tenants.utils import schema_exists

    for tenant in Tenant.objects.exclude(schema_name="public"):
        assert schema_exists(tenant.schema_name)
