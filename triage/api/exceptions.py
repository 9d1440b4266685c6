"""Exceptions API, a tenant's inbox: list, detail and actions (`exceptions/…` on a tenant domain,
or `tenants/<slug>/exceptions/…` on the partner console)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, extend_schema_field
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.errors import StrictSerializer, found
from core.api.serializers import ModelOutput
from core.api.views import TenantApiView, read_operation, write_operation
from core.models import MONEY
from triage import selectors, services
from triage.models import OPEN_STATUSES, Activity, Comment, FixClass, Kind, Occurrence, Severity, Status
from triage.models import Exception as TriageException

MAX_ID = 2**63 - 1
STATUS_FILTER_CHOICES = [("open_all", "open, assigned or snoozed"), ("any", "any status"), *Status.choices]
PAGE_SIZE_DOC = (
    "Cursor pagination, soonest SLA first (`ordering=-money_at_risk`: the most money at risk first); "
    "`page_size` up to 200."
)
ORDERINGS = {"sla_due": ("sla_due", "id"), "-money_at_risk": ("-money_at_risk", "sla_due", "id")}
ORDERING_CHOICES = [("sla_due", "soonest SLA first"), ("-money_at_risk", "most money at risk first")]
MONEY_AT_RISK_HELP = (
    "What the documents behind the group's open objects are worth (an unposted order's total, a refund's "
    "amount, a payout's net, a failed journal's total); 0 when it holds no document back."
)
# Who holds an exception group, how often it happened and its SLA clock, as both lists show it.
GROUP_STATE_FIELDS = ("assignee", "count", "first_seen", "last_seen", "sla_due", "sla_breached")


def _sla_breached(exception: TriageException) -> bool:
    return exception.sla_breached_at is not None or (
        exception.status in OPEN_STATUSES and exception.sla_due <= timezone.now()
    )


# What a tenant's exception and the partner's index row of it show alike; each subclass names its model.
class ExceptionGroupOutput(ModelOutput):
    assignee = serializers.CharField(source="assignee_email", help_text="Email, or empty when unassigned.")
    money_at_risk = serializers.DecimalField(**MONEY, help_text=MONEY_AT_RISK_HELP)
    money_currency = serializers.CharField(help_text="ISO 4217 code of money_at_risk, or empty when it is 0.")


class ExceptionOutput(ExceptionGroupOutput):
    tags = serializers.ListField(child=serializers.CharField())
    sla_breached = serializers.SerializerMethodField()
    retry_action = serializers.CharField(source="retry_name", help_text="Registered retry action, or empty.")

    class Meta:
        model = TriageException
        fields = (
            "id",
            "kind",
            "cause",
            "fingerprint",
            "severity",
            "fix_class",
            "tags",
            "title",
            "detail",
            "status",
            *GROUP_STATE_FIELDS,
            "snoozed_until",
            "resolution_reason",
            "resolved_at",
            "retry_action",
            "money_at_risk",
            "money_currency",
        )

    @extend_schema_field(serializers.BooleanField())
    def get_sla_breached(self, exception: TriageException) -> bool:
        return _sla_breached(exception)


class OccurrenceOutput(ModelOutput):
    object_type = serializers.SerializerMethodField()
    edited_payload = serializers.JSONField(allow_null=True, help_text="A person's correction, used by retry.")

    class Meta:
        model = Occurrence
        fields = (
            "id",
            "object_type",
            "object_id",
            "object_label",
            "object_url",
            "detail",
            "context",
            "payload",
            "edited_payload",
            "count",
            "first_seen",
            "last_seen",
            "resolved_at",
            "resolution_reason",
            "last_retry_at",
            "last_retry_error",
        )

    @extend_schema_field(serializers.CharField())
    def get_object_type(self, occurrence: Occurrence) -> str:
        content_type = occurrence.content_type
        return f"{content_type.app_label}.{content_type.model}" if content_type else ""


class CommentOutput(ModelOutput):
    author = serializers.CharField(source="author_label")

    class Meta:
        model = Comment
        fields = ("id", "author", "body", "created_at")


class ActivityOutput(ModelOutput):
    actor = serializers.CharField(source="actor_label")
    detail = serializers.DictField()

    class Meta:
        model = Activity
        fields = ("id", "actor", "action", "detail", "manual", "created_at")


class ExceptionDetailOutput(ExceptionOutput):
    open_objects = serializers.IntegerField()
    occurrences = OccurrenceOutput(many=True, help_text="Linked objects, failing ones first (at most 100).")
    comments = CommentOutput(many=True)
    activities = ActivityOutput(many=True)

    class Meta(ExceptionOutput.Meta):
        fields = (*ExceptionOutput.Meta.fields, "context", "open_objects", "occurrences", "comments", "activities")


EXCEPTION_EXAMPLE = OpenApiExample(
    "Exception",
    value={
        "id": 42,
        "kind": "mapping",
        "cause": "unmapped",
        "fingerprint": "mapping:unmapped:commerce.order",
        "severity": "normal",
        "fix_class": "mapping",
        "tags": ["posting", "unmapped"],
        "title": "No revenue account for category Shoes",
        "detail": "No account rule matches role revenue with category=Shoes.",
        "status": "open",
        "assignee": "",
        "count": 17,
        "first_seen": "2026-03-14T15:30:00Z",
        "last_seen": "2026-03-14T16:02:11Z",
        "sla_due": "2026-03-17T15:30:00Z",
        "sla_breached": False,
        "snoozed_until": None,
        "resolution_reason": "",
        "resolved_at": None,
        "retry_action": "posting.order",
        "money_at_risk": "1843.5000",
        "money_currency": "EUR",
    },
    response_only=True,
)


def _detail_body(exception_id: int) -> dict:
    detail = found(selectors.exception_detail(exception_id=exception_id), "No such exception.")
    exception = detail.exception
    body = ExceptionOutput(exception).data
    body.update(
        context=exception.context,
        open_objects=detail.open_objects,
        occurrences=OccurrenceOutput(detail.occurrences, many=True).data,
        comments=CommentOutput(detail.comments, many=True).data,
        activities=ActivityOutput(detail.activities, many=True).data,
    )
    return body


def _exception(pk: int) -> TriageException:
    return found(selectors.exception_get(exception_id=pk) if pk <= MAX_ID else None, "No such exception.")


class TenantExceptionApi(TenantApiView):
    serializer_class = ExceptionOutput

    def act(self, pk: int, input_class: type[serializers.Serializer], service: Callable, field: str) -> Response:
        """Exception `pk` after `service` ran on it with the body's `field` (checked by `input_class`)."""
        exception = _exception(pk)
        data = self.validated(input_class)
        return Response(ExceptionOutput(service(exception=exception, **{field: data[field]}, **self.who())).data)


