from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand

from tenants.management.commands._errors import validation_to_command_error
from tenants.services import partner_create


class Command(BaseCommand):
    help = "Create an integration partner with its console domain."

    def add_arguments(self, parser):
        parser.add_argument("--slug", required=True)
        parser.add_argument("--name", required=True)
        parser.add_argument("--domain", required=True)
        parser.add_argument("--support-email", default="")
        parser.add_argument("--primary-colour", default="#1F4E79")
        parser.add_argument("--accent-colour", default="#F2A900")

    def handle(self, *args, **options):
        try:
            partner = partner_create(
                slug=options["slug"],
                name=options["name"],
                domain=options["domain"],
                support_email=options["support_email"],
                primary_colour=options["primary_colour"],
                accent_colour=options["accent_colour"],
            )
        except ValidationError as error:
            raise validation_to_command_error(error) from error
        self.stdout.write(self.style.SUCCESS(f"Partner {partner.slug} created at {options['domain']}"))
