"""Tasks only the test worker loads (conftest starts it with --include tests.worker_tasks)."""

from celery import shared_task
from django.contrib.contenttypes.models import ContentType
from django.db import connection

from triage.retry import retry_action


@shared_task(name="tests.schema_probe")
def schema_probe() -> dict:
    return {
        "schema": connection.schema_name,
        "probes": sorted(ContentType.objects.filter(app_label="isolation_probe").values_list("model", flat=True)),
    }


@retry_action("tests.probe_present")
def probe_present(model: str) -> None:
    """Succeeds once the named isolation probe exists in this schema: a retry whose outcome a test controls."""
    if not ContentType.objects.filter(app_label="isolation_probe", model=model).exists():
        raise LookupError(f"probe {model} is missing in {connection.schema_name}")
