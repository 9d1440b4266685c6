"""Auth mails (reset, verification, invitation) only for the host's own users, on their own host,
in their partner's brand; reset tokens bound to the host they were minted for (DESIGN.md §7)."""

import re

import pytest
from allauth.account.models import EmailAddress, EmailConfirmationHMAC
from allauth.account.utils import user_pk_to_url_str
from django.core.cache import cache
from django.test import Client

from tenants import services
from tenants.models import Membership
from tenants.selectors import membership_role_for_host
from tenants.tokens import HostBoundTokenGenerator
from tests.conftest import PASSWORD

NEW_PASSWORD = "a-brand-new-passphrase-42"
LINK = re.compile(r"https?://[^\s]+")


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()  # allauth's reset / verification cool-downs live in the cache
    yield
    cache.clear()


def _reset(host: str, email: str):
    return Client(HTTP_HOST=host).post("/accounts/password/reset/", {"email": email})


def _link(message) -> str:
    return LINK.search(message.body).group(0)


def _path_of(url: str) -> str:
    return "/" + url.split("/", 3)[3]


def _set_password_with(host: str, path: str, password: str = NEW_PASSWORD):
    client = Client(HTTP_HOST=host)
    opened = client.get(path)
    if opened.status_code != 302:
        return opened
    return client.post(opened["Location"], {"password1": password, "password2": password})


def _signs_in(host: str, email: str, password: str) -> bool:
    return Client(HTTP_HOST=host).post("/accounts/login/", {"login": email, "password": password}).status_code == 302


def test_membership_rule_per_host(world):
    acme, cedar = world.host(world.acme), world.host(world.cedar)
    assert membership_role_for_host(user=world.acme_admin, host=acme) == "tenant_admin"
    assert membership_role_for_host(user=world.acme_admin, host=world.host(world.bluebird)) is None
    assert membership_role_for_host(user=world.acme_admin, host="northwind.localhost") is None
    assert membership_role_for_host(user=world.partner_admin, host=acme) == "partner_admin"
    assert membership_role_for_host(user=world.partner_admin, host="northwind.localhost") == "partner_admin"
    assert membership_role_for_host(user=world.partner_admin, host=cedar) is None
    assert membership_role_for_host(user=world.partner_admin, host="southpaw.localhost") is None
    assert membership_role_for_host(user=world.operator, host="localhost") == "operator"
    assert membership_role_for_host(user=world.partner_admin, host="localhost") is None
    assert membership_role_for_host(user=world.acme_admin, host="nowhere.example") is None


def test_reset_asked_on_another_partners_host_is_neutral_and_sends_nothing(world, mailoutbox):
    unknown = _reset("southpaw.localhost", "nobody@nowhere.test")
    for host in ("southpaw.localhost", world.host(world.cedar), world.host(world.bluebird), "localhost"):
        response = _reset(host, "finance@acme.test")
        assert (response.status_code, response["Location"]) == (unknown.status_code, unknown["Location"])
        assert Client(HTTP_HOST=host).get(response["Location"]).status_code == 200
    assert unknown.status_code == 302
    assert mailoutbox == []


def test_unknown_email_gets_the_same_answer_and_no_mail(world, mailoutbox):
    unknown = _reset(world.host(world.acme), "nobody@nowhere.test")
    known = _reset(world.host(world.acme), "finance@acme.test")
    assert (unknown.status_code, unknown["Location"]) == (known.status_code, known["Location"])
    assert [m.to for m in mailoutbox] == [["finance@acme.test"]]


def test_reset_on_own_host_mails_a_link_on_that_host_in_its_partners_brand(world, mailoutbox):
    acme = world.host(world.acme)
    _reset(acme, "finance@acme.test")
    (message,) = mailoutbox
    link = _link(message)
    assert link.startswith(f"http://{acme}/accounts/password/reset/key/")
    assert message.subject.startswith("[Northwind Commerce Partners]")
    assert message.from_email == "Northwind Commerce Partners <help@northwind.test>"
    assert "Southpaw" not in message.body
    assert _set_password_with(acme, _path_of(link)).status_code == 302
    assert _signs_in(acme, "finance@acme.test", NEW_PASSWORD)


def test_southpaw_user_gets_southpaw_brand(world, mailoutbox):
    _reset(world.host(world.cedar), "owner@cedar.test")
    (message,) = mailoutbox
    assert message.subject.startswith("[Southpaw Digital]")
    assert _link(message).startswith(f"http://{world.host(world.cedar)}/")


