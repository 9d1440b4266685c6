"""Sign-in: branded per partner domain, MFA (TOTP and recovery codes), lockout after failures."""

import time

from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import SECRET_SESSION_KEY, format_hotp_value, hotp_value
from django.conf import settings
from django.core import mail
from django.core.cache import cache
from django.test import Client

from tests.conftest import PASSWORD


def _signed_in(host: str, email: str) -> Client:
    """Signed in and freshly re-authenticated, as allauth asks before MFA changes."""
    client = Client(HTTP_HOST=host)
    assert client.post("/accounts/login/", {"login": email, "password": PASSWORD}).status_code == 302
    assert client.post("/accounts/reauthenticate/", {"password": PASSWORD}).status_code == 302
    return client


def _totp(secret: str) -> str:
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))


def test_login_page_carries_the_brand_of_the_domain(world):
    northwind = Client(HTTP_HOST="northwind.localhost").get("/accounts/login/").content.decode()
    southpaw = Client(HTTP_HOST="southpaw.localhost").get("/accounts/login/").content.decode()
    product = Client(HTTP_HOST="localhost").get("/accounts/login/").content.decode()
    assert "Northwind Commerce Partners" in northwind and "--brand-primary: #0E5E6F" in northwind
    assert "Southpaw Digital" in southpaw and "--brand-primary: #7A1F5C" in southpaw
    assert "Northwind" not in southpaw
    assert ">Tillbridge<" in product


def test_tenant_login_page_uses_the_owning_partners_brand(world):
    page = Client(HTTP_HOST=world.host(world.cedar)).get("/accounts/login/").content.decode()
    assert "Southpaw Digital" in page


def test_sign_in_with_email_and_password(world):
    client = Client(HTTP_HOST=world.host(world.acme))
    response = client.post("/accounts/login/", {"login": "finance@acme.test", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get("/").status_code == 200


def test_open_sign_up_is_closed(world):
    response = Client(HTTP_HOST="northwind.localhost").get("/accounts/signup/")
    assert b"Sign Up Closed" in response.content or b"closed" in response.content.lower()


def test_password_reset_email_is_branded(world):
    Client(HTTP_HOST="northwind.localhost").post("/accounts/password/reset/", {"email": "admin@northwind.test"})
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.subject.startswith("[Northwind Commerce Partners]")
    assert message.from_email == "Northwind Commerce Partners <help@northwind.test>"


def test_mfa_totp_enrolment_then_sign_in_asks_for_the_code(world):
    client = _signed_in(world.host(world.acme), "finance@acme.test")
    page = client.get("/accounts/2fa/totp/activate/")
    assert page.status_code == 200
    secret = client.session[SECRET_SESSION_KEY]
    response = client.post("/accounts/2fa/totp/activate/", {"code": _totp(secret)})
    assert response.status_code == 302
    assert Authenticator.objects.filter(user=world.acme_admin, type=Authenticator.Type.TOTP).count() == 1
    client.post("/accounts/logout/")
    cache.clear()  # allauth refuses a code used once; this test signs in within the same 30 s window

    fresh = Client(HTTP_HOST=world.host(world.acme))
    response = fresh.post("/accounts/login/", {"login": "finance@acme.test", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/accounts/2fa/authenticate/"
    assert fresh.get("/").status_code == 302  # not signed in until the second factor
    wrong = fresh.post("/accounts/2fa/authenticate/", {"code": "000000" if _totp(secret) != "000000" else "111111"})
    assert wrong.status_code == 200
    response = fresh.post("/accounts/2fa/authenticate/", {"code": _totp(secret)})
    assert response.status_code == 302
    assert fresh.get("/").status_code == 200


def test_mfa_recovery_code_signs_in(world):
    client = _signed_in(world.host(world.acme), "finance@acme.test")
    client.get("/accounts/2fa/totp/activate/")
    client.post("/accounts/2fa/totp/activate/", {"code": _totp(client.session[SECRET_SESSION_KEY])})
    codes_page = client.get("/accounts/2fa/recovery-codes/")
    codes = codes_page.context["unused_codes"]
    assert len(codes) == 10
    client.post("/accounts/logout/")
    fresh = Client(HTTP_HOST=world.host(world.acme))
    fresh.post("/accounts/login/", {"login": "finance@acme.test", "password": PASSWORD})
    assert fresh.post("/accounts/2fa/authenticate/", {"code": codes[0]}).status_code == 302
    assert fresh.get("/").status_code == 200


def test_lockout_after_repeated_failures(world):
    client = Client(HTTP_HOST=world.host(world.acme), REMOTE_ADDR="10.9.8.7")
    statuses = [
        client.post("/accounts/login/", {"login": "finance@acme.test", "password": "wrong-password-1"}).status_code
        for _ in range(settings.AXES_FAILURE_LIMIT)
    ]
    assert statuses == [200] * (settings.AXES_FAILURE_LIMIT - 1) + [429]
    locked = client.post("/accounts/login/", {"login": "finance@acme.test", "password": PASSWORD})
    assert locked.status_code == 429
    assert b"Too many failed sign-in attempts" in locked.content
    # another account from the same address is not locked
    other = Client(HTTP_HOST=world.host(world.bluebird), REMOTE_ADDR="10.9.8.7")
    assert other.post("/accounts/login/", {"login": "books@bluebird.test", "password": PASSWORD}).status_code == 302


def test_login_page_offers_no_self_sign_up(world):
    page = Client(HTTP_HOST="northwind.localhost").get("/accounts/login/").content.decode()
    assert "sign up" not in page.lower()
    assert "Sign in to Northwind Commerce Partners." in page
