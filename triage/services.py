"""The one way to raise a business exception, and everything people do with it (DESIGN.md §5).

Every write here also updates the public `TriageIndex` row in the same transaction, so the
partner-wide inbox is always exactly what the tenant schemas hold.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import structlog
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import connection, models, transaction
from django.utils import timezone

from core.periodic import earliest
from core.tasks import task_named
from tenants.due import tenant_due_bump
from tenants.models import Membership, Tenant, User
from tenants.webhooks import tenant_event_emit
from triage.causes import cause_fix_class, cause_severity
from triage.grouping import Failure, group_record, occurrence_record
from triage.models import OPEN_STATUSES, Activity, Comment, GroupSummary, Kind, Occurrence, Severity, Status
from triage.models import Exception as TriageException
from triage.money import group_money_refresh, money_at_risk_of
from triage.partner.models import TriageIndex
from triage.retry import RetryAction, retry_action_accepts_payload, retry_action_get
from triage.selectors import ASSIGNEE_REFUSED
from triage.sla import SEVERITY_RANK

log = structlog.get_logger(__name__)

SYSTEM = "system"
# Kinds that touch the books: a person closing one by hand must say why.
REASON_REQUIRED_KINDS = frozenset({Kind.POSTING, Kind.ERP_PUSH, Kind.RECONCILIATION, Kind.MAPPING})


def _current_tenant() -> Tenant:
    tenant = getattr(connection, "tenant", None)
    if tenant is None or not isinstance(tenant, Tenant) or tenant.partner_id is None:
        raise RuntimeError("Triage exceptions belong to a tenant: raise them inside a tenant schema.")
    return tenant


def _actor(actor: User | None, actor_label: str | None) -> tuple[int | None, str]:
    if actor is not None:
        return actor.pk, actor.email
    return None, actor_label or SYSTEM


def _activity(
    exception: TriageException,
    action: str,
    *,
    actor: User | None = None,
    actor_label: str | None = None,
    detail: dict | None = None,
) -> Activity:
    actor_id, label = _actor(actor, actor_label)
    return Activity.objects.create(
        exception=exception,
        actor_id=actor_id,
        actor_label=label,
        action=action,
        detail=detail or {},
        manual=actor is not None or (actor_label or "").startswith("api-key:"),
    )


def _index_sync(exception: TriageException, *, money: bool = False) -> None:
    """Mirror the group into the partner index; with `money` (its open objects changed) its money
    at risk is summed again first."""
    tenant = _current_tenant()
    now = timezone.now()
    if money and exception.is_open:
        group_money_refresh(exception)
    # Every GroupSummary field is copied as it is (a field added there reaches the index too).
    summary = {field.attname: getattr(exception, field.attname) for field in GroupSummary._meta.fields}
    TriageIndex.objects.update_or_create(
        tenant=tenant,
        exception_id=exception.pk,
        defaults={
            **summary,
            "partner_id": tenant.partner_id,
            "kind": exception.kind,
            "severity": exception.severity,
            "severity_rank": SEVERITY_RANK[exception.severity],
            "fix_class": exception.fix_class,
            "status": exception.status,
            "sla_breached": exception.sla_breached_at is not None
            or (exception.status in OPEN_STATUSES and exception.sla_due <= now),
        },
    )


def _object_ref(obj: models.Model | None) -> tuple[ContentType | None, str, str, str]:
    if obj is None:
        return None, "", "", ""
    content_type = ContentType.objects.get_for_model(obj)
    url = obj.get_absolute_url() if hasattr(obj, "get_absolute_url") else ""
    return content_type, str(obj.pk), str(obj)[:200], url


def _emit(event: str, exception: TriageException) -> None:
    """Signed outbound webhook to the partner's subscribers, after commit."""
    tenant_event_emit(
        event=event,
        payload={
            "exception": {
                "id": exception.pk,
                "kind": exception.kind,
                "cause": exception.cause,
                "severity": exception.severity,
                "status": exception.status,
                "title": exception.title,
                "count": exception.count,
                "sla_due": exception.sla_due.isoformat(),
            },
        },
    )


def exception_raised_emit(exception: TriageException) -> None:
    """Announce `exception.raised` for a group opened or reopened (a repeat of an open group only
    raises the count); after commit, so an exception rolled back with its work is never announced.
    Its one caller: exception_raise."""
    _emit("exception.raised", exception)


