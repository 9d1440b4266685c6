from django.core.management.base import BaseCommand

from tenants.models import Partner
from tenants.services import partner_logo_reencode


class Command(BaseCommand):
    help = (
        "Re-encode partner logos stored before uploads were re-encoded (or remove those that are not "
        "images), deleting the original files. Safe to run again: re-encoded logos are kept as they are."
    )

    def handle(self, *args, **options):
        counts: dict[str, int] = {}
        for partner in Partner.objects.exclude(logo="").order_by("slug"):
            outcome = partner_logo_reencode(partner=partner)
            counts[outcome] = counts.get(outcome, 0) + 1
            if outcome != "kept":
                self.stdout.write(f"{partner.slug}: {outcome}")
        summary = ", ".join(f"{count} {outcome}" for outcome, count in sorted(counts.items())) or "no logos"
        self.stdout.write(self.style.SUCCESS(f"Logos: {summary}."))
