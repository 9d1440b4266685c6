"""A partner cannot add someone else's user to its tenants by itself: an existing account gets an
invitation to accept, the membership exists only once accepted, and the API answers the same
whether or not the address has an account (DESIGN.md §7)."""

import datetime as dt
import re

import pytest
from django.test import Client
from django.utils import timezone

from tenants import services
from tenants.models import Invitation, Membership

CONSOLE = "northwind.localhost"
LINK = re.compile(r"https?://[^\s]+/accounts/invitations/[^\s/]+/")


@pytest.fixture
def add_member(world, host_client, django_capture_on_commit_callbacks):
    client = host_client(CONSOLE, world.partner_admin)

    def add(email: str, role: str = "tenant_viewer", tenant: str | None = "acme"):
        body = {"email": email, "role": role} | ({"tenant": tenant} if tenant else {})
        with django_capture_on_commit_callbacks(execute=True):
            return client.post("/api/v1/members/", body, content_type="application/json")

    return add


def _path(url: str) -> str:
    return "/" + url.split("/", 3)[3]


def test_adding_another_partners_user_sends_an_invitation_and_grants_nothing(world, add_member, mailoutbox):
    response = add_member("owner@cedar.test")
    assert response.status_code == 202
    assert not Membership.objects.filter(user=world.cedar_admin, tenant=world.acme).exists()
    invitation = Invitation.objects.get(user=world.cedar_admin)
    assert (invitation.partner, invitation.tenant, invitation.role, invitation.status) == (
        world.northwind,
        world.acme,
        "tenant_viewer",
        "pending",
    )
    assert invitation.inviter == world.partner_admin
    assert timezone.now() + dt.timedelta(days=6) < invitation.expires_at < timezone.now() + dt.timedelta(days=8)
    (message,) = mailoutbox
    assert message.to == ["owner@cedar.test"]
    # On the invited user's own host (cedar, where they can sign in), in the inviting partner's brand.
    link = LINK.search(message.body).group(0)
    assert link == f"http://{world.host(world.cedar)}/accounts/invitations/{invitation.key}/"
    assert message.subject.startswith("[Northwind Commerce Partners]")
    assert message.from_email == "Northwind Commerce Partners <help@northwind.test>"
    assert "Acme Outfitters" in message.body
    assert len(invitation.key) >= 40


def test_the_answer_does_not_reveal_whether_the_account_exists(world, add_member):
    answers = {
        email: add_member(email)
        for email in ("owner@cedar.test", "brand.new@nowhere.test", "books@bluebird.test", "finance@acme.test")
    }
    assert {response.status_code for response in answers.values()} == {202}
    bodies = [{k: v for k, v in response.json().items() if k != "email"} for response in answers.values()]
    assert all(body == {"role": "tenant_viewer", "tenant": "acme", "status": "invited"} for body in bodies)
    assert [response.json()["email"] for response in answers.values()] == list(answers)
    # A new person keeps today's flow (created, granted); someone the partner already has is granted.
    assert Membership.objects.filter(user__email="brand.new@nowhere.test", tenant=world.acme).exists()
    assert Membership.objects.filter(user=world.bluebird_admin, tenant=world.acme).exists()
    assert not Membership.objects.filter(user=world.cedar_admin, tenant=world.acme).exists()


def test_invited_user_accepts_and_only_then_becomes_a_member(world, add_member, host_client, mailoutbox):
    add_member("owner@cedar.test", role="tenant_admin")
    path = _path(LINK.search(mailoutbox[0].body).group(0))
    acme = world.host(world.acme)
    assert host_client(acme, world.cedar_admin).get("/").status_code == 404
    client = host_client(world.host(world.cedar), world.cedar_admin)
    page = client.get(path)
    assert page.status_code == 200
    assert "Acme Outfitters" in page.content.decode() and "Tenant admin" in page.content.decode()
    accepted = client.post(path, {"action": "accept"})
    assert (accepted.status_code, accepted["Location"]) == (302, f"http://{acme}/")
    membership = Membership.objects.get(user=world.cedar_admin, tenant=world.acme)
    assert membership.role == "tenant_admin"
    assert Invitation.objects.get(user=world.cedar_admin).status == "accepted"
    assert host_client(acme, world.cedar_admin).get("/").status_code == 200
    assert client.post(path, {"action": "accept"}).status_code == 400  # answered once only


