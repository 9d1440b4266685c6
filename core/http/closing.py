"""`with` support for what holds an HTTP connection pool (the vendor client, an ERP adapter).

Kept apart from `client` so an interface module can use it without importing the client."""

from __future__ import annotations

import abc
from typing import Self


class ClosedOnExit(abc.ABC):
    """Leaving a `with` block calls `close()`, which the class defines."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the connection pool."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
