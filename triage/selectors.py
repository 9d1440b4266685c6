"""Reads of the tenant's exception inbox. Everything here runs in the current tenant schema."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from tenants.models import Membership, User
from triage.models import OPEN_STATUSES, Activity, Occurrence
from triage.models import Exception as TriageException
from triage.retry import retry_action_accepts_payload, retry_action_get

SORTS = {
    "-money_at_risk": ("-money_at_risk", "sla_due", "-last_seen", "pk"),
    "sla": ("sla_due", "-last_seen", "pk"),
    "-last_seen": ("-last_seen", "pk"),
    "-count": ("-count", "sla_due", "pk"),
}
# Statuses the inbox shows when no status is asked for: what still needs a person.
STATUS_OPEN = "open_all"


@dataclass(frozen=True)
class ExceptionFilters:
    kind: str = ""
    severity: str = ""
    status: str = STATUS_OPEN  # a Status value, STATUS_OPEN (open/assigned/snoozed) or "" (all)
    assignee: str = ""  # an email, "me" or "none"
    fix_class: str = ""
    sla_breached: bool | None = None
    search: str = ""
    sort: str = "-money_at_risk"


def exceptions_list(*, filters: ExceptionFilters, user: User | None = None) -> QuerySet[TriageException]:
    """The inbox: one row per group (fingerprint) with its count, filtered and sorted."""
    queryset = TriageException.objects.annotate(
        open_objects=Count("occurrences", filter=Q(occurrences__resolved_at__isnull=True))
    )
    if filters.kind:
        queryset = queryset.filter(kind=filters.kind)
    if filters.severity:
        queryset = queryset.filter(severity=filters.severity)
    if filters.status == STATUS_OPEN:
        queryset = queryset.filter(status__in=OPEN_STATUSES)
    elif filters.status:
        queryset = queryset.filter(status=filters.status)
    if filters.assignee == "none":
        queryset = queryset.filter(assignee_id__isnull=True)
    elif filters.assignee == "me":
        queryset = queryset.filter(assignee_id=user.pk if user is not None else -1)
    elif filters.assignee:
        queryset = queryset.filter(assignee_email__iexact=filters.assignee)
    if filters.fix_class:
        queryset = queryset.filter(fix_class=filters.fix_class)
    if filters.sla_breached is not None:
        breached = Q(sla_breached_at__isnull=False) | Q(status__in=OPEN_STATUSES, sla_due__lte=timezone.now())
        queryset = queryset.filter(breached) if filters.sla_breached else queryset.exclude(breached)
    if filters.search:
        term = filters.search
        # A subquery, not a join: a join would multiply the occurrence counts annotated above.
        labelled = Occurrence.objects.filter(object_label__icontains=term).values("exception_id")
        queryset = queryset.filter(
            Q(title__icontains=term) | Q(detail__icontains=term) | Q(cause__icontains=term) | Q(pk__in=labelled)
        )
    return queryset.order_by(*SORTS.get(filters.sort, SORTS["-money_at_risk"]))


def exceptions_existing_ids(*, exception_ids: list[int]) -> set[int]:
    return set(TriageException.objects.filter(pk__in=exception_ids).values_list("pk", flat=True))


def exception_get(*, exception_id: int) -> TriageException | None:
    return TriageException.objects.filter(pk=exception_id).first()


@dataclass
class ExceptionDetail:
    exception: TriageException
    occurrences: list[Occurrence]
    open_objects: int
    comments: list
    activities: list[Activity]
    can_retry: bool
    accepts_payload: bool


def exception_detail(*, exception_id: int, occurrence_limit: int = 100) -> ExceptionDetail | None:
    exception = exception_get(exception_id=exception_id)
    if exception is None:
        return None
    occurrences = list(exception.occurrences.select_related("content_type").order_by("resolved_at", "-last_seen"))
    return ExceptionDetail(
        exception=exception,
        occurrences=occurrences[:occurrence_limit],
        open_objects=sum(1 for occurrence in occurrences if occurrence.resolved_at is None),
        comments=list(exception.comments.all()),
        activities=list(exception.activities.all()),
        can_retry=exception.is_open
        and bool(exception.retry_name)
        and retry_action_get(exception.retry_name) is not None,
        accepts_payload=retry_action_accepts_payload(exception.retry_name) if exception.retry_name else False,
    )


def exception_retry_result(*, exception: TriageException, after_activity_id: int) -> Activity | None:
    """The outcome of a retry requested after `after_activity_id`, once the worker has run it."""
    return exception.activities.filter(pk__gt=after_activity_id, action__in=("retried",)).order_by("pk").first()


def exception_last_activity_id(*, exception: TriageException) -> int:
    return exception.activities.order_by("-pk").values_list("pk", flat=True).first() or 0


# One answer for an address nobody uses and for an account without access here, so assigning
# cannot be used to find out which addresses have accounts on the platform.
ASSIGNEE_REFUSED = "No one with that email has access to this tenant."


def _assignable_user_ids():
    tenant = connection.tenant
    return Membership.objects.filter(Q(tenant=tenant) | Q(partner_id=tenant.partner_id), user__is_active=True).values(
        "user_id"
    )


def assignable_users() -> list[User]:
    """People who may be assigned in the current tenant: its members and its partner's staff."""
    return list(User.objects.filter(pk__in=_assignable_user_ids()).order_by("email"))


