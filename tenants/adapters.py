"""allauth and axes glue: invitation-only accounts, emails in the visited partner's brand."""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from django.http import HttpRequest

from portal.brand import brand_for_partner


class BrandedAccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        # Accounts are created by partners and operators (invitations), never by self sign-up.
        return False

    def send_mail(self, template_prefix: str, email: str, context: dict) -> None:
        request = self.request or context.get("request")
        partner = getattr(request, "partner", None) if request is not None else None
        brand = brand_for_partner(partner)
        context = {**context, "brand": brand}
        msg = self.render_mail(template_prefix, email, context)
        if brand.is_partner and brand.support_email:
            msg.from_email = f"{brand.sender_name} <{brand.support_email}>"
            msg.reply_to = [brand.support_email]
        msg.send()

    def format_email_subject(self, subject: str) -> str:
        partner = getattr(self.request, "partner", None) if self.request is not None else None
        return f"[{brand_for_partner(partner).name}] {subject}"


def axes_username(request: HttpRequest, credentials: dict | None) -> str | None:
    """allauth authenticates with `email`; axes counts failures per email (and IP)."""
    credentials = credentials or {}
    value = credentials.get("email") or credentials.get("username") or credentials.get("login")
    if value is None and request is not None and request.method == "POST":
        value = request.POST.get("login")
    return value.strip().lower() if isinstance(value, str) else value
