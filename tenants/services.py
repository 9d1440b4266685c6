"""Writes for partners, tenants, users and memberships. Every write records an AuditEvent."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from zoneinfo import available_timezones

from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import Model

from core.uploads import image_reencode, image_stored_name_is_generated
from tenants import lifecycle, provisioning, webhooks
from tenants.audit import audit_record
from tenants.domains import DomainRefused, partner_domain_validate, tenant_domain_validate
from tenants.due import tenant_due_bump
from tenants.models import Domain, DomainVerification, Membership, Partner, Tenant, User
from tenants.validators import validate_hex_colour

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")
RESERVED_SLUGS = {"public", "www", "api", "admin", "template", "static", "media", "tenant-template"}
CURRENCY_RE = re.compile(r"^[A-Z]{3}$")
LOGO_DIRECTORY = "brand/logos/"


def _slug_validate(slug: str, *, model: type[Model]) -> str:
    slug = (slug or "").strip().lower()
    if not SLUG_RE.match(slug) or slug in RESERVED_SLUGS:
        raise ValidationError(
            {"slug": "Use 1-40 lower-case letters, digits and hyphens, not starting or ending with a hyphen."},
            code="invalid_slug",
        )
    if model.objects.filter(slug=slug).exists():
        raise ValidationError({"slug": f"The slug {slug} is already taken."}, code="duplicate_slug")
    return slug


@transaction.atomic
def partner_create(
    *,
    slug: str,
    name: str,
    domain: str,
    actor: User | None = None,
    primary_colour: str = "#1F4E79",
    accent_colour: str = "#F2A900",
    support_email: str = "",
    sender_name: str = "",
) -> Partner:
    slug = _slug_validate(slug, model=Partner)
    host = partner_domain_validate(domain)
    if not (name or "").strip():
        raise ValidationError({"name": "A partner needs a name."})
    partner = Partner(
        slug=slug,
        name=name.strip(),
        primary_colour=primary_colour,
        accent_colour=accent_colour,
        support_email=support_email,
        sender_name=sender_name or name.strip(),
    )
    partner.full_clean()
    partner.save()
    # A migrated but unseeded database has no public tenant yet: the first partner creates it.
    public = public_tenant_ensure(domain=settings.PORTAL_PUBLIC_DOMAIN)
    Domain.objects.create(domain=host, tenant=public, partner=partner, is_primary=True)
    audit_record(
        actor=actor, action="partner.create", target=partner, partner=partner, changes={"slug": slug, "domain": host}
    )
    return partner


@transaction.atomic
def partner_plan_set(*, partner: Partner, plan: str, actor: User | None, actor_label: str | None = None) -> Partner:
    """The operator sets a partner's plan; white label removes the product name from its pages and mails."""
    if plan not in Partner.Plan.values:
        raise ValidationError({"plan": [f"{plan!r} is not a partner plan."]})
    partner = Partner.objects.select_for_update().get(pk=partner.pk)
    if partner.plan != plan:
        audit_record(
            actor=actor,
            actor_label=actor_label,
            action="partner.plan_set",
            target=partner,
            partner=partner,
            changes={"plan": [partner.plan, plan]},
        )
        partner.plan = plan
        partner.save(update_fields=["plan"])
    return partner


@transaction.atomic
def partner_brand_update(
    *,
    partner: Partner,
    actor: User | None,
    name: str | None = None,
    primary_colour: str | None = None,
    accent_colour: str | None = None,
    support_email: str | None = None,
    sender_name: str | None = None,
    logo: UploadedFile | None = None,
    actor_label: str | None = None,
) -> Partner:
    changes: dict[str, object] = {}
    for field, value in (
        ("name", name),
        ("primary_colour", primary_colour),
        ("accent_colour", accent_colour),
        ("support_email", support_email),
        ("sender_name", sender_name),
    ):
        if value is not None and getattr(partner, field) != value:
            changes[field] = [getattr(partner, field), value]
            setattr(partner, field, value)
    if primary_colour is not None:
        validate_hex_colour(primary_colour)
    if accent_colour is not None:
        validate_hex_colour(accent_colour)
    if logo is not None:
        try:
            clean = image_reencode(
                upload=logo, max_bytes=settings.BRAND_LOGO_MAX_BYTES, max_pixels=settings.BRAND_LOGO_MAX_PIXELS
            )
        except ValidationError as error:
            raise ValidationError({"logo": error.error_list}) from error
        # Only the re-encoded pixels are stored, under a generated name: never the upload's bytes or name.
        partner.logo.save(clean.name, clean.content, save=False)
        changes["logo"] = partner.logo.name
    partner.full_clean()
    partner.save()
    if changes:
        audit_record(
            actor=actor,
            action="partner.brand_update",
            target=partner,
            partner=partner,
            changes=changes,
            actor_label=actor_label,
        )
    return partner