def _failure(
    *,
    kind: str,
    cause: str,
    title: str,
    detail: str,
    context: dict | None,
    severity: str | None,
    fix_class: str | None,
    tags: Iterable[str],
    retry: RetryAction | None,
    payload: Any,
) -> Failure:
    """The raise as a checked `Failure`: a known kind, and a severity (the cause's by default)."""
    severity = severity or cause_severity(cause)
    if kind not in Kind.values:
        raise ValueError(f"Unknown exception kind {kind!r}.")
    if severity not in Severity.values:
        raise ValueError(f"Unknown severity {severity!r}.")
    fix_class = fix_class or cause_fix_class(kind, cause)
    return Failure(kind, cause, title[:255], detail, context or {}, severity, fix_class, tuple(tags), retry, payload)


@transaction.atomic
def exception_raise(
    *,
    kind: str,
    cause: str,
    title: str,
    obj: models.Model | None = None,
    detail: str = "",
    context: dict | None = None,
    severity: str | None = None,
    fix_class: str | None = None,
    tags: Iterable[str] = (),
    retry: RetryAction | None = None,
    payload: Any = None,
    object_label: str | None = None,
    object_url: str | None = None,
) -> TriageException:
    """Record a failure: the one way any app raises into the inbox. Same kind + cause + object
    type → the same group: its count and last_seen rise, a resolved or ignored group reopens, and
    the object gets (or bumps) its occurrence. `severity` and `fix_class` default from the cause
    (triage/causes.py); `retry` is what the Retry button runs; `payload` the raw input, editable."""
    failure = _failure(
        kind=kind,
        cause=cause,
        title=title,
        detail=detail,
        context=context,
        severity=severity,
        fix_class=fix_class,
        tags=tags,
        retry=retry,
        payload=payload,
    )
    log.warning("triage.problem", kind=kind, cause=cause, title=title, detail=detail)
    tenant = _current_tenant()
    now = timezone.now()
    content_type, object_id, label, url = _object_ref(obj)
    object_type = f"{content_type.app_label}.{content_type.model}" if content_type else ""
    exception, happened = group_record(failure=failure, object_type=object_type, plan=tenant.plan, now=now)
    if happened:
        _activity(exception, happened, detail={"title": title})
        tenant_due_bump()  # a new or reopened group has an SLA to watch (triage.sla_mark)
    money = money_at_risk_of(obj)
    occurrence_record(
        exception=exception,
        failure=failure,
        content_type=content_type,
        object_id=object_id,
        object_label=object_label or label,
        object_url=object_url or url,
        now=now,
        money=money,
    )
    _index_sync(exception, money=bool(money[0] or exception.money_at_risk))
    if happened:
        exception_raised_emit(exception)
    _alerts_after_commit(exception, "new_group" if happened else "raised")
    log.info("triage.raised", kind=kind, cause=cause, exception_id=exception.pk, count=exception.count)
    return exception


def _alerts_after_commit(exception: TriageException, trigger: str) -> None:
    alerts_evaluate_task = task_named("triage.alerts_evaluate")
    exception_id = exception.pk
    transaction.on_commit(lambda: alerts_evaluate_task.delay(exception_id=exception_id, trigger=trigger))


def _close(
    exception: TriageException, *, status: str, reason: str, actor: User | None, actor_label: str | None
) -> None:
    now = timezone.now()
    exception.status = status
    exception.resolution_reason = reason
    exception.resolved_at = now
    exception.snoozed_until = None
    exception.save()
    exception.occurrences.filter(resolved_at__isnull=True).update(resolved_at=now, resolution_reason=reason)
    _activity(exception, status, actor=actor, actor_label=actor_label, detail={"reason": reason})
    _index_sync(exception)
    _emit("exception.resolved", exception)


def exception_resolve_for_object(*, obj: models.Model, reason: str) -> int:
    """The object behind open exceptions now succeeded: close its occurrences, and each group
    whose occurrences are all closed. Returns the number of groups resolved. Called after every
    successful step (every posting, every push), so the common case (nothing open) is one query."""
    occurrences = Occurrence.objects.filter(
        content_type=ContentType.objects.get_for_model(obj),
        object_id=str(obj.pk),
        resolved_at__isnull=True,
        exception__status__in=OPEN_STATUSES,
    )
    group_ids = sorted(set(occurrences.values_list("exception_id", flat=True)))
    if not group_ids:
        return 0
    with transaction.atomic():
        return _resolve_groups(occurrences=occurrences, group_ids=group_ids, obj=obj, reason=reason)


