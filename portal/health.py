"""Health checks for /healthz: the database, Redis and a recent worker heartbeat."""

from __future__ import annotations

import time

from django.conf import settings
from django.db import connection

from portal.tasks import redis_client


def health_check() -> dict[str, dict[str, object]]:
    checks: dict[str, dict[str, object]] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = {"ok": True}
    except Exception as exc:  # a health check reports every failure instead of raising
        checks["database"] = {"ok": False, "error": str(exc)[:200]}
    try:
        client = redis_client()
        client.ping()
        checks["redis"] = {"ok": True}
        beat = client.get(settings.WORKER_HEARTBEAT_KEY)
        age = time.time() - float(beat) if beat is not None else None
        fresh = age is not None and age <= settings.WORKER_HEARTBEAT_MAX_AGE
        checks["worker"] = {"ok": fresh, "heartbeat_age_seconds": round(age, 1) if age is not None else None}
        if not fresh:
            checks["worker"]["error"] = "no worker heartbeat" if age is None else "worker heartbeat too old"
    except Exception as exc:
        checks["redis"] = {"ok": False, "error": str(exc)[:200]}
        checks["worker"] = {"ok": False, "error": "unknown: Redis unreachable"}
    return checks