@transaction.atomic
def partner_logo_reencode(*, partner: Partner) -> str:
    """Bring a logo stored before uploads were re-encoded up to today's rule: re-encode it under a
    generated name, or remove it when it is not an acceptable image (or its file is gone). The old
    file is deleted once the change is committed. Returns "kept", "reencoded", "removed" or "none"."""
    old_name = partner.logo.name
    if not old_name:
        return "none"
    if image_stored_name_is_generated(old_name.removeprefix(LOGO_DIRECTORY)):
        return "kept"
    storage = partner.logo.storage
    try:
        with storage.open(old_name, "rb") as handle:
            clean = image_reencode(
                upload=File(handle, name=old_name),
                max_bytes=settings.BRAND_LOGO_MAX_BYTES,
                max_pixels=settings.BRAND_LOGO_MAX_PIXELS,
            )
    except (ValidationError, FileNotFoundError):
        clean = None
    if clean is None:
        partner.logo = ""
        outcome = "removed"
    else:
        partner.logo.save(clean.name, clean.content, save=False)
        outcome = "reencoded"
    partner.save(update_fields=["logo"])
    audit_record(
        actor=None,
        action=f"partner.logo_{'reencode' if clean else 'remove'}",
        target=partner,
        partner=partner,
        changes={"logo": [old_name, partner.logo.name]},
    )
    transaction.on_commit(lambda: storage.delete(old_name))
    return outcome


def partner_primary_domain(*, partner: Partner) -> str:
    domain = partner.domains.filter(is_primary=True).first() or partner.domains.first()
    if domain is None:
        raise ValidationError(f"Partner {partner.slug} has no domain.")
    return domain.domain


def schema_name_for(slug: str) -> str:
    return "t_" + slug.replace("-", "_")


@dataclass(frozen=True)
class TenantCreated:
    tenant: Tenant
    domain: str
    seconds: float


def tenant_create(
    *,
    partner: Partner,
    slug: str,
    name: str,
    domain: str | None = None,
    timezone: str = "UTC",
    base_currency: str = "USD",
    plan: str = Tenant.Plan.STARTER,
    actor: User | None = None,
    actor_label: str | None = None,
) -> TenantCreated:
    """Create a tenant, its domain and its schema in one transaction: all or nothing."""
    started = time.perf_counter()
    slug = _slug_validate(slug, model=Tenant)
    host, verification = tenant_domain_validate(
        partner=partner, domain=domain or f"{slug}.{partner_primary_domain(partner=partner)}"
    )
    errors: dict[str, str] = {}
    if not (name or "").strip():
        errors["name"] = "A tenant needs a name."
    if timezone not in available_timezones():
        errors["timezone"] = f"{timezone!r} is not a known time zone."
    if not CURRENCY_RE.match(base_currency or ""):
        errors["base_currency"] = f"{base_currency!r} is not an ISO 4217 currency code."
    if plan not in Tenant.Plan.values:
        errors["plan"] = f"{plan!r} is not a plan."
    if errors:
        raise ValidationError(errors)
    snapshot = provisioning.template_ensure()  # outside the transaction: may migrate the template
    try:
        with transaction.atomic():
            tenant = Tenant.objects.create(
                schema_name=schema_name_for(slug),
                partner=partner,
                slug=slug,
                name=name.strip(),
                timezone=timezone,
                base_currency=base_currency,
                plan=plan,
            )
            if verification is not None and not (
                DomainVerification.objects.select_for_update()
                .filter(pk=verification.pk, status=DomainVerification.Status.VERIFIED)
                .exists()
            ):
                raise DomainRefused("unverified_custom_domain", f"{verification.domain} is no longer verified.")
            Domain.objects.create(domain=host, tenant=tenant, is_primary=True, verification=verification)
            provisioning.schema_provision(schema_name=tenant.schema_name, snapshot=snapshot)
            tenant_due_bump(schema_name=tenant.schema_name)  # its first visit records when it is next due
            audit_record(
                actor=actor,
                action="tenant.create",
                target=tenant,
                partner=partner,
                tenant=tenant,
                changes={"slug": slug, "domain": host, "plan": plan},
                actor_label=actor_label,
            )
            webhooks.webhook_event_emit(
                partner=partner,
                event="tenant.created",
                payload={"tenant": {"slug": slug, "name": tenant.name, "domain": host, "plan": plan}},
            )
    except IntegrityError as exc:  # a concurrent create took the slug or domain first
        raise ValidationError({"slug": f"The slug {slug} or domain {host} was taken meanwhile."}) from exc
    return TenantCreated(tenant=tenant, domain=host, seconds=time.perf_counter() - started)


