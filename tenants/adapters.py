"""allauth and axes glue: invitation-only accounts, auth mails only for the host's own users.

Every auth mail (password reset, email verification, invitation) goes out only for a user who
belongs to the host it is asked on (`membership_role_for_host`), with its link on that host, in the
brand of the partner serving that host. For anyone else the answer is the one an unknown address
gets, and no mail is sent (DESIGN.md §7)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.models import EmailAddress
from allauth.core import context as allauth_context
from allauth.mfa.adapter import DefaultMFAAdapter
from django.http import HttpRequest

from tenants.brand import Brand, brand_for_partner, brand_sender
from tenants.selectors import membership_role_for_host
from tenants.tokens import request_hostname

# The context key by which a caller names the partner whose brand a mail carries, when the mail is
# not for the host being served (an invitation sent from a partner console).
BRAND_PARTNER = "brand_partner"
# ... and the host its links point at, when that is not the host being served.
MAIL_HOST = "mail_host"


def user_belongs_to_request_host(user: Any, request: HttpRequest | None) -> bool:
    host = request_hostname(request)
    return bool(host) and user is not None and membership_role_for_host(user=user, host=host) is not None


class BrandedAccountAdapter(DefaultAccountAdapter):
    _brand: Brand | None = None

    def is_open_for_signup(self, request: HttpRequest) -> bool:
        # Accounts are created by partners and operators (invitations), never by self sign-up.
        return False

    def send_password_reset_mail(self, user: Any, email: str, context: dict) -> None:
        request = context.get("request") or self.request
        if not user_belongs_to_request_host(user, request):
            return  # the neutral "we sent you a mail if you have an account" page, and nothing sent
        super().send_password_reset_mail(user, email, context)

    def send_confirmation_mail(self, request: HttpRequest, emailconfirmation: Any, signup: bool) -> None:
        if not user_belongs_to_request_host(emailconfirmation.email_address.user, request or self.request):
            return
        super().send_confirmation_mail(request, emailconfirmation, signup)

    def confirm_email(self, request: HttpRequest, email_address: EmailAddress) -> bool:
        if not user_belongs_to_request_host(email_address.user, request):
            return False  # allauth shows "this confirmation link is invalid"
        return super().confirm_email(request, email_address)

    def send_mail(self, template_prefix: str, email: str, context: dict) -> None:
        request = self.request or context.get("request")
        if BRAND_PARTNER in context:
            partner = context[BRAND_PARTNER]
        else:
            partner = getattr(request, "partner", None) if request is not None else None
        brand = brand_for_partner(partner)
        site = SimpleNamespace(name=brand.name, domain=context.get(MAIL_HOST) or request_hostname(request))
        context = {"email": email, "current_site": site, **context, "brand": brand}
        self._brand = brand
        try:
            msg = self.render_mail(template_prefix, email, context)
        finally:
            self._brand = None
        msg.from_email = brand_sender(brand)
        if brand.is_partner and brand.support_email:
            msg.reply_to = [brand.support_email]
        msg.send()

    def format_email_subject(self, subject: str) -> str:
        brand = self._brand
        if brand is None:
            partner = getattr(self.request, "partner", None) if self.request is not None else None
            brand = brand_for_partner(partner)
        return f"[{brand.name}] {subject}"


def axes_username(request: HttpRequest, credentials: dict | None) -> str | None:
    """allauth authenticates with `email`; axes counts failures per email (and IP)."""
    credentials = credentials or {}
    value = credentials.get("email") or credentials.get("username") or credentials.get("login")
    if value is None and request is not None and request.method == "POST":
        value = request.POST.get("login")
    return value.strip().lower() if isinstance(value, str) else value


class BrandedMFAAdapter(DefaultMFAAdapter):
    """Authenticator apps and passkey prompts name the brand of the host being visited: the partner's
    name on its hosts (the product's name appears nowhere on a white-label partner's pages)."""

    def _brand(self) -> Brand:
        request = getattr(allauth_context, "request", None)
        return brand_for_partner(getattr(request, "partner", None) if request is not None else None)

    def get_totp_issuer(self) -> str:
        return self._brand().name

    def _get_site_name(self) -> str:
        return self._brand().name
