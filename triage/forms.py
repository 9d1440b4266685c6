"""Forms of the exception inbox pages (tenant portal and partner console). Shape only: business
rules (who may be assigned, when a reason is needed) are the services' job."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from tenants.models import Tenant
from triage.models import FixClass, Kind, Severity, Status
from triage.partner.models import AlertRule
from triage.selectors import STATUS_OPEN, ExceptionFilters
from triage.services import BULK_ACTIONS

STATUS_CHOICES = [(STATUS_OPEN, "Needs attention"), ("", "Any status"), *Status.choices]
BREACHED_CHOICES = [("", "Any"), ("yes", "Breached"), ("no", "Within SLA")]
SORT_CHOICES = [
    ("-money_at_risk", "Money at risk (most first)"),
    ("sla", "SLA due (soonest first)"),
    ("-last_seen", "Last seen"),
    ("-count", "Most frequent"),
]
PARTNER_SORT_CHOICES = SORT_CHOICES[:2]


def _any(choices: list[tuple[str, str]], label: str = "Any") -> list[tuple[str, str]]:
    return [("", label), *choices]


def _breached(value: str) -> bool | None:
    return {"yes": True, "no": False}.get(value)


class InboxFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=100, label="Search")
    kind = forms.ChoiceField(required=False, choices=_any(Kind.choices))
    severity = forms.ChoiceField(required=False, choices=_any(Severity.choices))
    status = forms.ChoiceField(required=False, choices=STATUS_CHOICES, initial=STATUS_OPEN)
    assignee = forms.CharField(required=False, max_length=254, help_text="An email, me or none.")
    fix_class = forms.ChoiceField(required=False, choices=_any(FixClass.choices), label="Fix")
    sla = forms.ChoiceField(required=False, choices=BREACHED_CHOICES, label="SLA")
    sort = forms.ChoiceField(required=False, choices=SORT_CHOICES)

    def filters(self) -> ExceptionFilters:
        """The filters asked for; an invalid field falls back to its default."""
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        status = data.get("status", STATUS_OPEN) if "status" in self.data else STATUS_OPEN
        return ExceptionFilters(
            kind=data.get("kind", ""),
            severity=data.get("severity", ""),
            status=status,
            assignee=data.get("assignee", "").strip(),
            fix_class=data.get("fix_class", ""),
            sla_breached=_breached(data.get("sla", "")),
            search=data.get("q", "").strip(),
            sort=data.get("sort") or "-money_at_risk",
        )


class IdListField(forms.Field):
    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[int]:
        values = value or []
        try:
            return sorted({int(item) for item in values})
        except (TypeError, ValueError) as error:
            raise ValidationError("Choose exceptions from the list.") from error

    def validate(self, value: list[int]) -> None:
        if not value:
            raise ValidationError("Select at least one exception.")


class BulkForm(forms.Form):
    action = forms.ChoiceField(choices=[(action, action.title()) for action in BULK_ACTIONS])
    ids = IdListField()
    reason = forms.CharField(required=False, max_length=2000)
    assignee = forms.CharField(required=False, max_length=254)
    next = forms.CharField(required=False, max_length=2000)

    def clean(self) -> dict:
        data = super().clean()
        if data.get("action") == "ignore" and not (data.get("reason") or "").strip():
            self.add_error("reason", "Say why these exceptions can be ignored.")
        return data


class AssignForm(forms.Form):
    assignee = forms.CharField(required=False, max_length=254, help_text="Empty to unassign.")


class CommentForm(forms.Form):
    body = forms.CharField(max_length=10000, widget=forms.Textarea(attrs={"rows": 3}))


class ReasonForm(forms.Form):
    reason = forms.CharField(required=False, max_length=2000)


class SnoozeForm(forms.Form):
    hours = forms.TypedChoiceField(
        coerce=int, choices=[(1, "1 hour"), (4, "4 hours"), (24, "1 day"), (72, "3 days"), (168, "1 week")]
    )


class PayloadForm(forms.Form):
    occurrence = forms.IntegerField(min_value=1)
    payload = forms.CharField(widget=forms.Textarea(attrs={"rows": 10}), max_length=200_000)

    def clean_payload(self) -> Any:
        try:
            return json.loads(self.cleaned_data["payload"])
        except ValueError as error:
            raise ValidationError(f"This is not valid JSON: {error}") from error


class PartnerInboxFilterForm(forms.Form):
    tenant = forms.ChoiceField(required=False, choices=[])
    kind = forms.ChoiceField(required=False, choices=_any(Kind.choices))
    severity = forms.ChoiceField(required=False, choices=_any(Severity.choices))
    status = forms.ChoiceField(required=False, choices=STATUS_CHOICES, initial=STATUS_OPEN)
    assignee = forms.CharField(required=False, max_length=254, help_text="An email or none.")
    sla = forms.ChoiceField(required=False, choices=BREACHED_CHOICES, label="SLA")
    sort = forms.ChoiceField(required=False, choices=PARTNER_SORT_CHOICES)

    def __init__(self, *args: Any, tenants: list[Tenant], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["tenant"].choices = _any([(tenant.slug, tenant.name) for tenant in tenants], "All tenants")

    def filters(self) -> dict[str, Any]:
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        return {
            "tenant_slug": data.get("tenant", ""),
            "kind": data.get("kind", ""),
            "severity": data.get("severity", ""),
            "status": data.get("status", STATUS_OPEN) if "status" in self.data else STATUS_OPEN,
            "assignee": data.get("assignee", "").strip(),
            "sla_breached": _breached(data.get("sla", "")),
            "sort": data.get("sort") or "-money_at_risk",
        }


class AlertRuleForm(forms.Form):
    name = forms.CharField(max_length=120)
    trigger = forms.ChoiceField(choices=AlertRule.Trigger.choices)
    tenant = forms.ChoiceField(required=False, choices=[], help_text="Empty: every tenant of yours.")
    threshold = forms.IntegerField(
        min_value=0,
        initial=10,
        required=False,
        label="N",
        help_text=(
            "Count rules: occurrences. Backlog and ERP unreachable: minutes. Sync latency and worker "
            "heartbeat: seconds. Channel silence: the fewest orders the channel usually sends in that hour."
        ),
    )
    window_minutes = forms.IntegerField(
        min_value=1, initial=60, required=False, label="M minutes", help_text="Count rules and sync latency."
    )
    emails = forms.CharField(required=False, max_length=2000, help_text="Comma-separated addresses.")
    webhook = forms.BooleanField(required=False, initial=True, label="Also send the signed webhook")

    def __init__(self, *args: Any, tenants: list[Tenant], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tenants = {tenant.slug: tenant for tenant in tenants}
        self.fields["tenant"].choices = _any([(tenant.slug, tenant.name) for tenant in tenants], "All tenants")

    def clean_emails(self) -> list[str]:
        return [email.strip() for email in self.cleaned_data["emails"].split(",") if email.strip()]

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "name": data["name"],
            "trigger": data["trigger"],
            "tenant": self.tenants.get(data.get("tenant") or ""),
            "threshold": data.get("threshold") or 0,
            "window_minutes": data.get("window_minutes") or 60,
            "emails": data["emails"],
            "webhook": data["webhook"],
        }
