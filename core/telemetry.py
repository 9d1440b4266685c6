"""OpenTelemetry tracing (issue 18): Django requests, Celery tasks, psycopg queries and httpx calls,
exported over OTLP/HTTP — only when `OTEL_EXPORTER_OTLP_ENDPOINT` is set.

Unset, `telemetry_configure` returns at once: no OpenTelemetry module is imported, no middleware
inserted, no library patched, so a deployment without a collector pays nothing. That is why the
imports below sit inside the function. Set, the standard variables configure the rest
(`OTEL_SERVICE_NAME`, `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_TRACES_SAMPLER`, ...), read by the SDK
and the exporter themselves.

It runs once per process from `PortalConfig.ready()`, before the web loads its middleware and
before the Celery worker forks its children (the SDK's batch processor restarts its export thread
in each child)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

ENDPOINT_VARIABLE = "OTEL_EXPORTER_OTLP_ENDPOINT"

_state: dict[str, Any] = {}


def telemetry_enabled(environ: Mapping[str, str] = os.environ) -> bool:
    return bool(environ.get(ENDPOINT_VARIABLE, "").strip())


def _instrumentors() -> list:
    from opentelemetry.instrumentation.celery import CeleryInstrumentor  # import here: only when tracing is on
    from opentelemetry.instrumentation.django import DjangoInstrumentor  # import here: only when tracing is on
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor  # import here: only when tracing is on
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor  # import here: only when tracing is on

    return [DjangoInstrumentor(), CeleryInstrumentor(), PsycopgInstrumentor(), HTTPXClientInstrumentor()]


def telemetry_configure(*, service_name: str = "tillbridge", environ: Mapping[str, str] = os.environ, exporter=None):
    """Instrument this process and export its spans; returns the tracer provider, or None when no
    endpoint is configured. `exporter` replaces the OTLP exporter (tests pass an in-memory one)."""
    if not telemetry_enabled(environ):
        return None
    if "provider" in _state:
        return _state["provider"]
    from opentelemetry import trace  # import here: only when tracing is on
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter  # import here: as above
    from opentelemetry.sdk.resources import Resource  # import here: only when tracing is on
    from opentelemetry.sdk.trace import TracerProvider  # import here: only when tracing is on
    from opentelemetry.sdk.trace.export import BatchSpanProcessor  # import here: only when tracing is on

    resource = Resource.create({"service.name": environ.get("OTEL_SERVICE_NAME") or service_name})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(exporter or OTLPSpanExporter()))
    instrumentors = _instrumentors()
    for instrumentor in instrumentors:
        instrumentor.instrument(tracer_provider=provider)
    trace.set_tracer_provider(provider)
    _state.update(provider=provider, instrumentors=instrumentors)
    return provider


def telemetry_shutdown() -> None:
    """Undo `telemetry_configure` (tests): remove the instrumentation, flush and stop the exporter."""
    for instrumentor in _state.pop("instrumentors", []):
        instrumentor.uninstrument()
    provider = _state.pop("provider", None)
    if provider is not None:
        provider.shutdown()
