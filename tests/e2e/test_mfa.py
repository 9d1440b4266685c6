"""Two-factor sign-in with an authenticator app (TOTP), set up and used through the browser."""

import base64
import hashlib
import hmac
import struct
import time

import pytest
from allauth.mfa.models import Authenticator
from django.urls import reverse
from playwright.sync_api import Page

from tests.conftest import PASSWORD
from tests.e2e.conftest import Portal, committed, sign_in

pytestmark = pytest.mark.e2e


def totp_code(secret: str, *, counter: int) -> str:
    """RFC 6238 with allauth's defaults: HMAC-SHA1, 30-second steps, 6 digits."""
    key = base64.b32decode(secret, casefold=True)
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


def test_totp_rfc6238_vector():
    # RFC 6238 appendix B, SHA-1, T = 59 s: 94287082 (8 digits), so 287082 with 6.
    secret = base64.b32encode(b"12345678901234567890").decode()
    assert totp_code(secret, counter=59 // 30) == "287082"


def test_tenant_admin_activates_totp_and_signs_in_with_a_code(page: Page, portal: Portal, world, settings, screenshot):
    # allauth refuses a code twice within its step; accepting the neighbouring step lets the
    # second sign-in use the next step's code instead of waiting up to 30 s for a fresh one.
    settings.MFA_TOTP_TOLERANCE = 1
    host = world.host(world.acme)
    user = world.acme_admin
    try:
        sign_in(page, portal, host=host, email=user.email)
        page.wait_for_url(portal.url(host, "/"))

        # Changing the second factor asks for the password again, even right after signing in.
        page.goto(portal.url(host, reverse("mfa_activate_totp")))
        page.wait_for_url(portal.url(host, reverse("account_reauthenticate")) + "?next=*")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(portal.url(host, reverse("mfa_activate_totp")))
        secret = page.input_value("#authenticator_secret")
        screenshot(page, "mfa-setup")
        page.fill("input[name=code]", totp_code(secret, counter=int(time.time()) // 30))
        page.click("button[type=submit]")
        page.wait_for_url(portal.url(host, reverse("mfa_view_recovery_codes")))
        assert committed(lambda: sorted(Authenticator.objects.filter(user=user).values_list("type", flat=True))) == [
            Authenticator.Type.RECOVERY_CODES,
            Authenticator.Type.TOTP,
        ]

        page.goto(portal.url(host, "/"))
        page.click("button:has-text('Sign out')")
        sign_in(page, portal, host=host, email=user.email)
        page.wait_for_url(portal.url(host, reverse("mfa_authenticate")))
        page.fill("input[name=code]", totp_code(secret, counter=int(time.time()) // 30 + 1))
        page.click("button[type=submit]")
        page.wait_for_url(portal.url(host, "/"))

        assert page.inner_text("[data-testid=tenant-name]") == "Acme Outfitters"
    finally:
        # The world is committed: leave finance@acme.test without a second factor for other tests.
        committed(lambda: Authenticator.objects.filter(user=user).delete())


def test_tenant_admin_adds_a_security_key_and_signs_in_with_it(page: Page, portal: Portal, world, screenshot):
    """WebAuthn through Chromium's virtual authenticator (DevTools protocol): a platform key that
    verifies the user, as a laptop's fingerprint reader or a phone passkey would."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    authenticator = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
            }
        },
    )["authenticatorId"]
    host = world.host(world.acme)
    user = world.acme_admin
    try:
        sign_in(page, portal, host=host, email=user.email)
        page.wait_for_url(portal.url(host, "/"))
        page.goto(portal.url(host, reverse("mfa_add_webauthn")))
        page.wait_for_url(portal.url(host, reverse("account_reauthenticate")) + "?next=*")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(portal.url(host, reverse("mfa_add_webauthn")))
        page.fill("input[name=name]", "Work laptop")
        screenshot(page, "mfa-security-key")
        page.click("#mfa_webauthn_add")
        page.wait_for_url(lambda url: reverse("mfa_add_webauthn") not in url)
        keys = committed(lambda: list(Authenticator.objects.filter(user=user).values_list("type", flat=True)))
        assert sorted(keys) == [Authenticator.Type.RECOVERY_CODES, Authenticator.Type.WEBAUTHN]
        assert len(cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})["credentials"]) == 1

        page.goto(portal.url(host, "/"))
        page.click("button:has-text('Sign out')")
        sign_in(page, portal, host=host, email=user.email)
        page.wait_for_url(portal.url(host, reverse("mfa_authenticate")))
        page.click("#mfa_webauthn_authenticate")
        page.wait_for_url(portal.url(host, "/"))
        assert page.inner_text("[data-testid=tenant-name]") == "Acme Outfitters"
    finally:
        committed(lambda: Authenticator.objects.filter(user=user).delete())
