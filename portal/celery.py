"""The Celery app. tenant-schemas-celery carries the sending schema in each task's headers and the
worker switches to it before the task runs."""

import os

from celery.signals import task_prerun
from tenant_schemas_celery.app import CeleryApp

from core.context import context_clear

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.dev")

app = CeleryApp("tillbridge")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# A task starts with no log context or trace of the task before it in this process.
task_prerun.connect(lambda **_: context_clear(), weak=False)
app.conf.beat_schedule = {
    "worker-heartbeat": {"task": "portal.heartbeat", "schedule": 30.0},
    "tenant-fan-out": {"task": "portal.tenants_fan_out", "schedule": 60.0},
    "fair-reclaim": {"task": "portal.fair_reclaim", "schedule": 60.0},
    "usage-flush": {"task": "tenants.usage_flush", "schedule": 60.0},
    "webhook-deliveries-sweep": {"task": "tenants.webhook_deliveries_sweep", "schedule": 300.0},
    "domain-verifications-recheck": {"task": "tenants.domain_verifications_recheck", "schedule": 3600.0},
}
