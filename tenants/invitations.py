"""Invitations: a person is given a membership and an email to set their password.

The account is created with an unusable password and an unverified address; the email carries
allauth's password-set link. Email verification (mandatory) follows at the first sign-in."""

from __future__ import annotations

from urllib.parse import quote

from allauth.account.adapter import get_adapter
from allauth.account.utils import user_pk_to_url_str
from allauth.core.context import request_context
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.http.request import split_domain_port
from django.urls import reverse

from tenants.adapters import BRAND_PARTNER, MAIL_HOST
from tenants.models import Membership, Partner, Tenant, User
from tenants.selectors import area_primary_host
from tenants.services import membership_grant, user_create
from tenants.tokens import HostBoundTokenGenerator


@transaction.atomic
def member_invite(
    *,
    partner: Partner,
    email: str,
    role: str,
    tenant: Tenant | None = None,
    name: str = "",
    actor: User | None,
    actor_label: str | None = None,
    request: HttpRequest,
) -> Membership:
    """Invite `email` into the partner (partner roles) or into one of its tenants (tenant roles)."""
    if tenant is not None and tenant.partner_id != partner.pk:
        raise ValidationError({"tenant": "No such tenant."})
    email = (email or "").strip().lower()
    user = User.objects.filter(email=email).first()
    created = user is None
    if created:
        user = user_create(email=email, password=None, name=name, verified=False, actor=actor, actor_label=actor_label)
    membership = membership_grant(
        user=user,
        role=role,
        partner=None if tenant is not None else partner,
        tenant=tenant,
        actor=actor,
        actor_label=actor_label,
    )
    if created:
        transaction.on_commit(
            lambda: _password_set_email_send(request=request, user=user, partner=partner, tenant=tenant)
        )
    return membership


def absolute_url_on_host(*, request: HttpRequest | None, host: str, path: str) -> str:
    """`path` on `host`, with the scheme (and any port) of the request being served."""
    scheme = request.scheme if request is not None else "https"
    port = split_domain_port(request.get_host())[1] if request is not None else ""
    return f"{scheme}://{host}{':' + port if port else ''}{path}"


def _password_set_email_send(*, request: HttpRequest, user: User, partner: Partner, tenant: Tenant | None) -> None:
    """The set-your-password mail for a new member: a reset link on the host of the tenant (or the
    partner console) they were given, with a token bound to that host, in the inviting partner's brand."""
    host = area_primary_host(tenant=tenant, partner=None if tenant is not None else partner)
    if host is None:
        raise ValidationError("The invited area has no domain to link to.")
    key = f"{user_pk_to_url_str(user)}-{HostBoundTokenGenerator(host=host).make_token(user)}"
    path = reverse("account_reset_password_from_key", kwargs={"uidb36": "UID", "key": "KEY"})
    url = absolute_url_on_host(request=request, host=host, path=path.replace("UID-KEY", quote(key)))
    # allauth's adapter reads the request from its context variable.
    with request_context(request):
        get_adapter(request).send_mail(
            "account/email/password_reset_key",
            user.email,
            {"user": user, "password_reset_url": url, "request": request, BRAND_PARTNER: partner, MAIL_HOST: host},
        )
