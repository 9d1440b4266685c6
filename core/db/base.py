"""django-tenants' backend, able to skip the `SET search_path` it issues before every cursor while
a schema is provably still in force (DESIGN.md §3, §10).

django-tenants sends `SET search_path` on every cursor (TENANT_LIMIT_SET_CALLS stays off: a SET
issued inside a transaction that is later rolled back is undone, and a cache that trusts it leaks
another tenant's rows). Batch work instead pins the schema once with `search_path_pinned()`: the
SET is then issued in autocommit mode, outside any transaction, where no rollback can undo it.
While the pin holds, a cursor whose search path equals the pinned one issues no SET. The pin is
forgotten on any rollback (of a transaction or a savepoint), on a SET issued inside a transaction
(its effect after the transaction depends on how it ends), on a SET that failed, and when the
connection closes or reconnects; the next cursor then issues its SET as django-tenants always did.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import DEFAULT_DB_ALIAS, connections
from django.utils.asyncio import async_unsafe
from django_tenants.postgresql_backend import base as tenants_base


class DatabaseWrapper(tenants_base.DatabaseWrapper):
    def __init__(self, *args, **kwargs) -> None:
        self.pinning = False  # inside search_path_pinned(): a SET in autocommit mode is remembered
        self.pinned_search_path: list[str] | None = None  # the path known to be in force on the session
        super().__init__(*args, **kwargs)

    def pin_forget(self) -> None:
        self.pinned_search_path = None

    def connect(self) -> None:
        self.pin_forget()
        super().connect()

    def close(self) -> None:
        self.pin_forget()
        super().close()

    @async_unsafe
    def rollback(self) -> None:
        self.pin_forget()
        super().rollback()

    @async_unsafe
    def savepoint_rollback(self, sid) -> None:
        self.pin_forget()
        try:
            super().savepoint_rollback(sid)
        finally:
            self.pin_forget()

    def _handle_search_path(self, cursor=None) -> None:
        if self._setting_search_path:
            return
        if (
            self.pinned_search_path is not None
            and self.schema_name
            and self._get_cursor_search_paths() == self.pinned_search_path
        ):
            return  # set outside any transaction and nothing since could have changed it
        super()._handle_search_path(cursor)
        issued = self.search_path_set_schemas
        if issued is not None and self.pinning and self.get_autocommit() and not self.in_atomic_block:
            self.pinned_search_path = list(issued)  # committed at once: no rollback can undo it
        else:
            self.pin_forget()  # failed, or inside a transaction: what stays in force is unknown


@contextmanager
def search_path_pinned(using: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """Issue the current schema's SET once, outside any transaction, and skip the identical SETs
    that follow until something could have changed it. The pin ends with the block (`finally`)."""
    connection = connections[using]
    if not isinstance(connection, DatabaseWrapper) or connection.in_atomic_block:
        yield  # another backend, or inside a transaction: no pin, every cursor sets its path
        return
    connection.pinning = True
    connection.pin_forget()
    try:
        connection.ensure_connection()
        yield
    finally:
        connection.pinning = False
        connection.pin_forget()
