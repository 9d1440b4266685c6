"""Issue 13 item 4: domain squatting (DESIGN.md §7).

A partner admin may put a tenant only under its own console domain or under a custom domain it
has proven by a DNS TXT record; never on another partner's domain, the operator's domain, an IP
literal or localhost. Everything goes through HTTP on the partner console, with the World's
northwind admin key; DNS answers come from the fake resolver in tests/fake_dns.py."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from portal.celery import app as celery_app
from tenants import services
from tenants.api_keys import api_key_create
from tenants.domains import DomainRefused, custom_domain_validate, host_normalise
from tenants.models import AuditEvent, Domain, DomainVerification, Membership, Tenant
from tenants.tasks import domain_verifications_recheck_task
from tests import fake_dns
from tests.conftest import client_for
from tests.factories import UserFactory

NORTHWIND = "northwind.localhost"
SOUTHPAW = "southpaw.localhost"
CUSTOM = "shops.northwind-retail.test"
BRAND = "Northwind Commerce Partners"


@pytest.fixture(autouse=True)
def fake_dns_records(settings):
    fake_dns.clear()
    # Custom domains must be let through Django's host check, as production's DJANGO_ALLOWED_HOSTS does.
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, ".northwind-retail.test", ".southpaw-shops.test"]
    yield fake_dns
    fake_dns.clear()


class Api:
    def __init__(self, host: str, key: str) -> None:
        self.client = Client(HTTP_HOST=host, HTTP_AUTHORIZATION=f"Bearer {key}")

    def get(self, path: str):
        return self.client.get(path)

    def post(self, path: str, data: dict | None = None):
        return self.client.post(path, json.dumps(data or {}), content_type="application/json")


def _key(partner, scopes=("read", "write", "admin")) -> str:
    return api_key_create(name="domains test", scopes=list(scopes), partner=partner).raw_key


@pytest.fixture
def northwind_api(world) -> Api:
    return Api(NORTHWIND, _key(world.northwind))


def _refusal(response) -> str:
    assert response.status_code == 400, response.content
    body = response.json()["error"]
    assert body["code"] == "invalid"
    return " ".join(body["details"]["domain"])


# ---- tenant hosts over the API --------------------------------------------------------------


@pytest.mark.parametrize(
    ("domain", "rule"),
    [
        ("shop.southpaw.localhost", "another_partner"),
        ("SHOP.SouthPaw.localhost.", "another_partner"),
        ("southpaw.localhost", "another_partner"),
        ("cedar.southpaw.localhost", "another_partner"),
        ("billing.localhost", "operator_domain"),
        ("localhost", "localhost"),
        ("127.0.0.1", "ip_address"),
        ("127.1", "ip_address"),
        ("10.0.0.7", "ip_address"),
        ("[::1]", "ip_address"),
        ("::1", "ip_address"),
        ("[fe80::1%eth0]", "ip_address"),
        ("northwind.localhost", "partner_console"),
        ("shop.elsewhere.example", "not_partner_domain"),
        ("shop.northwind.localhost:8000", "invalid_hostname"),
        ("shop_1.northwind.localhost", "invalid_hostname"),
        ("-shop.northwind.localhost", "invalid_hostname"),
        ("a" * 64 + ".northwind.localhost", "invalid_hostname"),
        ("evil.com/.northwind.localhost", "invalid_hostname"),
        ("acme.northwind.localhost", "in_use"),
    ],
)
def test_a_tenant_on_a_forbidden_host_is_refused_naming_the_rule(world, northwind_api, domain, rule):
    before = Tenant.objects.count()
    response = northwind_api.post("/api/v1/tenants/", {"slug": "squat", "name": "Squatter", "domain": domain})
    assert f"[rule: {rule}]" in _refusal(response)
    assert Tenant.objects.count() == before
    assert not Tenant.objects.filter(slug="squat").exists()


def test_a_tenant_on_its_own_subdomain_is_created(world, northwind_api):
    response = northwind_api.post(
        "/api/v1/tenants/", {"slug": "maple", "name": "Maple", "domain": "Maple-Store.Northwind.localhost."}
    )
    assert response.status_code == 201, response.content
    assert response.json()["domain"] == "maple-store.northwind.localhost"
    domain = Domain.objects.get(domain="maple-store.northwind.localhost")
    assert (domain.tenant.slug, domain.verification) == ("maple", None)


def test_an_internationalised_subdomain_is_stored_as_its_a_label(world, northwind_api):
    body = {"slug": "cafe", "name": "Café", "domain": "café.northwind.localhost"}
    response = northwind_api.post("/api/v1/tenants/", body)
    assert response.status_code == 201, response.content
    assert response.json()["domain"] == "xn--caf-dma.northwind.localhost"


def test_the_host_name_rules(world):
    assert host_normalise("Shop.Example.COM.") == "shop.example.com"
    assert host_normalise("bücher.example") == "xn--bcher-kva.example"
    longest = ".".join(["a" * 63] * 3 + ["b" * 61])
    assert len(longest) == 253 and host_normalise(longest) == longest
    for bad, rule in [
        (longest + "b", "invalid_hostname"),
        ("", "invalid_hostname"),
        ("a..b", "invalid_hostname"),
        ("shop.123", "invalid_hostname"),
        ("*.example.com", "invalid_hostname"),
        ("192.168.1.1", "ip_address"),
        ("0x7f.0.0.1", "invalid_hostname"),
        ("2001:db8::1", "ip_address"),
        ("LOCALHOST.", "localhost"),
    ]:
        with pytest.raises(DomainRefused) as caught:
            host_normalise(bad)
        assert caught.value.rule == rule, bad


# ---- custom domains: claim, prove, use --------------------------------------------------------


def test_a_custom_domain_is_refused_until_its_txt_record_is_seen_then_serves_tenants(
    world, northwind_api, fake_dns_records
):
    response = northwind_api.post("/api/v1/domain-verifications/", {"domain": "Shops.Northwind-Retail.test"})
    assert response.status_code == 201, response.content
    claim = response.json()
    assert (claim["domain"], claim["status"], claim["record_type"]) == (CUSTOM, "pending", "TXT")
    assert claim["record_name"] == f"_tillbridge-challenge.{CUSTOM}"
    token = DomainVerification.objects.get(pk=claim["id"]).token
    assert claim["record_value"] == f"tillbridge-verification={token}"

    tenant_body = {"slug": "oak", "name": "Oak Street", "domain": f"oak.{CUSTOM}"}
    assert "[rule: unverified_custom_domain]" in _refusal(northwind_api.post("/api/v1/tenants/", tenant_body))

    # Checking before the record exists leaves the claim pending, saying what is missing.
    checked = northwind_api.post(f"/api/v1/domain-verifications/{claim['id']}/check/").json()
    assert checked["status"] == "pending" and "No TXT record" in checked["last_error"]
    assert checked["checked_at"] is not None

    fake_dns_records.publish(f"_tillbridge-challenge.{CUSTOM}", "v=spf1 -all")
    fake_dns_records.publish(f"_tillbridge-challenge.{CUSTOM}", claim["record_value"])
    checked = northwind_api.post(f"/api/v1/domain-verifications/{claim['id']}/check/").json()
    assert (checked["status"], checked["last_error"]) == ("verified", "")
    assert checked["verified_at"] is not None

    response = northwind_api.post("/api/v1/tenants/", tenant_body)
    assert response.status_code == 201, response.content
    assert response.json()["domain"] == f"oak.{CUSTOM}"
    assert Domain.objects.get(domain=f"oak.{CUSTOM}").verification_id == claim["id"]
    # The claimed domain itself can be a tenant host too.
    response = northwind_api.post("/api/v1/tenants/", {"slug": "apex", "name": "Apex", "domain": CUSTOM})
    assert response.status_code == 201, response.content

    sign_in = Client(HTTP_HOST=f"oak.{CUSTOM}").get("/accounts/login/")
    assert sign_in.status_code == 200 and BRAND in sign_in.content.decode()
    actions = list(
        AuditEvent.objects.filter(target_type="tenants.domainverification", target_id=str(claim["id"])).values_list(
            "action", flat=True
        )
    )
    assert sorted(actions) == ["domain_verification.create", "domain_verification.status"]


def test_the_host_of_a_pending_custom_domain_shows_nothing_of_the_partner(world, northwind_api):
    assert northwind_api.post("/api/v1/domain-verifications/", {"domain": CUSTOM}).status_code == 201
    for host in (CUSTOM, f"oak.{CUSTOM}"):
        for path in ("/", "/accounts/login/", "/api/v1/tenant/"):
            response = Client(HTTP_HOST=host).get(path)
            assert response.status_code == 404, (host, path)
            assert BRAND not in response.content.decode()
            assert "#0E5E6F" not in response.content.decode()


def test_a_custom_domain_that_loses_its_record_stops_serving_and_returns_when_it_is_back(
    world, northwind_api, fake_dns_records
):
    claim = northwind_api.post("/api/v1/domain-verifications/", {"domain": CUSTOM}).json()
    fake_dns_records.publish(claim["record_name"], claim["record_value"])
    assert northwind_api.post(f"/api/v1/domain-verifications/{claim['id']}/check/").json()["status"] == "verified"
    created = northwind_api.post("/api/v1/tenants/", {"slug": "oak", "name": "Oak", "domain": f"oak.{CUSTOM}"})
    assert created.status_code == 201
    assert Client(HTTP_HOST=f"oak.{CUSTOM}").get("/accounts/login/").status_code == 200

    fake_dns_records.withdraw(claim["record_name"])
    counts = domain_verifications_recheck_task.apply().get()
    assert counts == {"failed": 1}
    response = Client(HTTP_HOST=f"oak.{CUSTOM}").get("/accounts/login/")
    assert response.status_code == 404 and BRAND not in response.content.decode()
    refused = northwind_api.post("/api/v1/tenants/", {"slug": "pine", "name": "Pine", "domain": f"pine.{CUSTOM}"})
    assert "[rule: unverified_custom_domain]" in _refusal(refused)

    fake_dns_records.publish(claim["record_name"], claim["record_value"])
    assert domain_verifications_recheck_task.apply().get() == {"verified": 1}
    assert Client(HTTP_HOST=f"oak.{CUSTOM}").get("/accounts/login/").status_code == 200


def test_the_periodic_recheck_verifies_pending_claims_and_keeps_status_on_dns_errors(
    world, northwind_api, fake_dns_records
):
    first = northwind_api.post("/api/v1/domain-verifications/", {"domain": CUSTOM}).json()
    second = northwind_api.post("/api/v1/domain-verifications/", {"domain": "eu.northwind-retail.test"}).json()
    fake_dns_records.publish(first["record_name"], first["record_value"])
    fake_dns_records.FAILING.add(second["record_name"])
    assert domain_verifications_recheck_task.apply().get() == {"verified": 1, "unchanged": 1}
    statuses = dict(DomainVerification.objects.values_list("domain", "status"))
    assert statuses == {CUSTOM: "verified", "eu.northwind-retail.test": "pending"}
    assert "Timeout" in DomainVerification.objects.get(pk=second["id"]).last_error
    # A verified domain whose lookup times out stays verified: only a missing record unverifies.
    fake_dns_records.FAILING.add(first["record_name"])
    domain_verifications_recheck_task.apply().get()
    assert DomainVerification.objects.get(pk=first["id"]).status == "verified"


def test_the_recheck_is_a_beat_entry():
    entries = {entry["task"]: entry["schedule"] for entry in celery_app.conf.beat_schedule.values()}
    assert entries["tenants.domain_verifications_recheck"] == 3600.0


# ---- custom domains: what may be claimed, by whom ---------------------------------------------


@pytest.mark.parametrize(
    ("domain", "rule"),
    [
        ("localhost", "localhost"),
        ("billing.localhost", "localhost"),
        ("127.0.0.1", "ip_address"),
        ("[::1]", "ip_address"),
        ("southpaw.localhost", "localhost"),
        ("com", "invalid_hostname"),
        ("not a domain", "invalid_hostname"),
    ],
)
def test_a_partner_cannot_claim_forbidden_custom_domains(world, northwind_api, domain, rule):
    response = northwind_api.post("/api/v1/domain-verifications/", {"domain": domain})
    assert f"[rule: {rule}]" in _refusal(response)
    assert not DomainVerification.objects.exists()


def test_claims_never_overlap_the_operator_or_partner_consoles(world, settings):
    settings.PORTAL_PUBLIC_DOMAIN = "portal.tillbridge.test"
    for domain, rule in [
        ("portal.tillbridge.test", "operator_domain"),
        ("eu.portal.tillbridge.test", "operator_domain"),
        ("tillbridge.test", "operator_domain"),
    ]:
        with pytest.raises(DomainRefused) as caught:
            custom_domain_validate(partner=world.northwind, domain=domain)
        assert caught.value.rule == rule


def test_another_partners_verified_domain_cannot_be_claimed_or_used(world, northwind_api, fake_dns_records):
    southpaw_api = Api(SOUTHPAW, _key(world.southpaw))
    claim = southpaw_api.post("/api/v1/domain-verifications/", {"domain": "southpaw-shops.test"}).json()
    fake_dns_records.publish(claim["record_name"], claim["record_value"])
    assert southpaw_api.post(f"/api/v1/domain-verifications/{claim['id']}/check/").json()["status"] == "verified"

    for domain in ("southpaw-shops.test", "eu.southpaw-shops.test"):
        refused = northwind_api.post("/api/v1/domain-verifications/", {"domain": domain})
        assert "[rule: another_partner]" in _refusal(refused)
    body = {"slug": "sly", "name": "Sly", "domain": "sly.southpaw-shops.test"}
    refused = northwind_api.post("/api/v1/tenants/", body)
    assert "[rule: another_partner]" in _refusal(refused)


def test_a_pending_claim_does_not_block_the_real_owner_and_only_one_partner_verifies(
    world, northwind_api, fake_dns_records
):
    squat = northwind_api.post("/api/v1/domain-verifications/", {"domain": "southpaw-shops.test"}).json()
    southpaw_api = Api(SOUTHPAW, _key(world.southpaw))
    real = southpaw_api.post("/api/v1/domain-verifications/", {"domain": "southpaw-shops.test"}).json()
    assert real["record_value"] != squat["record_value"]
    fake_dns_records.publish(real["record_name"], real["record_value"])  # only the owner can publish
    assert northwind_api.post(f"/api/v1/domain-verifications/{squat['id']}/check/").json()["status"] == "pending"
    assert southpaw_api.post(f"/api/v1/domain-verifications/{real['id']}/check/").json()["status"] == "verified"
    # Even if the squatter's token were published too, the name is already held.
    fake_dns_records.publish(squat["record_name"], squat["record_value"])
    checked = northwind_api.post(f"/api/v1/domain-verifications/{squat['id']}/check/").json()
    assert (checked["status"], checked["last_error"]) == ("failed", "Another partner has verified this domain.")


def test_domain_verifications_api_needs_the_admin_scope_and_is_the_partners_own(world, northwind_api):
    claim = northwind_api.post("/api/v1/domain-verifications/", {"domain": CUSTOM}).json()
    write_only = Api(NORTHWIND, _key(world.northwind, scopes=("read", "write")))
    assert write_only.get("/api/v1/domain-verifications/").status_code == 403
    assert write_only.post("/api/v1/domain-verifications/", {"domain": "x.northwind-retail.test"}).status_code == 403
    assert write_only.post(f"/api/v1/domain-verifications/{claim['id']}/check/").status_code == 403

    listed = northwind_api.get("/api/v1/domain-verifications/").json()
    assert [row["domain"] for row in listed["results"]] == [CUSTOM]
    assert northwind_api.get(f"/api/v1/domain-verifications/{claim['id']}/").json()["status"] == "pending"

    southpaw_api = Api(SOUTHPAW, _key(world.southpaw))
    assert southpaw_api.get("/api/v1/domain-verifications/").json()["results"] == []
    assert southpaw_api.get(f"/api/v1/domain-verifications/{claim['id']}/").status_code == 404
    assert southpaw_api.post(f"/api/v1/domain-verifications/{claim['id']}/check/").status_code == 404
    # A northwind key on southpaw's console is refused outright.
    assert Api(SOUTHPAW, _key(world.northwind)).get("/api/v1/domain-verifications/").status_code == 404
    # Tenant keys never reach the partner endpoint.
    tenant_key = api_key_create(name="t", scopes=["read", "write", "admin"], tenant=world.acme).raw_key
    assert Api(world.host(world.acme), tenant_key).get("/api/v1/domain-verifications/").status_code == 404
    bad = northwind_api.post("/api/v1/domain-verifications/", {"domain": CUSTOM})
    assert "[rule: duplicate]" in _refusal(bad)
    assert northwind_api.post("/api/v1/domain-verifications/", {}).status_code == 400


# ---- console ----------------------------------------------------------------------------------


def test_console_domains_panel_adds_shows_the_record_and_checks_now(world, fake_dns_records):
    client = client_for(NORTHWIND, world.partner_admin)
    page = client.get("/domains/")
    assert page.status_code == 200 and "Add a custom domain" in page.content.decode()
    assert 'href="/domains/"' in page.content.decode()  # in the console's navigation

    response = client.post("/domains/", {"domain": CUSTOM})
    assert response.status_code == 302 and response["Location"] == "/domains/"
    claim = DomainVerification.objects.get(partner=world.northwind, domain=CUSTOM)
    page = client.get("/domains/").content.decode()
    assert f"_tillbridge-challenge.{CUSTOM}" in page
    assert f"tillbridge-verification={claim.token}" in page
    assert "Pending" in page

    response = client.post(f"/domains/{claim.pk}/check/", follow=True)
    assert "is pending" in response.content.decode()
    fake_dns_records.publish(f"_tillbridge-challenge.{CUSTOM}", f"tillbridge-verification={claim.token}")
    response = client.post(f"/domains/{claim.pk}/check/", follow=True)
    assert f"{CUSTOM} is verified" in response.content.decode()
    claim.refresh_from_db()
    assert claim.status == "verified"


def test_console_refuses_forbidden_custom_domains_with_a_form_error(world):
    client = client_for(NORTHWIND, world.partner_admin)
    response = client.post("/domains/", {"domain": "127.0.0.1"})
    assert response.status_code == 200
    assert "[rule: ip_address]" in response.content.decode()
    assert not DomainVerification.objects.exists()


def test_console_domains_panel_is_for_the_partners_admins_only(world):
    claim = DomainVerification.objects.create(partner=world.northwind, domain=CUSTOM, token="t" * 32)
    operator = UserFactory()
    services.membership_grant(user=operator, partner=world.northwind, role=Membership.Role.PARTNER_OPERATOR)
    assert client_for(NORTHWIND, operator).get("/domains/").status_code == 404
    assert client_for(NORTHWIND, operator).post(f"/domains/{claim.pk}/check/").status_code == 404
    southpaw_admin = client_for(SOUTHPAW, world.other_partner_admin)
    assert southpaw_admin.post(f"/domains/{claim.pk}/check/").status_code == 404
    assert CUSTOM not in southpaw_admin.get("/domains/").content.decode()
    assert client_for(world.host(world.acme), world.acme_admin).get("/domains/").status_code == 404


@pytest.mark.parametrize(
    ("domain", "rule"),
    [("shop.southpaw.localhost", "another_partner"), ("billing.localhost", "operator_domain"), ("[::1]", "ip_address")],
)
def test_console_tenant_wizard_refuses_forbidden_hosts(world, domain, rule):
    client = client_for(NORTHWIND, world.partner_admin)
    response = client.post(
        "/tenants/new/",
        {
            "name": "Squat",
            "slug": "squat",
            "domain": domain,
            "timezone": "UTC",
            "base_currency": "USD",
            "plan": "starter",
            "chart": "none",
        },
    )
    assert response.status_code == 200
    assert f"[rule: {rule}]" in response.content.decode()
    assert not Tenant.objects.filter(slug="squat").exists()


def test_operator_cannot_give_a_partner_an_ip_localhost_or_overlapping_console_domain(world):
    client = client_for("localhost", world.operator)
    for domain, rule in [
        ("127.0.0.1", "ip_address"),
        ("localhost", "localhost"),
        ("shop.southpaw.localhost", "another_partner"),
    ]:
        response = client.post("/partners/new/", {"name": "Westgate", "slug": "westgate", "domain": domain})
        assert response.status_code == 200
        assert f"[rule: {rule}]" in response.content.decode()
    created = client.post("/partners/new/", {"name": "W", "slug": "westgate", "domain": "westgate.localhost"})
    assert created.status_code == 302
