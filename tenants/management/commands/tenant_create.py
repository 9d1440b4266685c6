from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import tenant_context

from tenants.management.commands._errors import validation_to_command_error
from tenants.models import Partner
from tenants.onboarding import CHART_STANDARD, chart_template_apply
from tenants.services import tenant_create


class Command(BaseCommand):
    help = "Create a retail tenant (schema, domain) under a partner and print how long it took."

    def add_arguments(self, parser):
        parser.add_argument("--partner", required=True, help="Partner slug")
        parser.add_argument("--slug", required=True)
        parser.add_argument("--name", required=True)
        parser.add_argument("--domain", default=None, help="Default: <slug>.<partner domain>")
        parser.add_argument("--timezone", default="UTC")
        parser.add_argument("--currency", default="USD")
        parser.add_argument("--plan", default="starter")
        parser.add_argument("--coa", choices=["standard"], help="Apply a chart of accounts and its mapping")

    def handle(self, *args, **options):
        partner = Partner.objects.filter(slug=options["partner"]).first()
        if partner is None:
            raise CommandError(f"No partner with slug {options['partner']!r}.")
        try:
            created = tenant_create(
                partner=partner,
                slug=options["slug"],
                name=options["name"],
                domain=options["domain"],
                timezone=options["timezone"],
                base_currency=options["currency"],
                plan=options["plan"],
            )
        except ValidationError as error:
            raise validation_to_command_error(error) from error
        if options["coa"] == "standard":
            with tenant_context(created.tenant):
                chart_template_apply(CHART_STANDARD)
        self.stdout.write(
            self.style.SUCCESS(f"Tenant {created.tenant.slug} created at {created.domain} in {created.seconds:.3f} s")
        )
