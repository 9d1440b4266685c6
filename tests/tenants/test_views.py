"""Partner and operator console pages, driven through HTTP as their users would."""

import io

from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import schema_exists, tenant_context
from PIL import Image

from mappings.models import Account, MappingSet
from tenants.models import AuditEvent, Membership, Partner, Tenant


def test_partner_admin_creates_a_tenant_from_the_console(world, host_client):
    client = host_client("northwind.localhost", world.partner_admin)
    response = client.post(
        "/tenants/new/",
        {
            "name": "Juniper Garden",
            "slug": "juniper",
            "domain": "",
            "timezone": "America/Chicago",
            "base_currency": "usd",
            "plan": "growth",
            "chart": "none",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == "/tenants/juniper/"
    tenant = Tenant.objects.get(slug="juniper")
    assert (tenant.partner, tenant.base_currency, tenant.plan) == (world.northwind, "USD", "growth")
    assert schema_exists("t_juniper")
    detail = client.get("/tenants/juniper/").content.decode()
    assert "juniper.northwind.localhost" in detail


def test_wizard_applies_the_standard_chart_and_invites_the_first_admin(
    world, host_client, mailoutbox, django_capture_on_commit_callbacks
):
    client = host_client("northwind.localhost", world.partner_admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/tenants/new/",
            {
                "name": "Willow Home",
                "slug": "willow",
                "timezone": "Europe/London",
                "base_currency": "GBP",
                "plan": "starter",
                "chart": "standard",
                "admin_email": "Owner@Willow.test",
                "admin_name": "Wren Owner",
            },
        )
    assert response.status_code == 302
    tenant = Tenant.objects.get(slug="willow")
    with tenant_context(tenant):
        assert Account.objects.filter(code="4000", name="Sales").exists()
        assert MappingSet.objects.filter(status=MappingSet.Status.ACTIVE).count() == 1
    membership = Membership.objects.get(tenant=tenant, user__email="owner@willow.test")
    assert membership.role == Membership.Role.TENANT_ADMIN
    assert [message.to for message in mailoutbox] == [["owner@willow.test"]]


def test_wizard_with_a_bad_admin_email_creates_nothing(world, host_client):
    client = host_client("northwind.localhost", world.partner_admin)
    response = client.post(
        "/tenants/new/",
        {
            "name": "Broken",
            "slug": "broken",
            "timezone": "UTC",
            "base_currency": "USD",
            "plan": "starter",
            "chart": "standard",
            "admin_email": "not-an-email",
        },
    )
    assert response.status_code == 200
    assert "Enter a valid email address." in response.content.decode()
    assert not Tenant.objects.filter(slug="broken").exists()


def test_tenant_form_keeps_input_and_shows_field_errors(world, host_client):
    client = host_client("northwind.localhost", world.partner_admin)
    response = client.post(
        "/tenants/new/",
        {"name": "Copy", "slug": "acme", "timezone": "UTC", "base_currency": "USD", "plan": "starter", "chart": "none"},
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "The slug acme is already taken." in body
    assert 'value="Copy"' in body


def test_partner_operator_cannot_create_tenants(world, host_client):
    from tenants import services
    from tests.factories import UserFactory

    operator = UserFactory(email="ops@northwind.test")
    services.membership_grant(user=operator, partner=world.northwind, role="partner_operator")
    client = host_client("northwind.localhost", operator)
    assert client.get("/tenants/").status_code == 200
    assert client.get("/tenants/new/").status_code == 404
    assert client.post("/tenants/acme/", {"action": "suspend"}).status_code == 404


def test_suspend_and_delete_from_the_console(world, host_client):
    client = host_client("northwind.localhost", world.partner_admin)
    client.post(
        "/tenants/new/",
        {
            "name": "Short Lived",
            "slug": "short",
            "timezone": "UTC",
            "base_currency": "USD",
            "plan": "starter",
            "chart": "none",
        },
    )
    assert client.post("/tenants/short/", {"action": "suspend"}).status_code == 302
    assert Tenant.objects.get(slug="short").status == "suspended"
    refused = client.post("/tenants/short/", {"action": "delete", "confirm_slug": "nope"})
    assert refused.status_code == 200 and b"Type short to confirm" in refused.content
    assert client.post("/tenants/short/", {"action": "delete", "confirm_slug": "short"}).status_code == 302
    assert not Tenant.objects.filter(slug="short").exists()
    assert not schema_exists("t_short")


def test_brand_page_saves_logo_and_warns_on_low_contrast(world, host_client):
    client = host_client("northwind.localhost", world.partner_admin)
    buffer = io.BytesIO()
    Image.new("RGB", (120, 40), "#0E5E6F").save(buffer, format="PNG")
    response = client.post(
        "/brand/",
        {
            "name": "Northwind Commerce Partners",
            "primary_colour": "#FFEE88",
            "accent_colour": "#F4B942",
            "support_email": "help@northwind.test",
            "sender_name": "Northwind",
            "logo": SimpleUploadedFile("logo.png", buffer.getvalue(), content_type="image/png"),
        },
    )
    assert response.status_code == 302
    page = client.get("/brand/").content.decode()
    assert "fails WCAG AA" in page
    logo = Partner.objects.get(pk=world.northwind.pk).logo
    assert logo.name.startswith("brand/logos/")
    assert f'<link rel="icon" href="{logo.url}">' in page  # the partner's logo is the tab icon


def test_brand_page_rejects_svg_logo_with_a_field_error(world, host_client):
    client = host_client("northwind.localhost", world.partner_admin)
    svg = SimpleUploadedFile("logo.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>", content_type="image/svg+xml")
    response = client.post(
        "/brand/", {"name": "Northwind", "primary_colour": "#0E5E6F", "accent_colour": "#F4B942", "logo": svg}
    )
    assert response.status_code == 200
    assert "not a PNG, JPEG, WebP or GIF image" in response.content.decode()


def test_operator_creates_a_partner(world, host_client):
    client = host_client("localhost", world.operator)
    response = client.post(
        "/partners/new/", {"name": "Westgate", "slug": "westgate", "domain": "westgate.localhost", "support_email": ""}
    )
    assert response.status_code == 302
    assert Partner.objects.filter(slug="westgate").exists()
    assert AuditEvent.objects.filter(action="partner.create", actor=world.operator).count() == 1


def test_partner_audit_log_lists_only_own_events(world, host_client):
    body = host_client("northwind.localhost", world.partner_admin).get("/audit/").content.decode()
    assert "Acme Outfitters" in body
    assert "Cedar Home" not in body


def test_partner_tenant_list_shows_health_from_the_index_and_usage(world, host_client):
    import datetime as dt

    from django.utils import timezone

    from tenants.models import UsageRecord
    from triage.partner.models import TriageIndex

    now = timezone.now()
    common = {"kind": "mapping", "severity": "high", "severity_rank": 1, "fix_class": "mapping", "title": "x"}
    common |= {"first_seen": now, "last_seen": now}
    for exception_id, status, breached in ((1, "open", True), (2, "assigned", False), (3, "resolved", True)):
        TriageIndex.objects.create(
            partner=world.northwind,
            tenant=world.acme,
            exception_id=exception_id,
            status=status,
            sla_due=now - dt.timedelta(hours=1),
            sla_breached=breached,
            **common,
        )
    TriageIndex.objects.create(
        partner=world.southpaw, tenant=world.cedar, exception_id=1, status="open", sla_due=now, **common
    )
    today = now.date()
    UsageRecord.objects.create(
        partner=world.northwind, tenant=world.acme, day=today, metric="orders_ingested", count=40
    )
    UsageRecord.objects.create(partner=world.northwind, tenant=world.acme, day=today, metric="sync_runs", count=3)
    page = host_client("northwind.localhost", world.partner_admin).get("/tenants/").content.decode()
    acme_row = page.split('data-tenant="acme"')[1].split("</tr>")[0]
    bluebird_row = page.split('data-tenant="bluebird"')[1].split("</tr>")[0]
    assert 'data-testid="open-exceptions">2<' in acme_row
    assert 'data-testid="sla-breaches">1<' in acme_row
    assert ">40<" in acme_row and "today" in acme_row
    assert 'data-testid="open-exceptions">0<' in bluebird_row and "never" in bluebird_row
    assert "cedar" not in page


def test_brand_preview_shows_unsaved_colours_with_their_contrast(world, host_client):
    client = host_client("northwind.localhost", world.partner_admin)
    page = client.get(
        "/brand/preview/", {"name": "Northwind Next", "primary_colour": "#FFEE88", "accent_colour": "#1F4E79"}
    ).content.decode()
    assert "Northwind Next" in page and "--p: #FFEE88" in page and "--on-p: #111111" in page
    assert "Primary colour as text on white: 1.18:1" in page and "fails WCAG AA" in page
    assert "Text on the accent colour: 8.66:1" in page
    assert Partner.objects.get(pk=world.northwind.pk).primary_colour != "#FFEE88"  # nothing saved
    bad = client.get("/brand/preview/", {"primary_colour": "red"})
    assert bad.status_code == 200 and "&#x27;red&#x27; is not a colour like #1F4E79." in bad.content.decode()


def test_brand_page_offers_the_live_preview_only_to_partner_admins(world, host_client):
    page = host_client("northwind.localhost", world.partner_admin).get("/brand/").content.decode()
    assert 'hx-get="/brand/preview/"' in page and 'data-testid="contrast"' in page
    for outsider in (world.acme_admin, world.other_partner_admin):
        refused = host_client("northwind.localhost", outsider).get("/brand/preview/", {"primary_colour": "#000000"})
        assert refused.status_code == 404


def test_product_favicon_where_the_partner_has_no_logo(world, host_client):
    page = host_client("southpaw.localhost", world.other_partner_admin).get("/").content.decode()
    assert '<link rel="icon" href="/static/favicon.svg">' in page


def _policy_changes(world):
    from django.db import connection

    from posting.services import policy_update

    with tenant_context(world.acme):
        policy_update(mode="batched", actor=world.acme_admin)
        policy_update(cutoff_hour=4, actor_label="api-key:tb_seedkey")
    with tenant_context(world.bluebird):
        policy_update(cutoff_hour=2, actor=world.bluebird_admin)
    with tenant_context(world.cedar):
        policy_update(mode="batched", actor=world.cedar_admin)
    connection.set_schema_to_public()


def test_partner_audit_page_filters_and_exports_csv(world, host_client):
    import csv
    import datetime as dt
    import json

    _policy_changes(world)
    client = host_client("northwind.localhost", world.partner_admin)
    page = client.get("/audit/?action=posting_policy.update&tenant=acme")
    assert page.status_code == 200
    body = page.content.decode()
    assert body.count("<code>posting_policy.update</code>") == 2
    assert world.bluebird_admin.email not in body
    exported = client.get("/audit/?action=posting_policy.update&export=csv")
    assert exported["Content-Type"].startswith("text/csv")
    assert 'filename="audit-northwind.csv"' in exported["Content-Disposition"]
    table = list(csv.reader(io.StringIO(exported.content.decode())))
    assert table[0][:4] == ["created_at", "actor", "action", "tenant"]
    assert sorted((row[1], row[3]) for row in table[1:]) == sorted(
        [
            (world.acme_admin.email, "acme"),
            ("api-key:tb_seedkey", "acme"),
            (world.bluebird_admin.email, "bluebird"),
        ]
    )
    assert {json.dumps(json.loads(row[7]), sort_keys=True) for row in table[1:]} >= {'{"cutoff_hour": [0, 4]}'}
    by_actor = list(csv.reader(io.StringIO(client.get("/audit/?actor=seedkey&export=csv").content.decode())))
    assert [row[1] for row in by_actor[1:]] == ["api-key:tb_seedkey"]
    tomorrow = (dt.date.today() + dt.timedelta(days=1)).isoformat()
    later = list(csv.reader(io.StringIO(client.get(f"/audit/?since={tomorrow}&export=csv").content.decode())))
    assert later[1:] == []
    assert client.get("/audit/?since=2026-02-01&until=2026-01-01").status_code == 400
    assert client.get("/audit/?since=garbage").status_code == 400
    # Cross-partner: cedar's change is southpaw's alone, even when northwind names the tenant.
    assert world.cedar_admin.email not in client.get("/audit/?tenant=cedar").content.decode()
    other = host_client("southpaw.localhost", world.other_partner_admin).get("/audit/?export=csv").content.decode()
    assert world.cedar_admin.email in other and world.acme_admin.email not in other


def test_tenant_audit_page_shows_only_this_tenant_and_exports(world, host_client):
    import csv

    _policy_changes(world)
    client = host_client(world.host(world.acme), world.acme_admin)
    page = client.get("/audit/?action=posting_policy.update")
    assert page.status_code == 200
    body = page.content.decode()
    assert body.count("<code>posting_policy.update</code>") == 2
    assert world.bluebird_admin.email not in body and world.cedar_admin.email not in body
    table = list(csv.reader(io.StringIO(client.get("/audit/?export=csv&tenant=bluebird").content.decode())))
    assert {row[3] for row in table[1:]} == {"acme"}
    assert len([row for row in table[1:] if row[2] == "posting_policy.update"]) == 2
    assert host_client(world.host(world.bluebird), world.acme_admin).get("/audit/").status_code in (302, 403, 404)
