"""Name → function registries filled by decorators (periodic jobs, resume callbacks, retry actions)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

F = TypeVar("F", bound=Callable)


def registering(store: dict[str, F], name: str) -> Callable[[F], F]:
    """A decorator that files the function it decorates under `name` in `store` and returns it unchanged."""

    def register(func: F) -> F:
        store[name] = func
        return func

    return register