def test_token_from_one_host_is_refused_on_another(world, mailoutbox):
    acme, bluebird = world.host(world.acme), world.host(world.bluebird)
    _reset(acme, "admin@northwind.test")  # a partner admin belongs to acme, bluebird and the console
    path = _path_of(_link(mailoutbox[0]))
    for other in (bluebird, "northwind.localhost", "southpaw.localhost", world.host(world.cedar)):
        refused = Client(HTTP_HOST=other).get(path)
        assert refused.status_code == 200 and refused.context["token_fail"] is True
    assert not _signs_in("northwind.localhost", "admin@northwind.test", NEW_PASSWORD)
    assert _set_password_with(acme, path).status_code == 302
    assert _signs_in("northwind.localhost", "admin@northwind.test", NEW_PASSWORD)


def test_reset_from_key_refuses_on_a_host_the_user_does_not_belong_to(world):
    # Even a well-formed token minted for southpaw's host cannot reset a northwind user's password there.
    token = HostBoundTokenGenerator(host="southpaw.localhost").make_token(world.acme_admin)
    path = f"/accounts/password/reset/key/{user_pk_to_url_str(world.acme_admin)}-{token}/"
    response = Client(HTTP_HOST="southpaw.localhost").get(path)
    assert response.status_code == 200 and response.context["token_fail"] is True
    assert _signs_in(world.host(world.acme), "finance@acme.test", PASSWORD)


def _unverified_member(world, email: str):
    user = services.user_create(email=email, password=PASSWORD, verified=False)
    services.membership_grant(user=user, tenant=world.acme, role=Membership.Role.TENANT_VIEWER)
    return user


def test_verification_mail_only_on_own_host(world, mailoutbox):
    _unverified_member(world, "fresh@acme.test")
    Client(HTTP_HOST="southpaw.localhost").post("/accounts/login/", {"login": "fresh@acme.test", "password": PASSWORD})
    assert mailoutbox == []
    acme = world.host(world.acme)
    Client(HTTP_HOST=acme).post("/accounts/login/", {"login": "fresh@acme.test", "password": PASSWORD})
    (message,) = mailoutbox
    assert message.subject.startswith("[Northwind Commerce Partners]")
    assert _link(message).startswith(f"http://{acme}/accounts/confirm-email/")


def test_verification_link_is_refused_on_a_host_the_user_does_not_belong_to(world):
    user = _unverified_member(world, "fresh2@acme.test")
    address = EmailAddress.objects.get(user=user)
    path = f"/accounts/confirm-email/{EmailConfirmationHMAC(address).key}/"
    Client(HTTP_HOST="southpaw.localhost").post(path)
    address.refresh_from_db()
    assert not address.verified
    Client(HTTP_HOST=world.host(world.acme)).post(path)
    address.refresh_from_db()
    assert address.verified


def test_invitation_of_a_new_user_links_to_the_tenant_host_in_the_inviting_brand(
    world, host_client, mailoutbox, django_capture_on_commit_callbacks
):
    client = host_client("northwind.localhost", world.partner_admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/api/v1/members/",
            {"email": "newbie@acme.test", "role": "tenant_viewer", "tenant": "acme"},
            content_type="application/json",
        )
    assert response.status_code in (201, 202)
    (message,) = mailoutbox
    acme = world.host(world.acme)
    link = _link(message)
    assert link.startswith(f"http://{acme}/accounts/password/reset/key/")
    assert message.subject.startswith("[Northwind Commerce Partners]")
    refused = Client(HTTP_HOST="northwind.localhost").get(_path_of(link))
    assert refused.context["token_fail"] is True
    assert _set_password_with(acme, _path_of(link)).status_code == 302
    assert _signs_in(acme, "newbie@acme.test", NEW_PASSWORD)


def test_operator_resets_only_on_the_operator_host_in_the_product_brand(world, mailoutbox):
    _reset("northwind.localhost", "operator@tillbridge.test")
    assert mailoutbox == []
    _reset("localhost", "operator@tillbridge.test")
    (message,) = mailoutbox
    assert message.subject.startswith("[Tillbridge]")
    assert _link(message).startswith("http://localhost/accounts/password/reset/key/")


def test_a_deactivated_member_gets_no_mail(world, mailoutbox):
    user = _unverified_member(world, "gone@acme.test")
    user.is_active = False
    user.save(update_fields=["is_active"])
    _reset(world.host(world.acme), "gone@acme.test")
    assert mailoutbox == []