def assignable_user_get(*, email: str) -> User | None:
    """The person with this email who may be assigned in the current tenant, or None: an unknown
    address and an account without access here are not told apart (ASSIGNEE_REFUSED)."""
    return User.objects.filter(email__iexact=email.strip(), pk__in=_assignable_user_ids()).first()


def exception_counts() -> dict[str, int]:
    """Headline numbers for the inbox: open groups, breached, unassigned, critical."""
    now = timezone.now()
    open_ = TriageException.objects.filter(status__in=OPEN_STATUSES)
    return open_.aggregate(
        open=Count("pk"),
        breached=Count("pk", filter=Q(sla_breached_at__isnull=False) | Q(sla_due__lte=now)),
        unassigned=Count("pk", filter=Q(assignee_id__isnull=True)),
        critical=Count("pk", filter=Q(severity="critical")),
    )


# ---- reads for the portal's dashboard and order trace (portal/dashboard.py, portal/trace.py) ----
# Objects are named by model label ("commerce.order") so callers need not import the models.


def _content_types(labels: Iterable[str]) -> dict[str, ContentType]:
    models = {label: apps.get_model(label) for label in labels}
    found = ContentType.objects.get_for_models(*models.values())
    return {label: found[model] for label, model in models.items()}


def occurrences_for_objects(*, objects: dict[str, Iterable[object]]) -> list[Occurrence]:
    """Occurrences on the given objects (model label → their pks), oldest first, with their group."""
    types = _content_types(objects)
    matching = Q(pk__in=[])
    for label, pks in objects.items():
        matching |= Q(content_type=types[label], object_id__in=[str(pk) for pk in pks])
    return list(Occurrence.objects.filter(matching).select_related("exception").order_by("first_seen"))


def occurrence_objects_since(*, since: dt.datetime, labels: Iterable[str]) -> list[tuple[str, str]]:
    """(model label, object id) of every occurrence on an object of those models first seen since
    `since`: one entry per occurrence, so an object failing in two groups appears twice."""
    types = _content_types(labels)
    label_of = {content_type.pk: label for label, content_type in types.items()}
    rows = Occurrence.objects.filter(content_type__in=types.values(), first_seen__gte=since).values_list(
        "content_type_id", "object_id"
    )
    return [(label_of[content_type_id], object_id) for content_type_id, object_id in rows.order_by("pk")]


# What a person does to get work through (the manual-interventions KPI): ask a retry, correct a
# payload, resolve or ignore a failure. Comments, assignments and snoozes are coordination, not fixes.
INTERVENTIONS = ("retry_requested", "payload_edited", "resolved", "ignored")


def interventions_count(*, since: dt.datetime, until: dt.datetime | None = None) -> int:
    """Interventions by a person (a signed-in user or an API key acting for one) since `since`."""
    rows = Activity.objects.filter(manual=True, action__in=INTERVENTIONS, created_at__gte=since)
    if until is not None:
        rows = rows.filter(created_at__lt=until)
    return rows.count()


def sla_breach_counts(*, since: dt.datetime, now: dt.datetime) -> dict[str, int]:
    """Breaches stamped since `since`, and exceptions open past their SLA at `now`."""
    return {
        "in_window": TriageException.objects.filter(sla_breached_at__gte=since).count(),
        "open_now": TriageException.objects.filter(status__in=OPEN_STATUSES, sla_due__lte=now).count(),
    }


def objects_with_open_exceptions(*, model: type, object_ids: Iterable[object]) -> set[str]:
    """Of `object_ids` (of `model`), those with an open occurrence, in one query: a batch of
    successes calls `exception_resolve_for_object` only for these (the common case is none)."""
    ids = [str(pk) for pk in object_ids]
    if not ids:
        return set()
    return set(
        Occurrence.objects.filter(
            content_type=ContentType.objects.get_for_model(model),
            object_id__in=ids,
            resolved_at__isnull=True,
            exception__status__in=OPEN_STATUSES,
        ).values_list("object_id", flat=True)
    )
