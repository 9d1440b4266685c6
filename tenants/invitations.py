"""Adding people to a partner or a tenant.

- A new person: the account is created with an unusable password and an unverified address, the
  membership is granted, and a set-your-password mail (allauth's reset link, bound to the host of
  the area they were given) goes out. Email verification follows at the first sign-in.
- A person the partner already has (a membership in the partner or one of its tenants): the
  membership is granted at once.
- Anyone else with an account on the platform: an `Invitation` they accept or decline, signed in,
  at `/accounts/invitations/<key>/` on one of their own hosts. No membership until they accept.

The caller is answered the same way in all three cases, so adding members cannot be used to find
out which addresses have accounts (DESIGN.md §7)."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from urllib.parse import quote

from allauth.account.adapter import get_adapter
from allauth.account.utils import user_pk_to_url_str
from allauth.core.context import request_context
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest
from django.http.request import split_domain_port
from django.urls import reverse
from django.utils import timezone

from tenants.adapters import BRAND_PARTNER, MAIL_HOST
from tenants.audit import audit_record
from tenants.models import Invitation, Membership, Partner, Tenant, User
from tenants.selectors import area_primary_host, user_home_host
from tenants.services import membership_grant, user_create
from tenants.tokens import HostBoundTokenGenerator

INVITATION_TTL = dt.timedelta(days=7)


@dataclass(frozen=True)
class MemberAdded:
    """What happened, for the caller's own records only: never shown to the one adding (the
    answer must not reveal whether the address had an account)."""

    email: str
    role: str
    tenant: Tenant | None
    membership: Membership | None
    invitation: Invitation | None


def _known_to_partner(*, user: User, partner: Partner) -> bool:
    return Membership.objects.filter(Q(partner=partner) | Q(tenant__partner=partner), user=user).exists()


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
) -> MemberAdded:
    """Add `email` to the partner (partner roles) or to one of its tenants (tenant roles)."""
    if tenant is not None and tenant.partner_id != partner.pk:
        raise ValidationError({"tenant": "No such tenant."})
    allowed = Membership.TENANT_ROLES if tenant is not None else Membership.PARTNER_ROLES
    if role not in allowed:
        raise ValidationError({"role": f"{role!r} is not a role for this membership."})
    email = (email or "").strip().lower()
    user = User.objects.filter(email=email).first()
    if user is not None and not _known_to_partner(user=user, partner=partner):
        invitation = invitation_create(
            user=user, partner=partner, tenant=tenant, role=role, actor=actor, actor_label=actor_label, request=request
        )
        return MemberAdded(email=email, role=role, tenant=tenant, membership=None, invitation=invitation)
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
    return MemberAdded(email=email, role=role, tenant=tenant, membership=membership, invitation=None)


@transaction.atomic
def invitation_create(
    *,
    user: User,
    partner: Partner,
    tenant: Tenant | None,
    role: str,
    actor: User | None,
    actor_label: str | None = None,
    request: HttpRequest,
) -> Invitation:
    """Invite an existing user; a pending invitation to the same place is renewed (new key, role
    and expiry) rather than duplicated. The mail goes out after commit."""
    now = timezone.now()
    invitation = (
        Invitation.objects.select_for_update()
        .filter(user=user, partner=partner, tenant=tenant, status=Invitation.Status.PENDING)
        .first()
    ) or Invitation(user=user, partner=partner, tenant=tenant)
    invitation.key = secrets.token_urlsafe(32)
    invitation.role = role
    invitation.inviter = actor
    invitation.inviter_label = actor_label or (actor.email if actor is not None else "system")
    invitation.created_at = now
    invitation.expires_at = now + INVITATION_TTL
    invitation.save()
    audit_record(
        actor=actor,
        action="invitation.create",
        target=invitation,
        partner=partner,
        tenant=tenant,
        changes={"user": user.email, "role": role},
        actor_label=actor_label,
    )
    transaction.on_commit(lambda: _invitation_email_send(request=request, invitation=invitation))
    return invitation


def _locked(invitation: Invitation) -> Invitation:
    return Invitation.objects.select_for_update(of=("self",)).select_related("partner", "tenant").get(pk=invitation.pk)


def _invitation_open_for(*, invitation: Invitation, user: User) -> Invitation:
    if invitation.user_id != user.pk:
        raise ValidationError("This invitation is not for you.")
    if not invitation.is_open():
        raise ValidationError("This invitation has expired or was already answered.")
    return invitation


@transaction.atomic
def invitation_accept(*, invitation: Invitation, user: User) -> Membership:
    """The invited user says yes: the membership is granted now, as the inviter asked."""
    invitation = _invitation_open_for(invitation=_locked(invitation), user=user)
    membership = membership_grant(
        user=user,
        role=invitation.role,
        partner=None if invitation.tenant_id else invitation.partner,
        tenant=invitation.tenant,
        actor=user,
    )
    invitation.status = Invitation.Status.ACCEPTED
    invitation.responded_at = timezone.now()
    invitation.save(update_fields=["status", "responded_at"])
    audit_record(
        actor=user,
        action="invitation.accept",
        target=invitation,
        partner=invitation.partner,
        tenant=invitation.tenant,
        changes={"role": invitation.role},
    )
    return membership


@transaction.atomic
def invitation_decline(*, invitation: Invitation, user: User) -> Invitation:
    invitation = _invitation_open_for(invitation=_locked(invitation), user=user)
    invitation.status = Invitation.Status.DECLINED
    invitation.responded_at = timezone.now()
    invitation.save(update_fields=["status", "responded_at"])
    audit_record(
        actor=user, action="invitation.decline", target=invitation, partner=invitation.partner, tenant=invitation.tenant
    )
    return invitation


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


def _invitation_email_send(*, request: HttpRequest, invitation: Invitation) -> None:
    """The invitation mail: to the user, linking to one of the user's own hosts, in the brand of
    the inviting partner."""
    user = invitation.user
    area_host = area_primary_host(tenant=invitation.tenant, partner=invitation.partner)
    host = user_home_host(user=user) or area_host
    if host is None:
        raise ValidationError("The invited area has no domain to link to.")
    path = reverse("invitation_respond", kwargs={"key": invitation.key})
    with request_context(request):
        get_adapter(request).send_mail(
            "tenants/email/invitation",
            user.email,
            {
                "user": user,
                "invitation": invitation,
                "area_name": invitation.tenant.name if invitation.tenant else invitation.partner.name,
                "invitation_url": absolute_url_on_host(request=request, host=host, path=path),
                "request": request,
                BRAND_PARTNER: invitation.partner,
                MAIL_HOST: host,
            },
        )
