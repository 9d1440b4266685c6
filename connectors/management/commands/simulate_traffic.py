"""Send simulated, signed Shopify and Stripe webhooks to a running portal (the demo's traffic).

manage.py simulate_traffic --tenant acme --orders 30 [--base-url http://acme.northwind.localhost:8000]
"""

from __future__ import annotations

from collections import Counter

import httpx
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import tenant_context

from connectors.simulator import demo_connections_ensure, http_traffic_send
from tenants.models import Tenant


class Command(BaseCommand):
    help = "POST simulated vendor webhooks to a running portal."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--tenant", required=True)
        parser.add_argument("--orders", type=int, default=20)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--base-url", help="default: the tenant's domain on PORTAL_PORT")

    def handle(self, *args, **options) -> None:
        tenant = Tenant.objects.filter(slug=options["tenant"]).first()
        if tenant is None:
            raise CommandError(f"No tenant {options['tenant']!r}.")
        domain = tenant.domains.get(is_primary=True).domain
        base_url = options["base_url"] or f"{settings.PORTAL_SCHEME}://{domain}:{settings.PORTAL_PORT}"
        with tenant_context(tenant):
            shop, stripe = demo_connections_ensure()
        with httpx.Client(timeout=10) as client:
            try:
                statuses = http_traffic_send(
                    base_url=base_url,
                    shop=shop,
                    stripe=stripe,
                    orders=options["orders"],
                    seed=options["seed"],
                    client=client,
                )
            except httpx.HTTPError as error:
                raise CommandError(f"Cannot reach {base_url}: {error}") from error
        counts = dict(sorted(Counter(statuses).items()))
        self.stdout.write(f"Sent {len(statuses)} webhooks to {base_url}: statuses {counts}")
