"""Invitations: a person is given a membership and an email to set their password.

The account is created with an unusable password and an unverified address; the email carries
allauth's password-set link. Email verification (mandatory) follows at the first sign-in."""

from __future__ import annotations

from allauth.account.forms import default_token_generator
from allauth.account.internal.flows.password_reset import request_password_reset
from allauth.core.context import request_context
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest

from tenants.models import Membership, Partner, Tenant, User
from tenants.services import membership_grant, user_create


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
        transaction.on_commit(lambda: _password_set_email_send(request=request, user=user))
    return membership


def _password_set_email_send(*, request: HttpRequest, user: User) -> None:
    # allauth's adapter reads the request (host, partner brand) from its context variable.
    with request_context(request):
        request_password_reset(request, user.email, [user], default_token_generator)