# ---- list and detail ------------------------------------------------------------------------


class ExceptionQueryBase(serializers.Serializer):
    """The filters and orders both lists take: a tenant's inbox and the partner-wide list."""

    kind = serializers.ChoiceField(choices=Kind.choices, required=False)
    severity = serializers.ChoiceField(choices=Severity.choices, required=False)
    status = serializers.ChoiceField(choices=STATUS_FILTER_CHOICES, required=False, default="open_all")
    sla_breached = serializers.BooleanField(required=False, allow_null=True, default=None)
    ordering = serializers.ChoiceField(choices=ORDERING_CHOICES, required=False, default="sla_due")


def query_filters(values: dict) -> dict[str, Any]:
    """An `ExceptionQueryBase` query's filters as the selectors take them (`any` status: no filter)."""
    return {
        "kind": values.get("kind", ""),
        "severity": values.get("severity", ""),
        "status": "" if values["status"] == "any" else values["status"],
        "assignee": values.get("assignee", "").strip(),
        "sla_breached": values["sla_breached"],
    }


class ExceptionQuery(ExceptionQueryBase):
    assignee = serializers.CharField(required=False, max_length=254, help_text="An email, `me` or `none`.")
    fix_class = serializers.ChoiceField(choices=FixClass.choices, required=False)
    q = serializers.CharField(required=False, max_length=100, help_text="Search title, detail, cause, objects.")


