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


# ---- audit ---------------------------------------------------------------------------------


def _audit_rows(action: str) -> list:
    from tenants.models import AuditEvent

    return list(AuditEvent.objects.filter(action=action).order_by("id"))


def _stored(event) -> str:
    import json

    from django.forms.models import model_to_dict

    return json.dumps(model_to_dict(event), default=str)


def test_connection_changes_are_audited_without_secret_values(world):
    with tenant_context(world.acme):
        conn = connection_create(
            vendor="woocommerce",
            name="Woo",
            config={"store_url": "https://shop.example.com"},
            credentials={"consumer_key": "ck_SECRET_1", "consumer_secret": "cs_SECRET_1"},
            webhook_secret="whsec_SECRET_1",
            actor=world.acme_admin,
        )
        connection_update(connection=conn, name="Woo EU", sync_interval_minutes=30, actor=world.acme_admin)
        connection_update(connection=conn, name="Woo EU", actor=world.acme_admin)  # no change: no record
        connection_credentials_set(
            connection=conn,
            credentials={"consumer_secret": "cs_SECRET_2", "consumer_key": ""},
            webhook_secret="whsec_SECRET_2",
            actor_label="api-key:tb_abc",
        )
        connection_credentials_set(connection=conn, credentials={"consumer_secret": "cs_SECRET_3"}, audit=False)
    (created,) = _audit_rows("connection.create")
    assert (created.actor_label, created.tenant, created.partner) == (
        world.acme_admin.email,
        world.acme,
        world.northwind,
    )
    assert created.changes["credentials"] == "changed: consumer_key, consumer_secret"
    assert created.changes["config"] == {"store_url": [None, "https://shop.example.com"]}
    (updated,) = _audit_rows("connection.update")
    assert updated.changes == {"name": ["Woo", "Woo EU"], "sync_interval_minutes": [15, 30]}
    (credentials,) = _audit_rows("connection.credentials_change")
    assert (credentials.actor_label, credentials.actor) == ("api-key:tb_abc", None)
    assert credentials.changes == {"credentials": "changed: consumer_secret", "webhook_secret": "changed"}
    for event in (created, updated, credentials):
        stored = _stored(event)
        assert "SECRET" not in stored, stored
        assert (event.target_type, event.target_id) == ("connectors.connection", str(conn.pk))


def test_status_change_by_a_person_is_audited_and_the_systems_is_not(world):
    with tenant_context(world.acme):
        conn = connection_create(vendor="odoo", direction="erp", name="Odoo", config={})
        connection_status_set(connection=conn, status="error", message="HTTP 401")
        connection_status_set(connection=conn, status="active", actor=world.acme_admin)
    (event,) = _audit_rows("connection.status_change")
    assert (event.actor_label, event.changes) == (world.acme_admin.email, {"status": ["error", "active"]})


def test_connection_delete_is_audited_and_refused_for_the_erp_target(world):
    from connectors.services import connection_delete
    from posting.erp.services import erp_target_set
    from tests.posting.erp.factories import erp_connection

    with tenant_context(world.acme):
        source = connection_create(vendor="stripe", name="Stripe", credentials={"secret_key": "sk_SECRET"})
        connection_delete(connection=source, actor=world.acme_admin)
        assert not Connection.objects.filter(pk=source.pk).exists()
        erp = erp_connection(
            vendor="xero",
            config={"client_id": "c", "tenant_id": "t-1"},
            credentials={"access_token": "a", "refresh_token": "r"},
        )
        erp_target_set(connection=erp)
        with pytest.raises(ValidationError) as error:
            connection_delete(connection=erp, actor=world.acme_admin)
        assert "ERP target" in str(error.value)
        assert Connection.objects.filter(pk=erp.pk).exists()
    (event,) = _audit_rows("connection.delete")
    assert (event.actor_label, event.target_id, event.changes["name"]) == (
        world.acme_admin.email,
        str(source.pk),
        "Stripe",
    )
