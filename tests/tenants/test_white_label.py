"""The white-label plan: the operator sets it; the partner's pages, mails and authenticator entries
then carry no product name, while the standard plan keeps "Powered by" the product."""

from __future__ import annotations

from django.core import mail
from django.test import Client

from tenants.models import AuditEvent, Partner
from tenants.services import partner_plan_set
from tests.tenants.test_auth import _signed_in

PRODUCT = "Tillbridge"


def _footer(page: str) -> str:
    return page[page.index('<footer class="footer">') :]


def test_standard_plan_pages_say_powered_by_the_product(world, host_client):
    page = host_client(world.host(world.acme), world.acme_admin).get("/").content.decode()
    assert f"Powered by {PRODUCT}" in _footer(page)


def test_operator_sets_white_label_and_the_product_name_leaves_every_partner_page(world, host_client):
    operator = host_client("localhost", world.operator)
    response = operator.post(f"/partners/{world.northwind.slug}/plan/", {"plan": "white_label"})
    assert response.status_code == 302
    world.northwind.refresh_from_db()
    assert world.northwind.plan == Partner.Plan.WHITE_LABEL
    event = AuditEvent.objects.get(action="partner.plan_set")
    assert (event.actor_label, event.changes) == (world.operator.email, {"plan": ["standard", "white_label"]})
    pages = [
        host_client(world.host(world.acme), world.acme_admin).get("/"),
        host_client("northwind.localhost", world.partner_admin).get("/"),
        Client(HTTP_HOST="northwind.localhost").get("/accounts/login/"),
        Client(HTTP_HOST=world.host(world.acme)).get("/accounts/password/reset/"),
    ]
    for response in pages:
        assert response.status_code == 200
        assert PRODUCT not in response.content.decode()
    other = host_client(world.host(world.cedar), world.cedar_admin).get("/").content.decode()
    assert f"Powered by {PRODUCT}" in _footer(other)  # southpaw is still on the standard plan


def test_only_the_operator_sets_a_plan_and_bad_plans_are_refused(world, host_client):
    partner_admin = host_client("northwind.localhost", world.partner_admin)
    assert partner_admin.post(f"/partners/{world.northwind.slug}/plan/", {"plan": "white_label"}).status_code == 404
    operator = host_client("localhost", world.operator)
    operator.post(f"/partners/{world.northwind.slug}/plan/", {"plan": "platinum"})
    world.northwind.refresh_from_db()
    assert world.northwind.plan == Partner.Plan.STANDARD
    assert operator.post("/partners/no-such/plan/", {"plan": "standard"}).status_code == 404


def test_white_label_mails_carry_the_partner_only(world, settings):
    settings.DEFAULT_FROM_EMAIL = f"{PRODUCT} <no-reply@tillbridge.localhost>"
    partner_plan_set(partner=world.northwind, plan="white_label", actor=None)
    Partner.objects.filter(pk=world.northwind.pk).update(support_email="")  # no address of its own
    Client(HTTP_HOST="northwind.localhost").post("/accounts/password/reset/", {"email": "admin@northwind.test"})
    [message] = mail.outbox
    assert message.from_email == "Northwind Commerce Partners <no-reply@tillbridge.localhost>"
    assert PRODUCT not in message.subject and PRODUCT not in message.body


def test_authenticator_apps_name_the_partner_not_the_product(world):
    partner_plan_set(partner=world.northwind, plan="white_label", actor=None)
    client = _signed_in(world.host(world.acme), "finance@acme.test")
    response = client.get("/accounts/2fa/totp/activate/")
    assert "issuer=Northwind%20Commerce%20Partners" in response.context["totp_url"]
    assert PRODUCT not in response.context["totp_url"] and PRODUCT not in response.content.decode()
