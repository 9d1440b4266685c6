"""How a posting `Problem` reads in the exception inbox (DESIGN.md §5). Raise it with the one
service: `exception_raise(**problem_fields(problem), obj=..., title=..., retry=...)`."""

from __future__ import annotations

from typing import Any

from posting.builders import Problem

KINDS = {"unmapped": "mapping", "reconciliation_difference": "reconciliation", "payout_suspense": "reconciliation"}


def problem_fields(problem: Problem) -> dict[str, Any]:
    """The triage kind, cause, detail, context and tags of a posting problem."""
    context = {"role": problem.role, "conditions": dict(problem.conditions)} if problem.role else {}
    return {
        "kind": KINDS.get(problem.kind, "posting"),
        "cause": problem.kind,
        "detail": problem.message,
        "context": context,
        "tags": ("posting", problem.kind),
    }
