"""Retry actions by name: other apps register what "retry" means for their failures.

    @retry_action("posting.order")
    def _retry(order_id: int, payload: dict | None = None) -> None: ...

An action is called with the occurrence's stored arguments as keyword arguments (plus `payload`
when a person edited the payload, for actions that declare it). It must be idempotent and raise
on failure; returning normally means the object now succeeded.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from core.registry import registering

_ACTIONS: dict[str, Callable[..., Any]] = {}


@dataclass(frozen=True)
class RetryAction:
    name: str
    args: dict[str, Any] = field(default_factory=dict)


def retry_action(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return registering(_ACTIONS, name)


def retry_action_get(name: str) -> Callable[..., Any] | None:
    return _ACTIONS.get(name)


def retry_action_accepts_payload(name: str) -> bool:
    func = _ACTIONS.get(name)
    return func is not None and "payload" in inspect.signature(func).parameters


def retry_action_names() -> list[str]:
    return sorted(_ACTIONS)
