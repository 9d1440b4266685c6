"""The one way connectors report a failure into the exception inbox (DESIGN.md §5)."""

from __future__ import annotations

from typing import Any

import structlog
from django.db import models

from triage.retry import RetryAction
from triage.services import exception_raise, exception_resolve_for_object

log = structlog.get_logger(__name__)

SEVERITY = {
    "auth": "high",
    "dead_letter": "high",
    "unsafe_url": "high",
    "token_refresh": "high",
    "normalise": "normal",
    "invalid_document": "normal",
    "dependency_missing": "normal",
    "rate_limited": "normal",
    "timeout": "normal",
    "vendor_unavailable": "normal",
    "bad_response": "normal",
    "validation": "normal",
    "sync_failed": "normal",
    "unknown_topic": "low",
}


def connector_problem_raise(
    *,
    kind: str,
    cause: str,
    obj: models.Model | None,
    title: str,
    detail: str,
    context: dict[str, Any] | None = None,
    retry_name: str | None = None,
    retry_args: dict[str, Any] | None = None,
    payload: Any = None,
) -> Any:
    """Log the problem and raise it into triage (kind `sync` or `normalise`), raw payload attached."""
    log.warning("connectors.problem", kind=kind, cause=cause, title=title, detail=detail)
    return exception_raise(
        kind=kind,
        cause=cause,
        obj=obj,
        title=title,
        detail=detail,
        context=context or {},
        severity=SEVERITY.get(cause, "normal"),
        retry=RetryAction(retry_name, retry_args or {}) if retry_name else None,
        tags=("connectors", cause),
        payload=payload,
    )


def connector_problem_resolved(*, obj: models.Model, reason: str) -> int:
    return exception_resolve_for_object(obj=obj, reason=reason)
