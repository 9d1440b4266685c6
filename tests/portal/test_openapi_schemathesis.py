"""Property-based contract test of the whole /api/v1 schema with schemathesis, in process.

The schema is loaded from the Django WSGI app itself; every operation gets generated requests
(valid ones, then invalid ones) sent with a partner key holding every scope, on the partner
console host and on one of its tenants' hosts (where partner endpoints answer 404). Any 5xx,
undocumented status, wrong content type or response that breaks its schema fails the test."""

from __future__ import annotations

from collections import Counter

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tenants import webhooks

EXAMPLES = {GenerationMode.POSITIVE: 15, GenerationMode.NEGATIVE: 10}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture
def wsgi_app(monkeypatch, settings):
    # The app runs in this thread, inside the test transaction: keep Django from closing the
    # connection between requests (what django.test.Client does too).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    settings.API_RATE_PER_KEY = 100_000
    settings.API_RATE_PER_TENANT = 100_000
    # Generated webhook URLs must not send DNS queries from the test run.
    monkeypatch.setattr(webhooks, "_resolve", lambda host: ["93.184.216.34"])
    yield get_wsgi_application()
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.mark.parametrize("host", ["northwind.localhost", "acme.northwind.localhost"])
def test_every_operation_honours_its_schema(world, make_key, wsgi_app, host):
    key = make_key(scopes=["read", "write", "admin"])
    schema = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", wsgi_app)
    headers = {"Authorization": f"Bearer {key}", "Host": host}
    operations = [result.ok() for result in schema.get_all_operations()]
    statuses: Counter[int] = Counter()
    calls = 0
    for operation in operations:
        for mode, examples in EXAMPLES.items():

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=examples,
                deadline=None,
                database=None,
                # The same examples on every run, so CI is reproducible; new shapes come with new code.
                derandomize=True,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            def run(case) -> None:
                nonlocal calls
                response = case.call_and_validate(base_url=f"http://{host}", headers=headers, checks=CHECKS)
                statuses[response.status_code] += 1
                calls += 1

            run()
    summary = dict(sorted(statuses.items()))
    print(f"schemathesis on {host}: {len(operations)} operations, {calls} calls, statuses {summary}")
    assert len(operations) >= 21
    assert not any(status >= 500 for status in statuses)
    assert statuses[200] > 0 and statuses[404] > 0