def exception_resolve_for_objects(*, objects: list[models.Model], reason: str) -> int:
    """`exception_resolve_for_object` for many objects (a batch of events or orders that succeeded):
    one query when nothing is open for any of them, the common case. Returns the groups resolved."""
    by_type: dict[int, dict[str, models.Model]] = {}
    for obj in objects:
        by_type.setdefault(ContentType.objects.get_for_model(obj).pk, {})[str(obj.pk)] = obj
    if not by_type:
        return 0
    wanted = models.Q()
    for content_type_id, named in by_type.items():
        wanted |= models.Q(content_type_id=content_type_id, object_id__in=list(named))
    open_for = set(
        Occurrence.objects.filter(wanted, resolved_at__isnull=True, exception__status__in=OPEN_STATUSES).values_list(
            "content_type_id", "object_id"
        )
    )
    resolved = 0
    for content_type_id, object_id in sorted(open_for):
        resolved += exception_resolve_for_object(obj=by_type[content_type_id][object_id], reason=reason)
    return resolved


def occurrences_resolve(*, occurrence_ids: list[int], reason: str) -> int:
    """Close these occurrences (a flow-health condition that cleared) and each group left with
    none open. Returns the number of groups resolved."""
    occurrences = Occurrence.objects.filter(pk__in=occurrence_ids, resolved_at__isnull=True)
    group_ids = sorted(set(occurrences.values_list("exception_id", flat=True)))
    if not group_ids:
        return 0
    with transaction.atomic():
        labels = ", ".join(sorted(set(occurrences.values_list("object_label", flat=True))))
        return _resolve_groups(occurrences=occurrences, group_ids=group_ids, obj=labels, reason=reason)


def _resolve_groups(*, occurrences: models.QuerySet, group_ids: list[int], obj: object, reason: str) -> int:
    # Lock the groups (in id order, as every writer does) so a raise running at the same time
    # neither loses its count bump to this save nor reopens a group this closes unseen.
    now = timezone.now()
    groups = list(TriageException.objects.select_for_update().filter(pk__in=group_ids).order_by("pk"))
    occurrences.update(resolved_at=now, resolution_reason=reason)
    resolved = 0
    for exception in groups:
        if not exception.is_open:
            continue
        if not exception.occurrences.filter(resolved_at__isnull=True).exists():
            _close(exception, status=Status.RESOLVED, reason=reason, actor=None, actor_label=SYSTEM)
            resolved += 1
        else:
            _activity(exception, "object_succeeded", detail={"object": str(obj)[:200], "reason": reason})
            _index_sync(exception, money=True)  # its money at risk drops by the object's
    return resolved


def _locked(exception: TriageException) -> TriageException:
    return TriageException.objects.select_for_update().get(pk=exception.pk)


def _member_of_current_tenant(user: User) -> bool:
    tenant = _current_tenant()
    return Membership.objects.filter(
        models.Q(tenant=tenant) | models.Q(partner_id=tenant.partner_id), user=user, user__is_active=True
    ).exists()


@transaction.atomic
def exception_assign(
    *, exception: TriageException, assignee: User | None, actor: User | None = None, actor_label: str | None = None
) -> TriageException:
    exception = _locked(exception)
    if assignee is not None and not _member_of_current_tenant(assignee):
        raise ValidationError({"assignee": ASSIGNEE_REFUSED})
    if not exception.is_open:
        raise ValidationError({"status": "Reopen or raise again before assigning: this exception is closed."})
    exception.assignee_id = assignee.pk if assignee else None
    exception.assignee_email = assignee.email if assignee else ""
    exception.status = Status.ASSIGNED if assignee else Status.OPEN
    exception.save()
    _activity(
        exception, "assigned", actor=actor, actor_label=actor_label, detail={"assignee": exception.assignee_email}
    )
    _index_sync(exception)
    if assignee is not None and (actor is None or assignee.pk != actor.pk):
        assignee_notify_task = task_named("triage.assignee_notify")
        exception_id = exception.pk
        transaction.on_commit(lambda: assignee_notify_task.delay(exception_id=exception_id))
    return exception