class ExceptionListApi(TenantExceptionApi):
    ordering = ORDERINGS["sla_due"]
    queryset = TriageException.objects.none()

    @read_operation(
        "exceptions_list",
        ExceptionOutput(many=True),
        parameters=[ExceptionQuery],
        summary="List the tenant's exception groups",
        description=f"The tenant's exception groups (one per fingerprint, with its count). {PAGE_SIZE_DOC}",
        examples=[EXCEPTION_EXAMPLE],
    )
    def get(self, request: Request) -> Response:
        values = self.validated(ExceptionQuery, data=request.query_params)
        filters = selectors.ExceptionFilters(
            **query_filters(values), fix_class=values.get("fix_class", ""), search=values.get("q", "").strip()
        )
        user = request.user if getattr(request.user, "pk", None) else None
        self.ordering = ORDERINGS[values["ordering"]]
        return self.page_of(ExceptionOutput, selectors.exceptions_list(filters=filters, user=user))


class ExceptionDetailApi(TenantExceptionApi):
    serializer_class = ExceptionDetailOutput

    @read_operation("exceptions_retrieve", ExceptionDetailOutput)
    def get(self, request: Request, pk: int) -> Response:
        """Read one exception group with its linked objects, comments and activity."""
        return Response(_detail_body(_exception(pk).pk))


# ---- actions --------------------------------------------------------------------------------


class AssignInput(StrictSerializer):
    assignee = serializers.EmailField(
        allow_null=True, help_text="A member of the tenant or its partner; null unassigns."
    )


class ReasonInput(StrictSerializer):
    reason = serializers.CharField(
        max_length=2000,
        required=False,
        allow_blank=True,
        default="",
        help_text="Required to ignore, and to resolve mapping, posting, ERP push and reconciliation exceptions.",
    )


class CommentInput(StrictSerializer):
    body = serializers.CharField(max_length=10000)


class SnoozeInput(StrictSerializer):
    until = serializers.DateTimeField(help_text="A future time; the exception reopens then.")


class RetryInput(StrictSerializer):
    occurrence = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, help_text="With payload: the object whose payload you corrected."
    )
    payload = serializers.JSONField(
        required=False, help_text="Edit and retry: the corrected payload (the original stays kept)."
    )

    def validate(self, attrs: dict) -> dict:
        if ("payload" in attrs) != ("occurrence" in attrs):
            raise serializers.ValidationError({"payload": ["Send payload and occurrence together."]})
        return attrs


def _assignee(email: str | None):
    if email is None:
        return None
    user = selectors.assignable_user_get(email=email)
    if user is None:
        raise exceptions.ValidationError({"assignee": [selectors.ASSIGNEE_REFUSED]})
    return user


class ExceptionAssignApi(TenantExceptionApi):
    @write_operation(
        "exceptions_assign",
        AssignInput,
        ExceptionOutput,
        examples=[OpenApiExample("Assign", value={"assignee": "finance@acme.example"}, request_only=True)],
    )
    def post(self, request: Request, pk: int) -> Response:
        """Assign an exception to a member by email, or unassign it with an empty email."""
        exception = _exception(pk)
        data = self.validated(AssignInput)
        exception = services.exception_assign(
            exception=exception,
            assignee=_assignee(data["assignee"]),
            **self.who(),
        )
        return Response(ExceptionOutput(exception).data)


class ExceptionCommentApi(TenantExceptionApi):
    serializer_class = CommentOutput

    @write_operation(
        "exceptions_comment",
        CommentInput,
        CommentOutput,
        status=201,
        examples=[OpenApiExample("Comment", value={"body": "Adding the Shoes rule now."}, request_only=True)],
    )
    def post(self, request: Request, pk: int) -> Response:
        """Add a comment to an exception; it shows in its activity."""
        exception = _exception(pk)
        data = self.validated(CommentInput)
        comment: Comment = services.exception_comment(exception=exception, body=data["body"], **self.who())
        return Response(CommentOutput(comment).data, status=status.HTTP_201_CREATED)


class ExceptionSnoozeApi(TenantExceptionApi):
    @write_operation(
        "exceptions_snooze",
        SnoozeInput,
        ExceptionOutput,
        examples=[OpenApiExample("Snooze", value={"until": "2026-03-15T09:00:00Z"}, request_only=True)],
    )
    def post(self, request: Request, pk: int) -> Response:
        """Snooze an exception until a time; it comes back to the inbox then."""
        return self.act(pk, SnoozeInput, services.exception_snooze, "until")


