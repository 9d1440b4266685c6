from decimal import Decimal

from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import tenant_context

from posting.management.commands.ledger_export import date_arg
from posting.selectors import trial_balance
from tenants.models import Tenant


class Command(BaseCommand):
    help = "Print a tenant's trial balance (per account and currency) as of a date."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True, help="Tenant slug")
        parser.add_argument("--as-of", dest="as_of", type=date_arg)

    def handle(self, *args, **options):
        tenant = Tenant.objects.filter(slug=options["tenant"]).exclude(schema_name="public").first()
        if tenant is None:
            raise CommandError(f"No tenant with slug {options['tenant']!r}.")
        with tenant_context(tenant):
            rows = trial_balance(as_of=options["as_of"])
        self.stdout.write(f"{'code':<10} {'account':<36} {'cur':<4} {'debit':>14} {'credit':>14} {'balance':>14}")
        totals: dict[str, list[Decimal]] = {}
        for row in rows:
            name = row.name[:36]
            self.stdout.write(
                f"{row.code:<10} {name:<36} {row.currency:<4} {row.debit:>14} {row.credit:>14} {row.balance:>14}"
            )
            total = totals.setdefault(row.currency, [Decimal(0), Decimal(0)])
            total[0] += row.debit
            total[1] += row.credit
        for currency, (debit, credit) in sorted(totals.items()):
            self.stdout.write(f"{'total':<10} {'':<36} {currency:<4} {debit:>14} {credit:>14} {debit - credit:>14}")
