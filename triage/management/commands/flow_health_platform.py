"""Platform-wide flow health, run outside Celery (cron or a systemd timer, every minute): a check
the workers run cannot notice that the workers are gone (triage/health.py)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from triage.health import worker_heartbeat_age, worker_heartbeat_check


class Command(BaseCommand):
    help = "Alert partner-wide worker_heartbeat rules when the worker heartbeat is missing (run every minute)."

    def handle(self, *args, **options) -> None:
        sent = worker_heartbeat_check()
        age = worker_heartbeat_age()
        seen = "none" if age is None else f"{age:.0f} s ago"
        self.stdout.write(f"Worker heartbeat: {seen}; {sent} alert(s) sent.")
