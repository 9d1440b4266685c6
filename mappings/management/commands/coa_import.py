from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import tenant_context

from core.spreadsheet import RowsInvalid
from mappings.services import accounts_import_csv
from tenants.models import Tenant


class Command(BaseCommand):
    help = "Import a chart of accounts (CSV: code,name,type[,parent]) into a tenant. All rows or none."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True, help="Tenant slug")
        parser.add_argument("file", help="CSV file")

    def handle(self, *args, **options):
        tenant = Tenant.objects.filter(slug=options["tenant"]).exclude(schema_name="public").first()
        if tenant is None:
            raise CommandError(f"No tenant with slug {options['tenant']!r}.")
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"No file {path}.")
        with tenant_context(tenant):
            try:
                result = accounts_import_csv(file=path.read_bytes(), actor=None)
            except RowsInvalid as error:
                for row in error.rows:
                    self.stderr.write(str(row))
                raise CommandError(f"{len(error.rows)} bad row(s); nothing was imported.") from error
        self.stdout.write(self.style.SUCCESS(f"{result.created} account(s) created, {result.updated} updated."))
