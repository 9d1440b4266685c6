"""How ERP problems reach the exception inbox (DESIGN.md §5): one call per failure, carrying the
ERP's own words, how to fix it, and the action that retries it."""

from __future__ import annotations

from typing import Any

import structlog
from django.db import models

from triage.retry import RetryAction
from triage.services import exception_raise

log = structlog.get_logger(__name__)

# ErpError kind (or chart cause) → triage fix class: what a person has to do about it.
FIX_CLASSES = {
    "reconnect_required": "connection_auth",
    "auth_expired": "connection_auth",
    "rate_limited": "rate_limit",
    "bad_response": "parse",
    "unknown_account": "mapping",
    "account_deactivated": "mapping",
    "closed_period": "business_rule",
    "validation": "value",
}


def erp_problem_raise(
    *,
    kind: str,
    cause: str,
    obj: models.Model | None,
    title: str,
    detail: str,
    context: dict[str, Any] | None = None,
    severity: str = "normal",
    retry_name: str | None = None,
    retry_args: dict[str, Any] | None = None,
) -> Any:
    log.warning("erp.problem", kind=kind, cause=cause, title=title, detail=detail, **(context or {}))
    return exception_raise(
        kind=kind,
        cause=cause,
        obj=obj,
        title=title,
        detail=detail,
        context=context or {},
        severity=severity,
        fix_class=FIX_CLASSES.get(cause),
        retry=RetryAction(retry_name, retry_args or {}) if retry_name else None,
        tags=("erp", cause),
    )