@transaction.atomic
def exception_comment(
    *, exception: TriageException, body: str, actor: User | None = None, actor_label: str | None = None
) -> Comment:
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": "A comment needs some text."})
    author_id, label = _actor(actor, actor_label)
    comment = Comment.objects.create(exception=exception, author_id=author_id, author_label=label, body=body[:10000])
    _activity(exception, "commented", actor=actor, actor_label=actor_label)
    return comment


@transaction.atomic
def exception_snooze(
    *, exception: TriageException, until: dt.datetime, actor: User | None = None, actor_label: str | None = None
) -> TriageException:
    exception = _locked(exception)
    if until <= timezone.now():
        raise ValidationError({"until": "Snooze until a time in the future."})
    if not exception.is_open:
        raise ValidationError({"status": "A closed exception cannot be snoozed."})
    exception.status = Status.SNOOZED
    exception.snoozed_until = until
    exception.save()
    _activity(exception, "snoozed", actor=actor, actor_label=actor_label, detail={"until": until.isoformat()})
    _index_sync(exception)
    return exception


@transaction.atomic
def exception_resolve(
    *, exception: TriageException, reason: str = "", actor: User | None = None, actor_label: str | None = None
) -> TriageException:
    reason = (reason or "").strip()
    if exception.kind in REASON_REQUIRED_KINDS and not reason:
        raise ValidationError({"reason": f"Say why this {exception.get_kind_display().lower()} exception is resolved."})
    reason = reason or "Resolved"
    return _close_open(exception, status=Status.RESOLVED, reason=reason, actor=actor, actor_label=actor_label)


@transaction.atomic
def exception_ignore(
    *, exception: TriageException, reason: str, actor: User | None = None, actor_label: str | None = None
) -> TriageException:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why this exception can be ignored."})
    return _close_open(exception, status=Status.IGNORED, reason=reason, actor=actor, actor_label=actor_label)


def _close_open(
    exception: TriageException, *, status: str, reason: str, actor: User | None, actor_label: str | None
) -> TriageException:
    exception = _locked(exception)
    if not exception.is_open:
        raise ValidationError({"status": "This exception is already closed."})
    _close(exception, status=status, reason=reason, actor=actor, actor_label=actor_label)
    return exception


@transaction.atomic
def occurrence_payload_edit(
    *, occurrence: Occurrence, payload: Any, actor: User | None = None, actor_label: str | None = None
) -> Occurrence:
    """Keep a person's corrected payload beside the original; the next retry uses it."""
    if occurrence.payload is None:
        raise ValidationError({"payload": "This failure did not come from a payload, so there is nothing to edit."})
    if not retry_action_accepts_payload(occurrence.exception.retry_name):
        raise ValidationError({"payload": "This exception's retry cannot take an edited payload."})
    occurrence.edited_payload = payload
    occurrence.save(update_fields=["edited_payload"])
    _activity(
        occurrence.exception,
        "payload_edited",
        actor=actor,
        actor_label=actor_label,
        detail={"occurrence": occurrence.pk},
    )
    return occurrence


@transaction.atomic
def exception_retry(
    *, exception: TriageException, actor: User | None = None, actor_label: str | None = None
) -> TriageException:
    """Queue the registered retry action for every open occurrence (a Celery task, after commit)."""
    exception = _locked(exception)
    if not exception.retry_name or retry_action_get(exception.retry_name) is None:
        raise ValidationError({"retry": "This exception has no retry action; fix the cause and resolve it."})
    if not exception.is_open:
        raise ValidationError({"status": "This exception is already closed."})
    _activity(exception, "retry_requested", actor=actor, actor_label=actor_label)
    exception_retry_task = task_named("triage.exception_retry")
    transaction.on_commit(lambda: exception_retry_task.delay(exception_id=exception.pk))
    return exception


