"""The demo partner, tenants and people created by `manage.py seed_demo` (idempotent)."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import tenant_context
from PIL import Image, ImageDraw

from connectors.simulator import demo_traffic_ingest
from mappings.services import standard_chart_ensure
from portal.demo.commerce import inventory_demo_seed
from portal.demo.fulfilment import fulfilment_demo_seed
from portal.demo.posting import ledger_demo_seed
from portal.demo.promotions import promotions_demo_seed
from portal.demo.returns import returns_demo_seed
from portal.demo.triage import exceptions_demo_seed
from tenants import services
from tenants.models import Membership, Partner, Tenant, User

DEMO_PASSWORD = "tillbridge-demo-2026"  # noqa: S105 - published demo login
PARTNER_SLUG = "northwind"
PARTNER_DOMAIN = "northwind.localhost"
TENANTS = [
    {
        "slug": "acme",
        "name": "Acme Outfitters",
        "timezone": "America/New_York",
        "base_currency": "USD",
        "plan": "growth",
        "admin": "finance@acme-outfitters.test",
    },
    {
        "slug": "bluebird",
        "name": "Bluebird Books",
        "timezone": "Europe/London",
        "base_currency": "GBP",
        "plan": "starter",
        "admin": "accounts@bluebird-books.test",
    },
]
OPERATOR_EMAIL = "operator@tillbridge.test"
PARTNER_ADMIN_EMAIL = "ops@northwind-partners.test"


def northwind_logo_png() -> bytes:
    """A compass-rose mark in the partner's colours, drawn rather than shipped as a binary."""
    size = 256
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((0, 0, size - 1, size - 1), radius=56, fill="#0E5E6F")
    centre = size // 2
    draw.polygon([(centre, 28), (centre + 34, centre), (centre, centre - 14), (centre - 34, centre)], fill="#F4B942")
    draw.polygon(
        [(centre, size - 28), (centre + 34, centre), (centre, centre + 14), (centre - 34, centre)], fill="#FFFFFF"
    )
    draw.polygon([(28, centre), (centre, centre - 24), (centre - 10, centre), (centre, centre + 24)], fill="#BFE3E8")
    draw.polygon(
        [(size - 28, centre), (centre, centre - 24), (centre + 10, centre), (centre, centre + 24)], fill="#BFE3E8"
    )
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@dataclass
class DemoLogin:
    area: str
    url: str
    email: str


def _user(email: str, name: str, *, staff: bool = False) -> User:
    user = User.objects.filter(email=email).first()
    if user is None:
        user = services.user_create(email=email, password=DEMO_PASSWORD, name=name, verified=True)
    if staff and not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    return user


def _url(host: str) -> str:
    return f"{settings.PORTAL_SCHEME}://{host}:{settings.PORTAL_PORT}/"


def demo_logins() -> list[DemoLogin]:
    logins = [
        DemoLogin("Operator console", _url(settings.PORTAL_PUBLIC_DOMAIN), OPERATOR_EMAIL),
        DemoLogin("Partner console (Northwind)", _url(PARTNER_DOMAIN), PARTNER_ADMIN_EMAIL),
    ]
    for spec in TENANTS:
        logins.append(
            DemoLogin(f"Tenant portal ({spec['name']})", _url(f"{spec['slug']}.{PARTNER_DOMAIN}"), spec["admin"])
        )
    return logins


DEMO_STEPS_PER_TENANT = 5


def demo_seed_steps() -> int:
    """How many times `demo_seed` reports progress (for a progress bar's total)."""
    return 1 + len(TENANTS) * DEMO_STEPS_PER_TENANT


def demo_seed(progress: Callable[[str], None] = lambda step: None) -> list[DemoLogin]:
    """Create or refresh the demo; `progress(step)` is called after each of `demo_seed_steps()` steps."""
    services.public_tenant_ensure(domain=settings.PORTAL_PUBLIC_DOMAIN)
    _user(OPERATOR_EMAIL, "Olivia Operator", staff=True)
    partner = Partner.objects.filter(slug=PARTNER_SLUG).first()
    if partner is None:
        partner = services.partner_create(
            slug=PARTNER_SLUG,
            name="Northwind Commerce Partners",
            domain=PARTNER_DOMAIN,
            primary_colour="#0E5E6F",
            accent_colour="#F4B942",
            support_email="help@northwind-partners.test",
            sender_name="Northwind Support",
        )
        services.partner_brand_update(
            partner=partner,
            actor=None,
            logo=SimpleUploadedFile("northwind.png", northwind_logo_png(), content_type="image/png"),
        )
    partner_admin = _user(PARTNER_ADMIN_EMAIL, "Priya Partner")
    services.membership_grant(user=partner_admin, partner=partner, role=Membership.Role.PARTNER_ADMIN)
    progress("partner and people")
    for spec in TENANTS:
        tenant = Tenant.objects.filter(slug=spec["slug"]).first()
        if tenant is None:
            tenant = services.tenant_create(
                partner=partner,
                slug=spec["slug"],
                name=spec["name"],
                timezone=spec["timezone"],
                base_currency=spec["base_currency"],
                plan=spec["plan"],
            ).tenant
        admin = _user(spec["admin"], f"{spec['name']} finance")
        services.membership_grant(user=admin, tenant=tenant, role=Membership.Role.TENANT_ADMIN)
        progress(f"{tenant.slug}: schema and admin")
        with tenant_context(tenant):
            standard_chart_ensure()
            exceptions_demo_seed(currency=tenant.base_currency, assignee=admin)
            progress(f"{tenant.slug}: chart and exceptions")
            if tenant.base_currency == "USD":  # the simulator speaks USD Shopify and Stripe traffic
                demo_traffic_ingest()
            progress(f"{tenant.slug}: webhook traffic")
            ledger_demo_seed(currency=tenant.base_currency)
            inventory_demo_seed(currency=tenant.base_currency)
            fulfilment_demo_seed(currency=tenant.base_currency)
            returns_demo_seed(currency=tenant.base_currency, approver=admin)
            progress(f"{tenant.slug}: a month of orders, refunds and payouts")
            progress(f"{tenant.slug}: {promotions_demo_seed(author=admin, approver=partner_admin)}")
    return demo_logins()
