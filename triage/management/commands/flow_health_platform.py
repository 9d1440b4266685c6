"""Platform-wide flow health, run outside Celery (cron or a systemd timer, every minute): a check
the workers run cannot notice that the workers are gone (triage/health.py)."""

from __future__ import annotations

import redis
from django.core.management.base import BaseCommand, CommandError

from triage.health import worker_heartbeat_age, worker_heartbeat_check


class Command(BaseCommand):
    help = "Alert partner-wide worker_heartbeat rules when the worker heartbeat is missing (run every minute)."

    def handle(self, *args, **options) -> None:
        try:
            sent = worker_heartbeat_check()
            age = worker_heartbeat_age()
        except redis.RedisError as error:  # cron mails the failure: Redis down is also /healthz's alarm
            raise CommandError(f"Cannot read the worker heartbeat: Redis is unreachable ({error}).") from error
        seen = "none" if age is None else f"{age:.0f} s ago"
        self.stdout.write(f"Worker heartbeat: {seen}; {sent} alert(s) sent.")
