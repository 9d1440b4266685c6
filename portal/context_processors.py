"""The brand of the host being visited: the partner's, or the product's on the operator domain."""

from django.conf import settings
from django.http import HttpRequest

from tenants.brand import Brand, brand_for_partner
from tenants.models import Membership
from tenants.selectors import tenant_switcher_entries

PARTNER_STAFF_ROLES = frozenset(Membership.PARTNER_ROLES)


def brand(request: HttpRequest) -> dict[str, object]:
    partner = getattr(request, "partner", None)
    current: Brand = brand_for_partner(partner)
    return {
        "brand": current,
        "portal_area": getattr(request, "portal_area", "operator"),
        "current_tenant": getattr(request, "tenant", None) if getattr(request, "portal_area", "") == "tenant" else None,
        "membership_role": getattr(request, "membership_role", None),
        "request_id": getattr(request, "request_id", ""),
        "product_name": settings.PORTAL_PRODUCT_NAME,
        "tenant_switcher": _tenant_switcher(request, partner),
    }


def _tenant_switcher(request: HttpRequest, partner: object) -> list[dict[str, str]]:
    """Partner staff jump between the partner's tenants; nobody else sees the list."""
    if partner is None or getattr(request, "membership_role", None) not in PARTNER_STAFF_ROLES:
        return []
    port = request.get_port()
    suffix = "" if port in ("80", "443") else f":{port}"
    return [
        {**entry, "url": f"{request.scheme}://{entry['domain']}{suffix}/"}
        for entry in tenant_switcher_entries(partner=partner)
    ]
