"""The ERP's flow-health signal (triage/health.py): how long the tenant's posting target has been
unreachable, from `ErpTarget.unreachable_since` (set by the first push that could not reach it
after its last acknowledgement, cleared by the next one). One query."""

from __future__ import annotations

import datetime as dt

from posting.erp.models import ErpTarget
from triage.health import Measure, health_signal
from triage.partner.models import AlertRule


@health_signal(AlertRule.Trigger.ERP_UNREACHABLE)
def erp_unreachable(window_minutes: int, now: dt.datetime) -> list[Measure]:
    target = ErpTarget.objects.select_related("connection").first()
    if target is None or target.unreachable_since is None:
        return []
    minutes = max(0.0, (now - target.unreachable_since).total_seconds() / 60)
    label = target.connection.name if target.connection else "The built-in ledger"
    return [
        Measure(
            key=f"erp:{target.key}",
            value=minutes,
            label=label,
            obj=target.connection,
            context={"unreachable_since": target.unreachable_since.isoformat()},
        )
    ]
