import datetime as dt
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import tenant_context

from posting.exports import ledger_beancount, ledger_csv
from tenants.models import Tenant


def date_arg(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as error:
        raise CommandError(f"{value!r} is not a date (YYYY-MM-DD).") from error


class Command(BaseCommand):
    help = "Export a tenant's built-in ledger as CSV or beancount text."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True, help="Tenant slug")
        parser.add_argument("--format", choices=["csv", "beancount"], default="csv")
        parser.add_argument("--output", help="File to write (default: standard output)")
        parser.add_argument("--from", dest="start", type=date_arg)
        parser.add_argument("--to", dest="end", type=date_arg)

    def handle(self, *args, **options):
        tenant = Tenant.objects.filter(slug=options["tenant"]).exclude(schema_name="public").first()
        if tenant is None:
            raise CommandError(f"No tenant with slug {options['tenant']!r}.")
        export = ledger_csv if options["format"] == "csv" else ledger_beancount
        with tenant_context(tenant):
            text = export(start=options["start"], end=options["end"])
        if options["output"]:
            Path(options["output"]).write_text(text, encoding="utf-8")
            self.stdout.write(self.style.SUCCESS(f"Wrote {options['output']}"))
        else:
            self.stdout.write(text, ending="")
