"""Reads about partners, tenants and who may see them. Partner-level reads always take the partner."""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Callable

from django.db import connection
from django.db.models import Count, Expression, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django_tenants.utils import get_public_schema_name

from core.spreadsheet import csv_cell, csv_writer
from tenants.models import (
    AuditEvent,
    Domain,
    Invitation,
    Membership,
    Partner,
    Tenant,
    UsageRecord,
    User,
)


def membership_role_for_tenant(*, user: User, tenant: Tenant) -> str | None:
    """The user's role in a tenant: a direct tenant membership, else a membership in its partner."""
    if not user.is_authenticated or tenant.partner_id is None:
        return None
    roles = dict(
        Membership.objects.filter(Q(tenant=tenant) | Q(partner_id=tenant.partner_id), user=user)
        .values_list("role", "tenant_id")
        .order_by()
    )
    for role in (
        Membership.Role.PARTNER_ADMIN,
        Membership.Role.PARTNER_OPERATOR,
        Membership.Role.TENANT_ADMIN,
        Membership.Role.TENANT_VIEWER,
    ):
        if role in roles:
            return role
    return None


def membership_role_for_partner(*, user: User, partner: Partner) -> str | None:
    if not user.is_authenticated:
        return None
    return Membership.objects.filter(user=user, partner=partner).values_list("role", flat=True).first()


def domain_for_host(host: str) -> Domain | None:
    """The Domain row a host name (no port) routes to, or None for a host the portal does not serve."""
    host = (host or "").strip().lower().rstrip(".")
    if not host:
        return None
    return Domain.objects.select_related("tenant", "partner").filter(domain=host).first()


def membership_role_for_area(*, user: User, tenant: Tenant | None, partner: Partner | None) -> str | None:
    """The one membership rule, for pages (MembershipMiddleware) and auth mails alike:

    - a tenant portal: a membership in that tenant, or in the partner that owns it;
    - a partner console (no tenant, a partner): a membership in that partner;
    - the operator console (neither): platform staff (`is_staff`) → "operator".
    A signed-out or inactive user belongs nowhere."""
    if not user.is_authenticated or not user.is_active:
        return None
    if tenant is not None and not tenant.is_public:
        return membership_role_for_tenant(user=user, tenant=tenant)
    if partner is not None:
        return membership_role_for_partner(user=user, partner=partner)
    return "operator" if user.is_staff else None


def membership_role_for_domain(*, user: User, domain: Domain) -> str | None:
    """The user's role on the area a domain serves (a tenant domain, a partner console domain in
    the public schema, or the operator domain)."""
    return membership_role_for_area(user=user, tenant=domain.tenant, partner=domain.partner)


def membership_role_for_host(*, user: User, host: str) -> str | None:
    """The user's role on a host name, or None when the user does not belong there (or the host is
    unknown). Auth mails (reset, verification, invitation) are sent only when this is not None."""
    domain = domain_for_host(host)
    return None if domain is None else membership_role_for_domain(user=user, domain=domain)


def area_primary_host(*, tenant: Tenant | None = None, partner: Partner | None = None) -> str | None:
    """The main host of a tenant (its portal) or, without a tenant, of a partner's console.

    Partner consoles share the public tenant, where django-tenants keeps one primary domain in
    all, so a console's own domains are ordered primary first rather than filtered on it."""
    rows = Domain.objects.filter(tenant=tenant) if tenant is not None else Domain.objects.filter(partner=partner)
    return rows.order_by("-is_primary", "pk").values_list("domain", flat=True).first()


def user_home_host(*, user: User) -> str | None:
    """A host the user belongs to, for links in mails about them: the area of their oldest
    membership, else the operator console for platform staff, else None."""
    for membership in Membership.objects.filter(user=user).order_by("created_at", "pk"):
        host = area_primary_host(tenant=membership.tenant, partner=None if membership.tenant_id else membership.partner)
        if host is not None:
            return host
    if user.is_staff:
        operator = Domain.objects.filter(tenant__schema_name="public", partner__isnull=True)
        return operator.order_by("-is_primary", "pk").values_list("domain", flat=True).first()
    return None


def partner_pending_invitations(*, partner: Partner) -> QuerySet[Invitation]:
    """Invitations of the partner not yet answered nor expired, for its members page."""
    return (
        Invitation.objects.filter(partner=partner, status=Invitation.Status.PENDING, expires_at__gt=timezone.now())
        .select_related("user", "tenant")
        .order_by("user__email", "pk")
    )


def invitation_for_key(*, key: str) -> Invitation | None:
    return Invitation.objects.select_related("user", "partner", "tenant").filter(key=key).first() if key else None


def partner_tenants(*, partner: Partner) -> QuerySet[Tenant]:
    return (
        Tenant.objects.filter(partner=partner)
        .annotate(member_count=Count("memberships", distinct=True))
        .prefetch_related("domains")
        .order_by("name")
    )


# Extra per-tenant columns for the partner's tenant list, registered by apps above tenants (the
# triage index registers open exceptions and SLA breaches from triage/partner/apps.py).
TenantHealthAnnotations = Callable[[], dict[str, Expression]]
_tenant_health_annotations: list[TenantHealthAnnotations] = []


def tenant_health_register(annotations: TenantHealthAnnotations) -> None:
    """Add columns to `partner_tenants_health`: `annotations()` returns expressions on Tenant."""
    if annotations not in _tenant_health_annotations:
        _tenant_health_annotations.append(annotations)


