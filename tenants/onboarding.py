"""The partner console's new-tenant wizard as one service: provision, chart, first admin."""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.http import HttpRequest
from django_tenants.utils import tenant_context

from tenants.invitations import member_invite
from tenants.models import Membership, Partner, Tenant, User
from tenants.services import TenantCreated, tenant_create

CHART_STANDARD = "standard"
CHART_NONE = "none"
CHART_CHOICES = [
    (CHART_STANDARD, "Standard retail chart and mapping (post from day one)"),
    (CHART_NONE, "None: I will import the customer's chart"),
]

# How each chart template is applied in a new tenant's schema, registered by the app that owns
# charts (mappings/apps.py): tenants sits below mappings in the layers and never imports it.
_chart_templates: dict[str, Callable[[], object]] = {}


def chart_template_register(chart: str, apply: Callable[[], object]) -> None:
    _chart_templates[chart] = apply


def chart_template_known(chart: str) -> bool:
    return chart == CHART_NONE or chart in _chart_templates


def chart_template_apply(*, tenant: Tenant, chart: str) -> None:
    """Apply the chart template `chart` (nothing for CHART_NONE) inside the tenant's schema."""
    if not chart_template_known(chart):
        raise ValidationError({"chart": f"{chart!r} is not a chart template."})
    if chart != CHART_NONE:
        with tenant_context(tenant):
            _chart_templates[chart]()


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
    if not chart_template_known(chart):
        raise ValidationError({"chart": f"{chart!r} is not a chart template."})
    admin_email = (admin_email or "").strip().lower()
    if admin_email:
        try:
            validate_email(admin_email)
        except ValidationError as error:
            raise ValidationError({"admin_email": "Enter a valid email address."}) from error
    created = tenant_create(partner=partner, actor=actor, **fields)
    with transaction.atomic():
        chart_template_apply(tenant=created.tenant, chart=chart)
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
