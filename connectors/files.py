"""Saved payloads and CSV files through exactly the webhook path: store each record as an inbound
event (deduplicated), then process it — on commit through the worker (uploads), or right away
(the `ingest_file` command, which prints the outcome)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction

from connectors.inbox import event_process, record_store
from connectors.models import Connection, InboundEvent
from connectors.vendors import adapter_for_vendor
from connectors.vendors.base import Record, WebhookRejected
from connectors.vendors.csvdrop.normalise import csv_records

MAX_FILE_BYTES = 20 * 1024 * 1024


@dataclass
class IngestReport:
    stored: list[InboundEvent] = field(default_factory=list)
    duplicates: list[InboundEvent] = field(default_factory=list)

    @property
    def events(self) -> list[InboundEvent]:
        return self.stored + self.duplicates


def file_records(*, connection: Connection, topic: str, content: bytes) -> list[Record]:
    if len(content) > MAX_FILE_BYTES:
        raise ValidationError({"file": [f"Files are limited to {MAX_FILE_BYTES // (1024 * 1024)} MB."]})
    if connection.vendor == Connection.Vendor.CSV:
        return csv_records(content=content, topic=topic)
    adapter = adapter_for_vendor(connection.vendor)
    if topic not in adapter.topics:
        raise ValidationError({"topic": [f"{topic!r} is not a {connection.get_vendor_display()} topic."]})
    try:
        payload = json.loads(content)
    except ValueError:
        raise ValidationError({"file": ["The file is not valid JSON."]}) from None
    try:
        identity = adapter.file_identify(topic=topic, payload=payload)
    except WebhookRejected as rejected:
        raise ValidationError({"file": [rejected.message]}) from None
    return [Record(topic, identity.external_id, content)]


def file_ingest(*, connection: Connection, topic: str, content: bytes, process_now: bool = False) -> IngestReport:
    records = file_records(connection=connection, topic=topic, content=content)
    report = IngestReport()
    with transaction.atomic():
        for record in records:
            event, created = record_store(
                connection=connection, record=record, source=InboundEvent.Source.FILE, dispatch=not process_now
            )
            (report.stored if created else report.duplicates).append(event)
    if process_now:
        report.stored = [event_process(event_id=event.pk) for event in report.stored]
    return report