def test_declining_grants_nothing_and_closes_the_invitation(world, add_member, host_client, mailoutbox):
    add_member("owner@cedar.test")
    path = _path(LINK.search(mailoutbox[0].body).group(0))
    client = host_client(world.host(world.cedar), world.cedar_admin)
    assert client.post(path, {"action": "decline"}).status_code == 200
    assert client.post(path, {"action": "accept"}).status_code == 400
    assert client.post(path, {"action": "explode"}).status_code == 400
    assert Invitation.objects.get(user=world.cedar_admin).status == "declined"
    assert not Membership.objects.filter(user=world.cedar_admin, tenant=world.acme).exists()


def test_only_the_invited_user_may_answer(world, add_member, host_client, mailoutbox):
    add_member("owner@cedar.test")
    path = _path(LINK.search(mailoutbox[0].body).group(0))
    signed_out = Client(HTTP_HOST=world.host(world.cedar)).get(path)
    assert signed_out.status_code == 302 and "/accounts/login/" in signed_out["Location"]
    assert host_client(CONSOLE, world.partner_admin).post(path, {"action": "accept"}).status_code == 404
    assert host_client(world.host(world.cedar), world.cedar_admin).get("/accounts/invitations/nope/").status_code == 404
    assert not Membership.objects.filter(user=world.cedar_admin, tenant=world.acme).exists()
    assert not Membership.objects.filter(user=world.partner_admin, tenant=world.acme).exists()


def test_an_expired_invitation_cannot_be_accepted(world, add_member, host_client, mailoutbox):
    add_member("owner@cedar.test")
    invitation = Invitation.objects.get(user=world.cedar_admin)
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - dt.timedelta(minutes=1))
    client = host_client(world.host(world.cedar), world.cedar_admin)
    assert "expired" in client.get(f"/accounts/invitations/{invitation.key}/").content.decode()
    assert client.post(f"/accounts/invitations/{invitation.key}/", {"action": "accept"}).status_code == 400
    assert not Membership.objects.filter(user=world.cedar_admin, tenant=world.acme).exists()


def test_pending_invitations_are_listed_on_the_members_page(world, add_member, host_client):
    add_member("owner@cedar.test")
    page = host_client(CONSOLE, world.partner_admin).get("/members/").content.decode()
    pending = page.split('data-testid="pending-invitations"')[1]
    assert "owner@cedar.test" in pending and "Acme Outfitters" in pending
    southpaw = host_client("southpaw.localhost", world.other_partner_admin).get("/members/").content.decode()
    assert "pending-invitations" not in southpaw


def test_inviting_again_renews_the_pending_invitation(world, add_member, mailoutbox):
    add_member("owner@cedar.test")
    first = Invitation.objects.get(user=world.cedar_admin).key
    add_member("owner@cedar.test", role="tenant_admin")
    invitation = Invitation.objects.get(user=world.cedar_admin)
    assert (invitation.role, invitation.key != first, len(mailoutbox)) == ("tenant_admin", True, 2)


def test_a_user_without_any_membership_answers_on_the_invited_host(world, add_member, host_client, mailoutbox):
    loner = services.user_create(email="loner@nowhere.test", password="x-long-enough-password", verified=True)
    add_member("loner@nowhere.test", role="partner_operator", tenant=None)
    link = LINK.search(mailoutbox[0].body).group(0)
    assert link.startswith(f"http://{CONSOLE}/accounts/invitations/")
    client = host_client(CONSOLE, loner)
    assert client.get("/").status_code == 404
    assert client.post(_path(link), {"action": "accept"}).status_code == 302
    assert Membership.objects.get(user=loner, partner=world.northwind).role == "partner_operator"
    assert client.get("/").status_code == 200


def test_partner_roles_follow_the_same_rule(world, add_member):
    assert add_member("owner@cedar.test", role="partner_admin", tenant=None).status_code == 202
    assert not Membership.objects.filter(user=world.cedar_admin, partner=world.northwind).exists()
    assert Invitation.objects.get(user=world.cedar_admin).tenant is None
    assert add_member("owner@cedar.test", role="tenant_admin", tenant=None).status_code == 400


def test_the_new_tenant_wizard_invites_an_existing_account_instead_of_adding_it(
    world, host_client, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = host_client(CONSOLE, world.partner_admin).post(
            "/tenants/new/",
            {
                "name": "Hazel Goods",
                "slug": "hazel",
                "timezone": "UTC",
                "base_currency": "USD",
                "plan": "starter",
                "chart": "none",
                "admin_email": "owner@cedar.test",
            },
        )
    assert response.status_code == 302
    assert not Membership.objects.filter(user=world.cedar_admin, tenant__slug="hazel").exists()
    assert Invitation.objects.get(user=world.cedar_admin).tenant.slug == "hazel"
    assert [m.to for m in mailoutbox] == [["owner@cedar.test"]]
