"""Re-encrypt every connection's credentials, and every outbound webhook's signing secret, with the
newest CONNECTOR_CREDENTIAL_KEYS key.

Rotation: put the new key first in CONNECTOR_CREDENTIAL_KEYS (keep the old one after it), deploy,
run this command, then remove the old key."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django_tenants.utils import tenant_context

from connectors.services import credentials_rotate_all
from core.crypto import CredentialsUnreadable
from tenants.models import Tenant
from tenants.webhooks import webhook_secrets_rotate


class Command(BaseCommand):
    help = "Re-encrypt connector credentials in every tenant with the newest key."

    def handle(self, *args, **options) -> None:
        total = 0
        for tenant in Tenant.objects.exclude(schema_name="public").order_by("slug"):
            with tenant_context(tenant), transaction.atomic():
                try:
                    count = credentials_rotate_all()
                except CredentialsUnreadable as error:
                    raise CommandError(f"{tenant.slug}: {error} Keep the old key in the list until rotated.") from error
            total += count
            self.stdout.write(f"{tenant.slug}: {count} connection(s) re-encrypted")
        try:
            hooks = webhook_secrets_rotate()
        except CredentialsUnreadable as error:
            raise CommandError(f"webhook secrets: {error} Keep the old key in the list until rotated.") from error
        self.stdout.write(f"webhooks: {hooks} signing secret(s) re-encrypted")
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted {total} connection(s)."))
