import pytest
from django.core.exceptions import ValidationError
from django_tenants.utils import tenant_context

from connectors.models import Connection
from connectors.services import (
    connection_create,
    connection_credentials_set,
    connection_status_set,
    connection_update,
)


def test_connection_create_encrypts_and_generates_a_webhook_secret(world):
    with tenant_context(world.acme):
        conn = connection_create(
            vendor="shopify",
            direction="source",
            name=" Acme web shop ",
            config={"shop_domain": "acme-outfitters.myshopify.com", "api_version": "2025-07"},
            credentials={"access_token": "shpat_abc"},
        )
        fresh = Connection.objects.get(pk=conn.pk)
        assert (fresh.name, fresh.status, fresh.credentials) == (
            "Acme web shop",
            "active",
            {"access_token": "shpat_abc"},
        )
        assert len(fresh.webhook_secret) >= 32
        assert fresh.next_sync_at is not None


def test_connection_create_refuses_a_source_vendor_as_erp_and_a_bad_interval(world):
    with tenant_context(world.acme), pytest.raises(ValidationError) as error:
        connection_create(vendor="stripe", direction="erp", name="x", config={}, sync_interval_minutes=0)
    assert error.value.message_dict == {
        "direction": ["stripe connections are sources of sales."],
        "sync_interval_minutes": ["Between 1 and 1440 minutes."],
    }


def test_connection_create_accepts_erp_vendors(world):
    with tenant_context(world.acme):
        conn = connection_create(
            vendor="odoo", direction="erp", name="Odoo", config={"base_url": "https://odoo.example"}, credentials={}
        )
        assert (conn.vendor, conn.direction) == ("odoo", "erp")


def test_credentials_set_merges_and_blank_values_keep_the_stored_secret(world):
    with tenant_context(world.acme):
        conn = connection_create(
            vendor="woocommerce",
            name="Woo",
            config={"store_url": "https://shop.example.com"},
            credentials={"consumer_key": "ck_1", "consumer_secret": "cs_1"},
        )
        connection_credentials_set(connection=conn, credentials={"consumer_key": "ck_2", "consumer_secret": ""})
        assert Connection.objects.get(pk=conn.pk).credentials == {"consumer_key": "ck_2", "consumer_secret": "cs_1"}
        connection_credentials_set(connection=conn, credentials={"consumer_key": "ck_3"}, merge=False)
        assert Connection.objects.get(pk=conn.pk).credentials == {"consumer_key": "ck_3"}


def test_status_set_records_the_failure_and_reactivation_schedules_a_sync(world):
    with tenant_context(world.acme):
        conn = connection_create(vendor="odoo", direction="erp", name="Odoo", config={})
        connection_status_set(connection=conn, status="error", message="HTTP 401 from Odoo")
        fresh = Connection.objects.get(pk=conn.pk)
        assert (fresh.status, fresh.last_message) == ("error", "HTTP 401 from Odoo")
        assert fresh.last_failure_at is not None
        connection_status_set(connection=fresh, status="active")
        assert Connection.objects.get(pk=conn.pk).status == "active"
        with pytest.raises(ValidationError):
            connection_status_set(connection=fresh, status="gone")


def test_connection_update_changes_name_config_and_interval(world):
    with tenant_context(world.acme):
        conn = connection_create(vendor="odoo", direction="erp", name="Odoo", config={})
        connection_update(connection=conn, name="Odoo prod", config={"db": "prod"}, sync_interval_minutes=30)
        fresh = Connection.objects.get(pk=conn.pk)
        assert (fresh.name, fresh.config, fresh.sync_interval_minutes) == ("Odoo prod", {"db": "prod"}, 30)
