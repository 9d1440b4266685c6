"""The partner console's new-tenant wizard as one service: provision, chart, first admin."""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.http import HttpRequest
from django_tenants.utils import tenant_context

from tenants.invitations import member_invite
from tenants.models import Membership, Partner, User
from tenants.services import TenantCreated, tenant_create

CHART_STANDARD = "standard"
CHART_NONE = "none"
CHART_CHOICES = [
    (CHART_STANDARD, "Standard retail chart and mapping (post from day one)"),
    (CHART_NONE, "None: I will import the customer's chart"),
]
# Chart templates by name. The chart and its mapping belong to `mappings`, a layer above tenants:
# it registers its templates here at start-up (mappings/apps.py), so tenants never imports it.
_CHART_TEMPLATES: dict[str, Callable[[], object]] = {}


def chart_template_register(name: str, apply: Callable[[], object]) -> None:
    _CHART_TEMPLATES[name] = apply


def chart_template_apply(name: str) -> None:
    """Apply the chart template `name` in the current tenant schema."""
    try:
        apply = _CHART_TEMPLATES[name]
    except KeyError:
        raise ValidationError({"chart": f"{name!r} is not a chart template."}) from None
    apply()


def tenant_onboard(
    *,
    partner: Partner,
    actor: User,
    request: HttpRequest,
    chart: str,
    admin_email: str = "",
    admin_name: str = "",
    **fields: str,
) -> TenantCreated:
    """Create the tenant, apply the chart template and invite its first admin.

    The inputs of the later steps are checked before anything is created, so a bad email or
    chart choice leaves nothing behind."""
    if chart not in {CHART_STANDARD, CHART_NONE}:
        raise ValidationError({"chart": f"{chart!r} is not a chart template."})
    admin_email = (admin_email or "").strip().lower()
    if admin_email:
        try:
            validate_email(admin_email)
        except ValidationError as error:
            raise ValidationError({"admin_email": "Enter a valid email address."}) from error
    created = tenant_create(partner=partner, actor=actor, **fields)
    with transaction.atomic():
        if chart == CHART_STANDARD:
            with tenant_context(created.tenant):
                chart_template_apply(CHART_STANDARD)
        if admin_email:
            member_invite(
                partner=partner,
                email=admin_email,
                name=admin_name,
                role=Membership.Role.TENANT_ADMIN,
                tenant=created.tenant,
                actor=actor,
                request=request,
            )
    return created
