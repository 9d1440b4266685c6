"""The one way posting reports a problem into the exception inbox (DESIGN.md §5)."""

from __future__ import annotations

from typing import Any

import structlog
from django.db import models

from posting.builders import Problem
from triage.retry import RetryAction
from triage.services import exception_raise

log = structlog.get_logger(__name__)

KINDS = {"unmapped": "mapping", "reconciliation_difference": "reconciliation", "payout_suspense": "reconciliation"}
SEVERITY = {
    "unbalanced": "high",
    "refund_exceeds_posted": "high",
    "currency_mismatch": "high",
    "unmapped": "normal",
    "totals_mismatch": "normal",
    "order_not_posted": "low",
    "invalid": "normal",
    "reconciliation_difference": "normal",
    "batch_close_failed": "high",
    "payout_suspense": "normal",
}


def posting_problem_raise(
    *,
    problem: Problem,
    obj: models.Model | None,
    title: str,
    retry_name: str | None = None,
    retry_args: dict[str, Any] | None = None,
) -> Any:
    """Raise `problem` into the exception inbox (and log it); returns the triage exception."""
    context = {"role": problem.role, "conditions": dict(problem.conditions)} if problem.role else {}
    log.warning("posting.problem", kind=problem.kind, message=problem.message, **context)
    retry = RetryAction(retry_name, retry_args or {}) if retry_name else None
    return exception_raise(
        kind=KINDS.get(problem.kind, "posting"),
        cause=problem.kind,
        obj=obj,
        title=title,
        detail=problem.message,
        context=context,
        severity=SEVERITY.get(problem.kind, "normal"),
        retry=retry,
        tags=("posting", problem.kind),
    )