class ExceptionResolveApi(TenantExceptionApi):
    @write_operation(
        "exceptions_resolve",
        ReasonInput,
        ExceptionOutput,
        examples=[OpenApiExample("Resolve", value={"reason": "Rule added for Shoes."}, request_only=True)],
    )
    def post(self, request: Request, pk: int) -> Response:
        """Mark an exception resolved by hand, with a reason."""
        return self.act(pk, ReasonInput, services.exception_resolve, "reason")


class ExceptionIgnoreApi(TenantExceptionApi):
    @write_operation(
        "exceptions_ignore",
        ReasonInput,
        ExceptionOutput,
        examples=[OpenApiExample("Ignore", value={"reason": "Test order from the shop owner."}, request_only=True)],
    )
    def post(self, request: Request, pk: int) -> Response:
        """Ignore an exception with a reason; it reopens if it recurs."""
        return self.act(pk, ReasonInput, services.exception_ignore, "reason")


class ExceptionRetryApi(TenantExceptionApi):
    @write_operation(
        "exceptions_retry",
        RetryInput,
        ExceptionOutput,
        status=202,
        description="Queue the exception's retry action for every failing object (202). With `occurrence` and "
        "`payload`, first store that object's corrected payload (edit and retry). The outcome shows in "
        "the detail: a `retried` activity, and the exception resolved when every object succeeded.",
        examples=[
            OpenApiExample("Retry", value={}, request_only=True),
            OpenApiExample("Edit and retry", value={"occurrence": 7, "payload": {"total": "12.50"}}, request_only=True),
        ],
    )
    def post(self, request: Request, pk: int) -> Response:
        exception = _exception(pk)
        values = self.validated(RetryInput)
        with transaction.atomic():
            if "occurrence" in values:
                occurrence = exception.occurrences.filter(pk=values["occurrence"]).first()
                if occurrence is None:
                    raise exceptions.ValidationError({"occurrence": ["No such object in this exception."]})
                services.occurrence_payload_edit(occurrence=occurrence, payload=values["payload"], **self.who())
            exception = services.exception_retry(exception=exception, **self.who())
        return Response(ExceptionOutput(exception).data, status=status.HTTP_202_ACCEPTED)


class BulkInput(StrictSerializer):
    action = serializers.ChoiceField(choices=[(action, action) for action in services.BULK_ACTIONS])
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID), min_length=1, max_length=500
    )
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    assignee = serializers.EmailField(required=False, allow_null=True, default=None, help_text="For assign.")


class BulkOutput(serializers.Serializer):
    done = serializers.ListField(child=serializers.IntegerField(), help_text="Ids the action was applied to.")
    errors = serializers.DictField(child=serializers.CharField(), help_text="Id → why it was refused.")


class ExceptionBulkApi(TenantExceptionApi):
    serializer_class = BulkOutput

    @write_operation(
        "exceptions_bulk",
        BulkInput,
        BulkOutput,
        description="Apply one action to many exceptions: each succeeds or is refused on its own.",
        examples=[
            OpenApiExample(
                "Ignore", value={"action": "ignore", "ids": [41, 42], "reason": "Test orders."}, request_only=True
            ),
            OpenApiExample("Result", value={"done": [41], "errors": {"42": "This exception is already closed."}}),
        ],
    )
    def post(self, request: Request) -> Response:
        values = self.validated(BulkInput)
        assignee = _assignee(values["assignee"]) if values["action"] == "assign" else None
        ids = sorted(set(values["ids"]))
        existing = selectors.exceptions_existing_ids(exception_ids=ids)
        result = services.exceptions_bulk(
            action=values["action"],
            exception_ids=existing,
            **self.who(),
            reason=values["reason"],
            assignee=assignee,
        )
        errors = {str(pk): message for pk, message in result["errors"].items()}
        errors.update({str(pk): "No such exception." for pk in ids if pk not in existing})
        return Response({"done": result["done"], "errors": dict(sorted(errors.items(), key=lambda i: int(i[0])))})
