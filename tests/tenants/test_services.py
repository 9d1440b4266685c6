import io

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import schema_exists
from PIL import Image

from tenants import services
from tenants.models import AuditEvent, Domain, Membership, Tenant


def _png(size=(64, 64)) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", size, "#123456").save(buffer, format="PNG")
    return SimpleUploadedFile("logo.png", buffer.getvalue(), content_type="image/png")


def test_tenant_create_provisions_schema_domain_and_audit(world):
    created = services.tenant_create(
        partner=world.northwind,
        slug="delta-shop",
        name="Delta Shop",
        base_currency="EUR",
        timezone="Europe/Berlin",
        actor=world.partner_admin,
    )
    assert created.domain == "delta-shop.northwind.localhost"
    assert created.tenant.schema_name == "t_delta_shop"
    assert schema_exists("t_delta_shop")
    event = AuditEvent.objects.get(action="tenant.create", target_id=str(created.tenant.pk))
    assert (event.actor, event.actor_label, event.tenant, event.partner) == (
        world.partner_admin,
        "admin@northwind.test",
        created.tenant,
        world.northwind,
    )
    assert event.changes == {"slug": "delta-shop", "domain": "delta-shop.northwind.localhost", "plan": "starter"}


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"slug": "acme"}, "slug"),
        ({"slug": "Bad Slug"}, "slug"),
        ({"slug": "public"}, "slug"),
        ({"slug": "ok-one", "domain": "acme.northwind.localhost"}, "domain"),
        ({"slug": "ok-two", "domain": "not a host"}, "domain"),
        ({"slug": "ok-three", "timezone": "Mars/Olympus"}, "timezone"),
        ({"slug": "ok-four", "base_currency": "usd"}, "base_currency"),
        ({"slug": "ok-five", "plan": "platinum"}, "plan"),
    ],
)
def test_tenant_create_rejects_bad_input_and_creates_nothing(world, kwargs, field):
    before = (Tenant.objects.count(), Domain.objects.count())
    with pytest.raises(ValidationError) as error:
        services.tenant_create(partner=world.northwind, name="Bad", **kwargs)
    assert field in error.value.message_dict
    assert (Tenant.objects.count(), Domain.objects.count()) == before


def test_failure_after_provisioning_rolls_back_the_schema(world, monkeypatch):
    def explode(**_kwargs):
        raise RuntimeError("audit store down")

    monkeypatch.setattr(services, "audit_record", explode)
    with pytest.raises(RuntimeError):
        services.tenant_create(partner=world.northwind, slug="half-made", name="Half")
    assert not Tenant.objects.filter(slug="half-made").exists()
    assert not schema_exists("t_half_made")


def test_partner_create_rejects_duplicate_domain_and_bad_colour(world):
    with pytest.raises(ValidationError) as error:
        services.partner_create(slug="copycat", name="Copycat", domain="northwind.localhost")
    assert "domain" in error.value.message_dict
    with pytest.raises(ValidationError):
        services.partner_create(slug="colourful", name="Colourful", domain="colourful.localhost", primary_colour="blue")


def test_brand_update_validates_logo_and_colours(world):
    partner = world.northwind
    services.partner_brand_update(partner=partner, actor=world.partner_admin, logo=_png(), accent_colour="#00AA55")
    partner.refresh_from_db()
    assert partner.logo.name.startswith("brand/logos/")
    assert partner.accent_colour == "#00AA55"
    svg = SimpleUploadedFile(
        "logo.svg", b"<svg xmlns='http://www.w3.org/2000/svg'><script>x</script></svg>", content_type="image/svg+xml"
    )
    with pytest.raises(ValidationError, match="not a PNG"):
        services.partner_brand_update(partner=partner, actor=None, logo=svg)
    with pytest.raises(ValidationError, match="limit is 2048"):
        services.partner_brand_update(partner=partner, actor=None, logo=_png((3000, 10)))
    with pytest.raises(ValidationError):
        services.partner_brand_update(partner=partner, actor=None, primary_colour="#12345")
    actions = list(
        AuditEvent.objects.filter(partner=partner, action="partner.brand_update").values_list("changes", flat=True)
    )
    assert len(actions) == 1 and actions[0]["accent_colour"] == ["#F2A900", "#00AA55"]


def test_suspend_resume_delete_with_confirmation(world):
    tenant = services.tenant_create(partner=world.northwind, slug="gone-soon", name="Gone Soon").tenant
    services.tenant_status_set(tenant=tenant, status="suspended", actor=world.partner_admin)
    assert Tenant.objects.get(pk=tenant.pk).status == "suspended"
    services.tenant_status_set(tenant=tenant, status="active", actor=world.partner_admin)
    with pytest.raises(ValidationError):
        services.tenant_delete(tenant=tenant, confirm_slug="wrong", actor=world.partner_admin)
    assert schema_exists("t_gone_soon")
    services.tenant_delete(tenant=tenant, confirm_slug="gone-soon", actor=world.partner_admin)
    assert not schema_exists("t_gone_soon")
    assert list(
        AuditEvent.objects.filter(target_id=str(tenant.pk), target_type="tenants.tenant")
        .order_by("id")
        .values_list("action", flat=True)
    ) == ["tenant.create", "tenant.suspend", "tenant.resume", "tenant.delete"]


def test_membership_roles_must_match_scope(world):
    with pytest.raises(ValidationError):
        services.membership_grant(user=world.acme_admin, tenant=world.acme, role=Membership.Role.PARTNER_ADMIN)
    with pytest.raises(ValidationError):
        services.membership_grant(user=world.acme_admin, role=Membership.Role.TENANT_ADMIN)


def test_granting_an_existing_membership_changes_nothing(world):
    before = AuditEvent.objects.count()
    services.membership_grant(user=world.acme_admin, tenant=world.acme, role=Membership.Role.TENANT_ADMIN)
    assert AuditEvent.objects.count() == before
