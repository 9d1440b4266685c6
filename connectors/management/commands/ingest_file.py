"""Run a saved vendor payload (or a CSV file) through exactly the webhook path and print the outcome.

manage.py ingest_file --tenant acme --vendor shopify --topic orders/create order.json
"""

from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import tenant_context

from connectors.files import file_ingest
from connectors.models import Connection
from tenants.models import Tenant


class Command(BaseCommand):
    help = "Store a saved payload or CSV file as inbound events and process them now."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--tenant", required=True, help="tenant slug")
        parser.add_argument("--vendor", required=True, choices=["shopify", "woocommerce", "square", "stripe", "csv"])
        parser.add_argument("--topic", required=True, help="e.g. orders/create, charge.succeeded, orders (csv)")
        parser.add_argument("--connection", type=int, help="connection id (default: the first of that vendor)")
        parser.add_argument("file", type=Path)

    def handle(self, *args, **options) -> None:
        tenant = Tenant.objects.filter(slug=options["tenant"]).first()
        if tenant is None:
            raise CommandError(f"No tenant {options['tenant']!r}.")
        try:
            content = options["file"].read_bytes()
        except OSError as error:
            raise CommandError(f"Cannot read {options['file']}: {error}") from error
        with tenant_context(tenant):
            connections = Connection.objects.filter(vendor=options["vendor"], direction=Connection.Direction.SOURCE)
            if options["connection"]:
                connections = connections.filter(pk=options["connection"])
            connection = connections.order_by("pk").first()
            if connection is None:
                raise CommandError(f"{tenant.slug} has no {options['vendor']} connection; add one first.")
            try:
                report = file_ingest(connection=connection, topic=options["topic"], content=content, process_now=True)
            except ValidationError as error:
                raise CommandError("; ".join(error.messages)) from error
            for event in report.stored:
                self.stdout.write(f"event {event.pk} {event.topic} {event.external_id}: {event.status}")
                for document in event.result.get("documents", []):
                    posting = document.get("posting", "-")
                    self.stdout.write(
                        f"  {document['type']} {document['external_id']} (id {document['id']}): "
                        f"{document['outcome']}, posting {posting}, journal {document.get('journal_id') or '-'}"
                    )
                if event.last_error:
                    self.stdout.write(self.style.ERROR(f"  exception: {event.last_error}"))
            for event in report.duplicates:
                self.stdout.write(f"event {event.pk} {event.topic} {event.external_id}: duplicate of a stored event")
