"""core/db/base.py: the search_path a batch pins once, and everything that unpins it (DESIGN.md §3, §10).
These tests run outside any transaction (committed mode, as a worker does), except the last."""

from __future__ import annotations

import pytest
from django.db import connection as db
from django.db import transaction
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context

from core.db.base import search_path_pinned


def _path() -> str:
    with db.cursor() as cursor:
        cursor.execute("SHOW search_path")
        return cursor.fetchone()[0]


def _sets(context: CaptureQueriesContext) -> list[str]:
    return [query["sql"] for query in context.captured_queries if query["sql"].startswith("SET search_path")]


@pytest.fixture
def committed(django_db_setup, django_db_blocker):
    from tests.conftest import _WORLD

    with django_db_blocker.unblock():
        db.close()  # a new session: nothing pinned or set by an earlier test
        yield _WORLD
        db.set_schema_to_public()
        db.close()


def test_a_pinned_schema_is_set_once_outside_any_transaction(committed):
    acme = committed.acme
    with tenant_context(acme), CaptureQueriesContext(db) as queries, search_path_pinned():
        paths = [_path() for _ in range(3)]
        with transaction.atomic():
            paths.append(_path())
    assert paths == [f"{acme.schema_name}, public"] * 4
    assert _sets(queries) == [f'SET search_path = "{acme.schema_name}","public"']


def test_a_rolled_back_batch_cannot_leave_another_tenants_search_path(committed):
    acme, bluebird = committed.acme, committed.bluebird
    with tenant_context(acme), search_path_pinned():
        assert _path() == f"{acme.schema_name}, public"
        with pytest.raises(RuntimeError), transaction.atomic():
            with tenant_context(bluebird):
                assert _path() == f"{bluebird.schema_name}, public"
            assert _path() == f"{acme.schema_name}, public"  # back to acme inside the transaction
            with tenant_context(bluebird):
                assert _path() == f"{bluebird.schema_name}, public"
                raise RuntimeError("the batch failed while on bluebird")
        # The SET of bluebird was undone with the transaction, and acme's is not trusted blindly.
        assert _path() == f"{acme.schema_name}, public"
        with tenant_context(bluebird):
            assert _path() == f"{bluebird.schema_name}, public"
        with transaction.atomic(), tenant_context(bluebird):
            assert _path() == f"{bluebird.schema_name}, public"  # committed this time
        assert _path() == f"{acme.schema_name}, public"


def test_a_rollback_a_close_or_another_schema_unpins(committed):
    acme, bluebird = committed.acme, committed.bluebird
    with tenant_context(acme), search_path_pinned():
        _path()
        assert db.pinned_search_path == [acme.schema_name, "public"]
        with transaction.atomic():
            _path()
            transaction.set_rollback(True)
        assert db.pinned_search_path is None
        _path()  # set again outside the transaction: pinned again
        assert db.pinned_search_path == [acme.schema_name, "public"]
        db.close()
        assert db.pinned_search_path is None
        _path()
        with tenant_context(bluebird):
            _path()
            assert db.pinned_search_path == [bluebird.schema_name, "public"]
    assert db.pinned_search_path is None  # the pin ends with the block
    with CaptureQueriesContext(db) as queries:
        _path()
        _path()
    assert len(_sets(queries)) == 2  # outside a pin, django-tenants' SET before every cursor


def test_inside_a_transaction_nothing_is_pinned(world):
    with tenant_context(world.acme), CaptureQueriesContext(db) as queries, search_path_pinned():
        _path()
        _path()
    assert len(_sets(queries)) == 2
