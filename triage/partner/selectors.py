"""Reads of the partner-wide exception index and alert rules (public schema only: no tenant
schema is touched, so the partner inbox stays fast at 1,000 tenants)."""

from __future__ import annotations

from django.db.models import Count, Expression, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from tenants.models import Domain, Partner
from triage.partner.models import AlertRule, TriageIndex

TRIAGE_OPEN_STATUSES = ("open", "assigned", "snoozed")
PARTNER_SORTS = {
    "-money_at_risk": ("-money_at_risk", "sla_due", "pk"),
    "sla": ("sla_due", "pk"),
}


def partner_triage_index(
    *,
    partner: Partner,
    tenant_slug: str = "",
    kind: str = "",
    severity: str = "",
    status: str = "open_all",
    assignee: str = "",
    sla_breached: bool | None = None,
    sort: str = "-money_at_risk",
) -> QuerySet[TriageIndex]:
    """The partner's exceptions across all its tenants, the most money at risk first (`sort`
    "sla": most urgent SLA first). `status` is a status, "open_all" (open, assigned, snoozed) or
    "" (any); `assignee` an email or "none"."""
    queryset = TriageIndex.objects.filter(partner=partner)
    if tenant_slug:
        queryset = queryset.filter(tenant__slug=tenant_slug)
    if kind:
        queryset = queryset.filter(kind=kind)
    if severity:
        queryset = queryset.filter(severity=severity)
    if status == "open_all":
        queryset = queryset.filter(status__in=TRIAGE_OPEN_STATUSES)
    elif status:
        queryset = queryset.filter(status=status)
    if assignee == "none":
        queryset = queryset.filter(assignee_id__isnull=True)
    elif assignee:
        queryset = queryset.filter(assignee_email__iexact=assignee)
    if sla_breached is not None:
        breached = Q(sla_breached=True) | Q(status__in=TRIAGE_OPEN_STATUSES, sla_due__lte=timezone.now())
        queryset = queryset.filter(breached) if sla_breached else queryset.exclude(breached)
    primary_domain = Domain.objects.filter(tenant_id=OuterRef("tenant_id"), is_primary=True).values("domain")[:1]
    return (
        queryset.select_related("tenant")
        .annotate(tenant_domain=Subquery(primary_domain))
        .order_by(*PARTNER_SORTS.get(sort, PARTNER_SORTS["-money_at_risk"]))
    )


def alert_rules_for_partner(*, partner: Partner) -> QuerySet[AlertRule]:
    return AlertRule.objects.filter(partner=partner).select_related("tenant").order_by("-active", "name", "pk")


def tenant_health_annotations() -> dict[str, Expression]:
    """Open exceptions and SLA breaches per tenant, for `tenants.selectors.partner_tenants_health`."""
    open_rows = TriageIndex.objects.filter(tenant=OuterRef("pk"), status__in=TRIAGE_OPEN_STATUSES)

    def count_of(rows: QuerySet) -> Coalesce:
        return Coalesce(Subquery(rows.order_by().values("tenant").annotate(n=Count("pk")).values("n")), 0)

    return {"open_exceptions": count_of(open_rows), "sla_breaches": count_of(open_rows.filter(sla_breached=True))}
