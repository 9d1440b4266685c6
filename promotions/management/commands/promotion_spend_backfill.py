from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import tenant_context

from promotions.budget import promotion_spend_backfill
from tenants.models import Tenant


class Command(BaseCommand):
    help = (
        "Record again the promotion spend of a tenant's posted orders: fills each discount's promotion "
        "version and the units of orders posted before redemptions were recorded (issue 20). Idempotent."
    )

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True, help="Tenant slug")

    def handle(self, *args, **options):
        tenant = Tenant.objects.filter(slug=options["tenant"]).exclude(schema_name="public").first()
        if tenant is None:
            raise CommandError(f"No tenant with slug {options['tenant']!r}.")
        with tenant_context(tenant):
            orders = promotion_spend_backfill()
        self.stdout.write(f"{orders} orders recorded again.")