def partner_tenants_health(*, partner: Partner, today: dt.date | None = None) -> QuerySet[Tenant]:
    """The partner's tenants with their health: what registered apps add (open exceptions, SLA
    breaches from the public triage index) and this month's orders and journals (from usage),
    without touching tenant schemas."""
    today = today or timezone.now().date()
    month_usage = UsageRecord.objects.filter(tenant=OuterRef("pk"), day__gte=today.replace(day=1), day__lte=today)

    def usage_of(metric: str) -> Coalesce:
        rows = month_usage.filter(metric=metric).order_by().values("tenant").annotate(n=Sum("count")).values("n")
        return Coalesce(Subquery(rows), 0)

    extra: dict[str, Expression] = {}
    for columns in _tenant_health_annotations:
        extra.update(columns())
    return partner_tenants(partner=partner).annotate(
        **extra,
        orders_this_month=usage_of(UsageRecord.Metric.ORDERS_INGESTED),
        journals_this_month=usage_of(UsageRecord.Metric.JOURNALS_POSTED),
        last_sync_day=Subquery(
            UsageRecord.objects.filter(
                tenant=OuterRef("pk"),
                metric__in=(UsageRecord.Metric.SYNC_RUNS, UsageRecord.Metric.WEBHOOK_EVENTS),
                count__gt=0,
            )
            .order_by("-day")
            .values("day")[:1]
        ),
    )


def partner_tenant_get(*, partner: Partner, slug: str) -> Tenant | None:
    return Tenant.objects.filter(partner=partner, slug=slug).first()


def partners_overview() -> QuerySet[Partner]:
    return Partner.objects.annotate(tenant_count=Count("tenants", distinct=True)).prefetch_related("domains")


def partner_members(*, partner: Partner) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(Q(partner=partner) | Q(tenant__partner=partner))
        .select_related("user", "tenant")
        .order_by("user__email")
    )


def tenant_members(*, tenant: Tenant) -> QuerySet[Membership]:
    return Membership.objects.filter(tenant=tenant).select_related("user").order_by("user__email")


def audit_events_for_tenant(*, tenant: Tenant, limit: int = 100) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(tenant=tenant).order_by("-created_at", "-id")[:limit])


def tenant_primary_domain(*, tenant: Tenant) -> str | None:
    return Domain.objects.filter(tenant=tenant, is_primary=True).values_list("domain", flat=True).first()


def tenant_current_suspended() -> bool:
    """Is the tenant whose schema the connection is on suspended? Read fresh, never cached: a
    worker must see a suspension the moment it commits (DESIGN.md §7)."""
    schema = connection.schema_name
    if schema == get_public_schema_name():
        return False
    return Tenant.objects.filter(schema_name=schema, status=Tenant.Status.SUSPENDED).exists()


def active_tenants() -> QuerySet[Tenant]:
    return Tenant.objects.exclude(schema_name="public").filter(status=Tenant.Status.ACTIVE)


def audit_events_for_partner_qs(*, partner: Partner) -> QuerySet[AuditEvent]:
    """The partner's audit events (its own and its tenants'), unsliced for filtering and paging."""
    return AuditEvent.objects.filter(Q(partner=partner) | Q(tenant__partner=partner)).select_related("tenant")


def partner_tenants_for_filter(*, partner: Partner) -> list[tuple[str, str]]:
    return list(Tenant.objects.filter(partner=partner).order_by("name").values_list("slug", "name"))


def audit_events_for_tenant_qs(*, tenant: Tenant) -> QuerySet[AuditEvent]:
    """One tenant's audit events, unsliced for filtering and export."""
    return AuditEvent.objects.filter(tenant=tenant).select_related("tenant")


def _narrow(queryset: QuerySet, **lookups: object) -> QuerySet:
    """Filter by each lookup that has a value; one given as None or "" (a blank filter field) is ignored."""
    given = {lookup: value for lookup, value in lookups.items() if value is not None and value != ""}
    return queryset.filter(**given) if given else queryset


def audit_events_filter(
    events: QuerySet[AuditEvent],
    *,
    action: str = "",
    actor: str = "",
    since: dt.date | None = None,
    until: dt.date | None = None,
    tenant_slug: str = "",
) -> QuerySet[AuditEvent]:
    """Narrow audit events: an action (exact, or every action under a prefix ending in "."), an
    actor (part of the email or key label), a date range (inclusive, UTC days), a tenant."""
    if action:
        events = events.filter(action__startswith=action) if action.endswith(".") else events.filter(action=action)
    events = _narrow(
        events,
        actor_label__icontains=actor,
        created_at__date__gte=since,
        created_at__date__lte=until,
        tenant__slug=tenant_slug,
    )
    return events.order_by("-created_at", "-id")


def audit_events_csv(*, events: QuerySet[AuditEvent]) -> str:
    """The events as CSV (changes as JSON; cells that a spreadsheet would run as a formula are
    prefixed with a quote)."""
    out = io.StringIO()
    writer = csv_writer(out)
    writer.writerow(
        ["created_at", "actor", "action", "tenant", "target_type", "target_id", "target", "changes", "request_id", "ip"]
    )
    for event in events.iterator(chunk_size=500):
        writer.writerow(
            [
                csv_cell(value)
                for value in (
                    event.created_at.isoformat(),
                    event.actor_label,
                    event.action,
                    event.tenant.slug if event.tenant_id else "",
                    event.target_type,
                    event.target_id,
                    event.target_label,
                    json.dumps(event.changes, sort_keys=True, default=str),
                    event.request_id,
                    event.ip_address or "",
                )
            ]
        )
    return out.getvalue()


def tenant_switcher_entries(*, partner: Partner) -> list[dict[str, str]]:
    """Name, slug and primary domain of each of the partner's tenants, for the shell's switcher."""
    rows = (
        Domain.objects.filter(tenant__partner=partner, is_primary=True)
        .order_by("tenant__name")
        .values_list("tenant__name", "tenant__slug", "domain")
    )
    return [{"name": name, "slug": slug, "domain": domain} for name, slug, domain in rows]