@transaction.atomic
def tenant_status_set(*, tenant: Tenant, status: str, actor: User | None, actor_label: str | None = None) -> Tenant:
    if status not in Tenant.Status.values:
        raise ValidationError({"status": f"{status!r} is not a tenant status."})
    if tenant.status != status:
        previous = tenant.status
        tenant.status = status
        tenant.save(update_fields=["status"])
        audit_record(
            actor=actor,
            action=f"tenant.{'suspend' if status == 'suspended' else 'resume'}",
            target=tenant,
            partner=tenant.partner,
            tenant=tenant,
            changes={"status": [previous, status]},
            actor_label=actor_label,
        )
        if status == Tenant.Status.ACTIVE:
            tenant_due_bump(schema_name=tenant.schema_name)  # what its suspension held back is due
            lifecycle.tenant_resume_schedule(tenant=tenant)
    return tenant


@transaction.atomic
def tenant_delete(*, tenant: Tenant, confirm_slug: str, actor: User | None, actor_label: str | None = None) -> None:
    """Delete a tenant and drop its schema; the caller must repeat the slug to confirm."""
    if confirm_slug != tenant.slug:
        raise ValidationError({"confirm_slug": f"Type {tenant.slug} to confirm the deletion."})
    audit_record(
        actor=actor,
        action="tenant.delete",
        target=tenant,
        partner=tenant.partner,
        changes={"slug": tenant.slug, "schema": tenant.schema_name},
        actor_label=actor_label,
    )
    schema = tenant.schema_name
    tenant.domains.all().delete()
    Tenant.objects.filter(pk=tenant.pk).delete()
    provisioning.schema_drop(schema_name=schema)


@transaction.atomic
def user_create(
    *,
    email: str,
    password: str | None,
    name: str = "",
    verified: bool = False,
    actor: User | None = None,
    actor_label: str | None = None,
) -> User:
    email = (email or "").strip().lower()
    if User.objects.filter(email=email).exists():
        raise ValidationError({"email": f"A user with the email {email} exists already."})
    user = User.objects.create_user(email=email, password=password, name=name)
    EmailAddress.objects.create(user=user, email=email, primary=True, verified=verified)
    audit_record(actor=actor, action="user.create", target=user, actor_label=actor_label)
    return user


@transaction.atomic
def membership_grant(
    *,
    user: User,
    role: str,
    partner: Partner | None = None,
    tenant: Tenant | None = None,
    actor: User | None = None,
    actor_label: str | None = None,
) -> Membership:
    if (partner is None) == (tenant is None):
        raise ValidationError("A membership is in a partner or in a tenant, not both.")
    allowed = Membership.PARTNER_ROLES if partner is not None else Membership.TENANT_ROLES
    if role not in allowed:
        raise ValidationError({"role": f"{role!r} is not a role for this membership."})
    membership = Membership.objects.filter(user=user, partner=partner, tenant=tenant).first()
    if membership is not None and membership.role == role:
        return membership  # granting what exists changes nothing, and records nothing
    created = membership is None
    if created:
        membership = Membership.objects.create(user=user, partner=partner, tenant=tenant, role=role)
    else:
        membership.role = role
        membership.save(update_fields=["role"])
    audit_record(
        actor=actor,
        action="membership.grant" if created else "membership.update",
        target=membership,
        partner=partner or (tenant.partner if tenant else None),
        tenant=tenant,
        changes={"user": user.email, "role": role},
        actor_label=actor_label,
    )
    return membership


@transaction.atomic
def membership_revoke(*, membership: Membership, actor: User | None, actor_label: str | None = None) -> None:
    audit_record(
        actor=actor,
        action="membership.revoke",
        target=membership,
        partner=membership.partner or (membership.tenant.partner if membership.tenant else None),
        tenant=membership.tenant,
        changes={"user": membership.user.email, "role": membership.role},
        actor_label=actor_label,
    )
    membership.delete()


@transaction.atomic
def public_tenant_ensure(*, domain: str) -> Tenant:
    """The operator's own (public) schema row and its domain; idempotent."""
    public, _ = Tenant.objects.get_or_create(
        schema_name="public", defaults={"slug": "public", "name": "Tillbridge operator", "partner": None}
    )
    Domain.objects.get_or_create(domain=domain, defaults={"tenant": public, "is_primary": True})
    return public