def exception_retry_run(*, exception_id: int) -> dict[str, int]:
    """Run the retry action for each open occurrence: success closes the occurrence (and the group
    when none is left); a failure is recorded on the occurrence and the group stays open."""
    exception = TriageException.objects.filter(pk=exception_id).first()
    if exception is None or not exception.is_open:
        return {"succeeded": 0, "failed": 0}
    action = retry_action_get(exception.retry_name)
    if action is None:
        return {"succeeded": 0, "failed": 0}
    accepts_payload = retry_action_accepts_payload(exception.retry_name)
    succeeded = failed = 0
    for occurrence in exception.occurrences.filter(resolved_at__isnull=True).order_by("pk"):
        kwargs = dict(occurrence.retry_args)
        if accepts_payload and occurrence.edited_payload is not None:
            kwargs["payload"] = occurrence.edited_payload
        try:
            with transaction.atomic():
                action(**kwargs)
        except Exception as error:
            failed += 1
            occurrence.last_retry_at = timezone.now()
            occurrence.last_retry_error = f"{type(error).__name__}: {error}"[:2000]
            occurrence.save(update_fields=["last_retry_at", "last_retry_error"])
        else:
            succeeded += 1
            occurrence.last_retry_at = timezone.now()
            occurrence.last_retry_error = ""
            occurrence.resolved_at = occurrence.resolved_at or timezone.now()
            occurrence.resolution_reason = occurrence.resolution_reason or "Retry succeeded"
            occurrence.save(update_fields=["last_retry_at", "last_retry_error", "resolved_at", "resolution_reason"])
    with transaction.atomic():
        exception = _locked(exception)
        _activity(exception, "retried", detail={"succeeded": succeeded, "failed": failed})
        if exception.is_open and not exception.occurrences.filter(resolved_at__isnull=True).exists():
            _close(exception, status=Status.RESOLVED, reason="Retry succeeded", actor=None, actor_label=SYSTEM)
        else:
            if failed:
                last = exception.occurrences.exclude(last_retry_error="").order_by("-last_retry_at").first()
                exception.detail = last.last_retry_error if last else exception.detail
                exception.save(update_fields=["detail"])
            _index_sync(exception, money=True)
    return {"succeeded": succeeded, "failed": failed}


BULK_ACTIONS = ("assign", "retry", "resolve", "ignore")


def exceptions_bulk(
    *,
    action: str,
    exception_ids: Iterable[int],
    actor: User | None = None,
    actor_label: str | None = None,
    reason: str = "",
    assignee: User | None = None,
) -> dict[str, Any]:
    """Apply one action to many exceptions; each succeeds or fails on its own, with its error."""
    if action not in BULK_ACTIONS:
        raise ValidationError({"action": f"Unknown action {action!r}; use one of {', '.join(BULK_ACTIONS)}."})
    done: list[int] = []
    errors: dict[int, str] = {}
    for exception in TriageException.objects.filter(pk__in=list(exception_ids)).order_by("pk"):
        try:
            if action == "assign":
                exception_assign(exception=exception, assignee=assignee, actor=actor, actor_label=actor_label)
            elif action == "retry":
                exception_retry(exception=exception, actor=actor, actor_label=actor_label)
            elif action == "resolve":
                exception_resolve(exception=exception, reason=reason, actor=actor, actor_label=actor_label)
            else:
                exception_ignore(exception=exception, reason=reason, actor=actor, actor_label=actor_label)
        except ValidationError as error:
            errors[exception.pk] = "; ".join(error.messages)
        else:
            done.append(exception.pk)
    return {"done": done, "errors": errors}


@transaction.atomic
def exceptions_sla_next_at() -> dt.datetime | None:
    """When `exceptions_sla_mark` next has work: a snooze ending or an open SLA passing."""
    row = TriageException.objects.filter(status__in=OPEN_STATUSES).aggregate(
        woken=models.Min("snoozed_until", filter=models.Q(status=Status.SNOOZED)),
        breach=models.Min("sla_due", filter=models.Q(sla_breached_at__isnull=True)),
    )
    return earliest(row["woken"], row["breach"])


def exceptions_sla_mark(*, now: dt.datetime | None = None) -> int:
    """Stamp open exceptions whose SLA has passed (once each) and wake snoozed ones that are due."""
    now = now or timezone.now()
    woken = TriageException.objects.filter(status=Status.SNOOZED, snoozed_until__lte=now)
    for exception in woken:
        exception.status = Status.ASSIGNED if exception.assignee_id else Status.OPEN
        exception.snoozed_until = None
        exception.save(update_fields=["status", "snoozed_until"])
        _activity(exception, "snooze_ended")
        _index_sync(exception)
    breached = list(
        TriageException.objects.filter(status__in=OPEN_STATUSES, sla_due__lte=now, sla_breached_at__isnull=True)
    )
    for exception in breached:
        exception.sla_breached_at = now
        exception.save(update_fields=["sla_breached_at"])
        _activity(exception, "sla_breached", detail={"sla_due": exception.sla_due.isoformat()})
        _index_sync(exception)
        _alerts_after_commit(exception, "sla_breach")
    return len(breached)
