"""Per-request context (request id, client IP, acting key) shared by logs and the audit log, and the
trace id that follows one event from its webhook to the ERP's acknowledgement (issue 18)."""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import structlog

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
client_ip_var: ContextVar[str | None] = ContextVar("client_ip", default=None)
trace_id_var: ContextVar[str | None] = ContextVar("trace_id", default=None)


def trace_bind(trace_id: str | None = None) -> str:
    """Make `trace_id` (a new one when empty) the current trace: every structlog line from here on
    carries it, and what is created here (an inbound event, a journal entry) stores it. The web's
    request middleware and the worker's task start clear it, so it never leaks into the next one."""
    trace_id = trace_id or uuid.uuid4().hex
    trace_id_var.set(trace_id)
    structlog.contextvars.bind_contextvars(trace_id=trace_id)
    return trace_id


@contextmanager
def trace_restored() -> Iterator[None]:
    """Run a block that binds a trace of its own (one event of many in a sync step, a seed, a
    sweep) and put the caller's trace back afterwards, so later lines do not carry the block's."""
    previous = trace_id_var.get()
    try:
        yield
    finally:
        trace_id_var.set(previous)
        if previous:
            structlog.contextvars.bind_contextvars(trace_id=previous)
        else:
            structlog.contextvars.unbind_contextvars("trace_id")


def trace_id_current() -> str:
    return trace_id_var.get() or ""


def context_clear() -> None:
    """Forget everything bound to the logs and the trace (a new request or task starts)."""
    trace_id_var.set(None)
    structlog.contextvars.clear_contextvars()
