import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tenants.models import Partner, Tenant


def test_partner_and_tenant_create_commands(world, capsys):
    call_command("partner_create", slug="eastwind", name="Eastwind", domain="eastwind.localhost")
    call_command("tenant_create", partner="eastwind", slug="harbour", name="Harbour Goods", currency="CAD")
    out = capsys.readouterr().out
    assert "Partner eastwind created at eastwind.localhost" in out
    assert "Tenant harbour created at harbour.eastwind.localhost in " in out
    assert Tenant.objects.get(slug="harbour").base_currency == "CAD"


@pytest.mark.parametrize(
    ("command", "kwargs", "message"),
    [
        ("tenant_create", {"partner": "nobody", "slug": "x1", "name": "X"}, "No partner with slug 'nobody'"),
        ("tenant_create", {"partner": "northwind", "slug": "acme", "name": "X"}, "already taken"),
        (
            "tenant_create",
            {"partner": "northwind", "slug": "x2", "name": "X", "domain": "bad host"},
            "not a valid host name",
        ),
        ("partner_create", {"slug": "p1", "name": "P", "domain": "northwind.localhost"}, "already in use"),
        ("partner_create", {"slug": "p2", "name": "P", "domain": "p2.localhost", "primary_colour": "red"}, "#RRGGBB"),
    ],
)
def test_commands_refuse_bad_input_with_a_clear_error(world, command, kwargs, message):
    before = (Partner.objects.count(), Tenant.objects.count())
    with pytest.raises(CommandError, match=message):
        call_command(command, **kwargs)
    assert (Partner.objects.count(), Tenant.objects.count()) == before


def test_partner_create_on_a_migrated_but_unseeded_database_creates_the_public_tenant(world, capsys, settings):
    from tenants.models import Domain

    # Unseeded: no public tenant row and no domains (the schema itself exists: migrate made it).
    Domain.objects.all().delete()
    Tenant.objects.filter(schema_name="public").delete()
    call_command("partner_create", slug="eastwind", name="Eastwind", domain="eastwind.localhost")
    assert "Partner eastwind created at eastwind.localhost" in capsys.readouterr().out
    public = Tenant.objects.get(schema_name="public")
    assert (public.slug, public.partner_id) == ("public", None)
    assert sorted(Domain.objects.filter(tenant=public).values_list("domain", "partner__slug")) == [
        ("eastwind.localhost", "eastwind"),
        (settings.PORTAL_PUBLIC_DOMAIN, None),
    ]


def test_partner_create_refuses_the_operators_own_domain_clearly_even_before_it_exists(world, settings):
    from tenants.models import Domain

    Domain.objects.all().delete()
    Tenant.objects.filter(schema_name="public").delete()
    # The operator's domain in tests is `localhost`, which the domain rules refuse as a host at all.
    with pytest.raises(CommandError, match=r"(operator's own domain|cannot be a portal host)"):
        call_command("partner_create", slug="p3", name="P", domain=settings.PORTAL_PUBLIC_DOMAIN)


def test_partner_create_refuses_a_named_operator_domain_by_its_rule(world, settings):
    settings.PORTAL_PUBLIC_DOMAIN = "tillbridge.example"
    with pytest.raises(CommandError, match=r"tillbridge\.example is the operator's domain"):
        call_command("partner_create", slug="p4", name="P", domain="tillbridge.example")
