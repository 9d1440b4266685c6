"""SLA due times: hours to resolve by severity, tighter on bigger plans."""

from __future__ import annotations

import datetime as dt

SLA_HOURS: dict[str, dict[str, int]] = {
    "starter": {"critical": 8, "high": 24, "normal": 72, "low": 168},
    "growth": {"critical": 4, "high": 12, "normal": 48, "low": 120},
    "enterprise": {"critical": 1, "high": 4, "normal": 24, "low": 72},
}
SEVERITY_RANK = {"critical": 0, "high": 1, "normal": 2, "low": 3}


def sla_due(*, plan: str, severity: str, since: dt.datetime) -> dt.datetime:
    hours = SLA_HOURS.get(plan, SLA_HOURS["starter"])[severity]
    return since + dt.timedelta(hours=hours)
