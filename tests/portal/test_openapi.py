"""The /api/v1 OpenAPI schema is clean for both URL confs (tenant hosts and partner/operator hosts):
drf-spectacular validates it with warnings as failures, and every operation carries a summary and
a description of its own, never a base class's docstring (core.api.schema)."""

from __future__ import annotations

import inspect
from collections import Counter

import pytest
from django.core.management import call_command
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator

from core.api import views as api_views

URLCONFS = ["portal.urls_tenant", "portal.urls_public"]
METHODS = ("get", "put", "post", "patch", "delete")


def _operations(urlconf: str) -> list[tuple[str, str, dict]]:
    schema = SchemaGenerator(urlconf=urlconf).get_schema(request=None, public=True)
    return [
        (path, method, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


@pytest.mark.parametrize("urlconf", URLCONFS)
def test_schema_validates_without_warnings(urlconf, tmp_path):
    GENERATOR_STATS.reset()  # a warning emitted earlier in the run would be cached, not re-emitted
    call_command("spectacular", "--validate", "--fail-on-warn", "--urlconf", urlconf, "--file", tmp_path / "s.yaml")
    assert not GENERATOR_STATS
    assert "operationId" in (tmp_path / "s.yaml").read_text()


@pytest.mark.parametrize("urlconf", URLCONFS)
def test_every_operation_has_a_summary_and_a_description_of_its_own(urlconf):
    operations = _operations(urlconf)
    base_docs = {
        inspect.cleandoc(cls.__doc__)
        for cls in vars(api_views).values()
        if inspect.isclass(cls) and cls.__module__ == api_views.__name__ and cls.__doc__
    }
    descriptions = Counter(operation.get("description", "") for _, _, operation in operations)
    assert len(operations) >= 100
    assert [f"{m} {p}" for p, m, op in operations if not op.get("summary")] == []
    assert [f"{m} {p}" for p, m, op in operations if not op.get("description")] == []
    assert [d for d, count in descriptions.items() if count > 1] == []
    assert [d for d in descriptions if d in base_docs] == []


@pytest.mark.parametrize("urlconf", URLCONFS)
def test_main_operations_carry_examples(urlconf):
    by_id = {operation["operationId"]: operation for _, _, operation in _operations(urlconf)}
    main = [
        "journals_list",
        "connections_list",
        "connections_create",
        "exceptions_list",
        "orders_list",
        "orders_retrieve",
    ]
    assert [name for name in main if "examples" not in str(by_id[name])] == []
