"""OpenTelemetry is on only with an OTLP endpoint, and free without one (core/telemetry.py)."""

import os
import subprocess
import sys

import pytest
from django.conf import settings
from opentelemetry.instrumentation.django import DjangoInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from core.telemetry import telemetry_configure, telemetry_shutdown

DUMMY_ENDPOINT = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}  # nothing listens: the test exports in memory


@pytest.fixture
def traced():
    exporter = InMemorySpanExporter()
    provider = telemetry_configure(service_name="tillbridge-test", environ=DUMMY_ENDPOINT, exporter=exporter)
    yield provider, exporter
    telemetry_shutdown()


def test_with_an_endpoint_a_request_produces_a_server_span(traced, host_client, world):
    provider, exporter = traced
    assert DjangoInstrumentor().is_instrumented_by_opentelemetry
    assert PsycopgInstrumentor().is_instrumented_by_opentelemetry
    assert HTTPXClientInstrumentor().is_instrumented_by_opentelemetry
    status = host_client(world.host(world.acme)).get("/healthz").status_code  # 503: no worker heartbeat here
    provider.force_flush()
    servers = [span for span in exporter.get_finished_spans() if span.kind == SpanKind.SERVER]
    assert [span.name for span in servers] == ["GET healthz"]
    assert servers[0].attributes["http.status_code"] == status
    assert servers[0].resource.attributes["service.name"] == "tillbridge-test"


def test_the_instrumentation_is_removed_again(traced):
    telemetry_shutdown()
    assert not DjangoInstrumentor().is_instrumented_by_opentelemetry
    assert not any("opentelemetry" in middleware for middleware in settings.MIDDLEWARE)


def test_without_an_endpoint_nothing_is_instrumented():
    assert telemetry_configure(environ={}) is None
    assert not DjangoInstrumentor().is_instrumented_by_opentelemetry
    assert not PsycopgInstrumentor().is_instrumented_by_opentelemetry
    assert not any("opentelemetry" in middleware for middleware in settings.MIDDLEWARE)


def test_without_an_endpoint_the_portal_starts_without_importing_opentelemetry():
    environ = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}
    # redis-py imports opentelemetry's API and metrics SDK for its own (off by default) observability:
    # what tracing would add is the instrumentation, the exporter and the trace SDK.
    ours = ("opentelemetry.instrumentation", "opentelemetry.exporter", "opentelemetry.sdk.trace")
    script = f"import django, sys; django.setup(); print(sorted(m for m in sys.modules if m.startswith({ours!r})))"
    result = subprocess.run(
        [sys.executable, "-c", script],
        env={**environ, "DJANGO_SETTINGS_MODULE": "portal.settings.test"},
        capture_output=True,
        text=True,
        check=True,
        cwd=settings.BASE_DIR,
        timeout=120,
    )
    assert result.stdout.strip().splitlines()[-1] == "[]"
