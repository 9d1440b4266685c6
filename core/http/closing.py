"""`with` support for what holds an HTTP connection pool (the vendor client, an ERP adapter).

Kept apart from `client` so an interface module can use it without importing the client."""

from __future__ import annotations

from typing import Self


class ClosedOnExit:
    """Leaving a `with` block calls `close()`, which the class defines."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
